# kubectl-ascend — the Makefile is a table of contents; the work is in hack/.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(shell hack/tools.sh path):$(PATH)

.DEFAULT_GOAL := help

## help: list the targets
help:
	@awk '/^## /{sub(/^## /,""); split($$0,a,": "); printf "  %-14s %s\n", a[1], a[2]}' $(MAKEFILE_LIST)

## dev: create .venv and install the plugin (editable) with test dependencies
dev:
	@hack/dev.sh $(VENV)

## tools: build the pinned toolchain (helm, helm-docs, kwok, etcd, Kubernetes, Volcano, containerd 2.x) into the cache; apt-get containerd 1.x and openssl when missing
tools:
	@hack/tools.sh all

## cluster-up: start the local simulated Ascend cluster and switch kubectl to it (ARGS="--nodes 1000", "--layout single", "--bare")
cluster-up: dev
	@hack/cluster.sh up --merge-kubeconfig $(ARGS)

## cluster-down: stop the local cluster, remove its files and its kubeconfig context (also after a crash)
cluster-down:
	@hack/cluster.sh down

## demo: the main job end to end on a local simulated cluster
demo: dev tools
	@hack/demo.sh

## test: unit, chart and e2e tests (starts and stops its own local clusters; a missing tool fails, never skips)
test: dev tools
	@ASCEND_TEST_STRICT=1 hack/test.sh

## unit: unit, chart and contract tests: no cluster, builds only helm (ARGS="-k name" to narrow)
unit: dev
	@hack/tools.sh helm && hack/test.sh -m "not e2e" tests/unit tests/chart tests/contract $(ARGS)

## conformance: PD and ClusterD-mode e2e tests against Huawei's real Ascend Operator and ClusterD (MIND_CLUSTER_SRC=mind-cluster checkout or mirror)
conformance: dev
	@hack/conformance.sh $(ARGS)

## verify: ruff, shellcheck, mypy, helm lint of every chart, chart READMEs current (needs only helm, helm-docs, the venv)
verify: dev
	@hack/verify.sh

## lint: helm lint --strict on every chart and mypy on the package
lint: dev
	@hack/tools.sh helm && hack/lint.sh

## chart-deps: package every chart's file:// dependencies (ascend-common into the components, they into the umbrella) for helm install from the checkout
chart-deps: dev
	@hack/tools.sh helm && hack/chart-deps.sh

## docs: regenerate the values table of every chart README from its values.yaml (helm-docs) and ascend-common's _facts.tpl from its facts/*.json
docs:
	@hack/tools.sh helm-docs && hack/docs.sh

## bench: benchmarks against kubectl / kubeadm / helm on the local cluster
bench: dev tools
	@hack/bench.sh

## dist: krew archives (plugin + dependency wheels, per platform) and dist/ascend.yaml with their sha256 (ARGS="--platforms host --pythons current")
dist: dev
	@hack/dist.sh $(ARGS)

.PHONY: chart-deps conformance dist help dev tools cluster-up cluster-down demo test unit verify lint docs bench
