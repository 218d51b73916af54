"""`make bench`: run every benchmark at its documented default size, one after another.

Each script prints its own figures; copy them into ``benchmarks/README.md`` with the
machine and load they ran under. Minutes to an hour on a 2-core machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ["bench_synthetic.py", "--loans", "1000000"],
    ["bench_episodes.py", "--loans", "1000000"],
    ["bench_effects.py"],
    ["bench_targeting.py"],
    ["bench_report.py"],
    ["bench_scale.py", "run"],
]

if __name__ == "__main__":
    failed = 0
    for script, *args in SCRIPTS:
        print(f"== {script} {' '.join(args)}", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0
    sys.exit(1 if failed else 0)
