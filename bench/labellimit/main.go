// Command labellimit is the "API server's own limit" for `kubectl ascend label-node --all`.
//
// It does the same API work as label-node with client-go: one paginated LIST of
// the nodes (pages of 500, like label-node), then one JSON merge-patch per node
// of exactly the labels given on the command line, sent by --workers goroutines.
// client-go's client-side rate limiter is switched off (QPS < 0), so only the
// API server (and etcd behind it) bounds the rate. It prints its wall time.
//
// Usage: labellimit --kubeconfig FILE [--workers 64] [--selector SELECTOR] KEY=VALUE...
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// pageSize matches kubectl_ascend.kube.PAGE_SIZE (and kubectl's --chunk-size default).
const pageSize = 500

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file (required)")
	workers := flag.Int("workers", 64, "concurrent PATCH requests (label-node's --workers)")
	selector := flag.String("selector", "", "label selector for the LIST (empty: all nodes, like --all)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: labellimit --kubeconfig FILE [--workers N] [--selector S] KEY=VALUE...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	labels, err := parseLabels(flag.Args())
	if err != nil || *kubeconfig == "" || *workers < 1 {
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
		}
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*kubeconfig, *workers, *selector, labels); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func parseLabels(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("no labels given (KEY=VALUE...)")
	}
	out := make(map[string]string, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q is not KEY=VALUE", a)
		}
		out[k] = v
	}
	return out, nil
}

func run(kubeconfig string, workers int, selector string, labels map[string]string) error {
	start := time.Now()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	// A negative QPS disables client-go's token-bucket rate limiter (default 5 QPS / burst 10),
	// so the limit measured is the API server's, not the client's.
	cfg.QPS = -1
	cfg.Burst = 0
	cfg.UserAgent = "labellimit"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	ctx := context.Background()

	var names []string
	opts := metav1.ListOptions{LabelSelector: selector, Limit: pageSize}
	for {
		page, err := cs.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return fmt.Errorf("list nodes: %w", err)
		}
		for i := range page.Items {
			names = append(names, page.Items[i].Name)
		}
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}
	listed := time.Since(start)

	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
	if err != nil {
		return err
	}
	jobs := make(chan string)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range jobs {
				if _, err := cs.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("label node %s: %v", name, err))
				}
			}
		}()
	}
	for _, n := range names {
		jobs <- n
	}
	close(jobs)
	wg.Wait()
	total := time.Since(start)
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d patches failed, first: %v", n, len(names), firstErr.Load())
	}
	fmt.Printf("labelled %d nodes with %d workers in %.3f s (list %.3f s)\n",
		len(names), workers, total.Seconds(), listed.Seconds())
	return nil
}
