"""Run every benchmark under bench/, one after another, and say which targets were missed.

Each benchmark is a script that prints a Markdown table and exits non-zero when it misses its
target. Extra arguments after `--` go to every script (e.g. `-- --runs 3`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = ("bench_plan.py", "bench_new.py", "bench_project_tests.py", "bench_fleet.py", "bench_e2e.py")


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    missed = []
    for script in BENCHMARKS:
        print(f"\n## {script}\n", flush=True)
        if subprocess.run([sys.executable, str(here / script), *argv], check=False).returncode != 0:
            missed.append(script)
    print("\nall targets met" if not missed else f"\ntargets missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
