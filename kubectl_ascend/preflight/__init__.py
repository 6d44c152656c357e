"""kubectl ascend preflight: per-node checks of the Ascend driver, NPUs and parameter-plane network.

- `agent.py`: the script that runs inside the per-node pod (stdlib only) and prints one JSON
  document of raw tool outputs;
- `parsers.py`: pure parsers of `npu-smi` / `hccn_tool` output, `/etc/hccn.conf`, the driver's
  `version.info`;
- `compat.py`: the driver <-> CANN compatibility table and version order;
- `rules.py`: the verdicts (PASS / WARN / FAIL with what and fix) from parsed facts;
- `run.py`: the pods (create, wait, read, delete) through the Kubernetes door.
"""
