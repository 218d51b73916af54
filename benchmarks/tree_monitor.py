"""Sample the memory of a process tree by role, for the scale benchmark's notes.

``.venv/bin/python benchmarks/tree_monitor.py PID OUT.csv [--every 2]`` writes one row per
sample: time, 1-minute load average, RSS in GiB of the root, of each role
(``dask-worker`` processes, ``scheduler``/nanny, notebook ``kernel``s, other) and their
sum, until PID exits. Roles are read from the command lines (a LocalCluster's workers are
spawned ``multiprocessing`` children of nannies; kernels are ``ipykernel_launcher``).
It gives the per-worker peak that ``docs/dask.md`` quotes (memory per worker per million
loans), which the tree total of ``bench_scale.measure`` cannot separate.
"""

from __future__ import annotations

import argparse
import csv
import os
import time

import psutil


def _role(p: psutil.Process, worker_pids: set[int]) -> str:
    try:
        cmd = " ".join(p.cmdline())
    except psutil.Error:
        return "other"
    if "ipykernel" in cmd:
        return "kernel"
    if p.pid in worker_pids:
        return "worker"
    if "multiprocessing" in cmd or "spawn_main" in cmd:
        return "dask"
    return "other"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pid", type=int)
    ap.add_argument("out")
    ap.add_argument("--every", type=float, default=2.0)
    a = ap.parse_args()
    root = psutil.Process(a.pid)
    with open(a.out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t", "load1", "root_gib", "worker_max_gib", "n_workers", "dask_other_gib",
                    "kernel_gib", "other_gib", "total_gib"])
        t0 = time.time()
        while root.is_running():
            try:
                procs = root.children(recursive=True)
            except psutil.Error:
                break
            rss = {}
            for p in procs:
                try:
                    rss[p.pid] = p.memory_info().rss / 1024**3
                except psutil.Error:
                    pass
            # workers: spawned children of nannies (leaves of the multiprocessing chain)
            mp = [p for p in procs if p.pid in rss and _role(p, set()) == "dask"]
            workers = {p.pid for p in mp if not any(c.pid in rss for c in _kids(p))}
            roles: dict[str, list[float]] = {}
            for p in procs:
                if p.pid in rss:
                    roles.setdefault(_role(p, workers), []).append(rss[p.pid])
            try:
                root_gib = root.memory_info().rss / 1024**3
            except psutil.Error:
                break
            wk = roles.get("worker", [])
            w.writerow([round(time.time() - t0, 1), os.getloadavg()[0], round(root_gib, 3),
                        round(max(wk), 3) if wk else 0, len(wk),
                        round(sum(roles.get("dask", [])), 3), round(sum(roles.get("kernel", [])), 3),
                        round(sum(roles.get("other", [])), 3),
                        round(root_gib + sum(rss.values()), 3)])
            fh.flush()
            time.sleep(a.every)
    return 0


def _kids(p: psutil.Process) -> list[psutil.Process]:
    try:
        return p.children()
    except psutil.Error:
        return []


if __name__ == "__main__":
    raise SystemExit(main())
