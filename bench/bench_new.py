"""`mlops-forge new --defaults` against plain `copier copy --defaults` of the same template.

Target: new <= 1.2x copier. Both run as fresh processes (what a user runs), several times each,
and the medians are compared. Usage: python bench/bench_new.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET = 1.2


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(runs: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-new-"))
    try:
        copier_times, new_times = [], []
        for i in range(runs):
            copier_cmd = [
                str(BIN / "copier"),
                "copy",
                "--defaults",
                "--trust",
                "--quiet",
                "--vcs-ref",
                "HEAD",
            ]
            copier_times.append(timed([*copier_cmd, str(REPO), str(work / f"copier-{i}")]))
            new_cmd = [str(BIN / "mlops-forge"), "new", str(work / f"new-{i}"), "--defaults"]
            new_times.append(timed([*new_cmd, "--template", str(REPO), "--vcs-ref", "HEAD"]))
        return {
            "copier_copy_s": statistics.median(copier_times),
            "mlops_forge_new_s": statistics.median(new_times),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    result = measure(args.runs)
    ratio = result["mlops_forge_new_s"] / result["copier_copy_s"]
    print(f"copier copy --defaults:      {result['copier_copy_s']:.2f} s (median of {args.runs})")
    print(f"mlops-forge new --defaults:  {result['mlops_forge_new_s']:.2f} s (median of {args.runs})")
    print(f"ratio: {ratio:.2f}x (target <= {TARGET}x): {'ok' if ratio <= TARGET else 'TOO SLOW'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
