"""Benchmark: `mlops-forge plan --env all` of the example program, cold process (target <= 3 s).

Side by side in one run: the default (stacks planned in parallel workers) and `--jobs 1`
(one after another in one process). Prints a Markdown table; `--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "stacks" / "examples" / "ml-environment"
TARGET_SECONDS = 3.0


def cold_run(*extra: str) -> float:
    command = [sys.executable, "-m", "generator", "plan", str(EXAMPLE), "--env", "all", *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    cold_run()  # warm the OS file cache and bytecode, as a user's second run would be
    parallel, serial = [], []
    for _ in range(args.runs):  # interleaved, so both see the same machine load
        parallel.append(cold_run())
        serial.append(cold_run("--jobs", "1"))
    result = {
        "plan_all_median_s": round(statistics.median(parallel), 2),
        "plan_all_jobs1_median_s": round(statistics.median(serial), 2),
        "target_s": TARGET_SECONDS,
    }
    result["ratio_to_target"] = round(result["plan_all_median_s"] / TARGET_SECONDS, 2)
    result["speedup_vs_jobs1"] = round(result["plan_all_jobs1_median_s"] / result["plan_all_median_s"], 2)
    print("| measure | value |\n|---|---|")
    print(f"| `plan --env all`, cold process (median of {args.runs}) | {result['plan_all_median_s']} s |")
    print(f"| same with `--jobs 1` | {result['plan_all_jobs1_median_s']} s |")
    print(f"| ratio to the 3 s target | {result['ratio_to_target']} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["plan_all_median_s"] <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
