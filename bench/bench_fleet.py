"""Benchmark `mlops-forge fleet update` against the sequential loop people write by hand.

Builds a two-version template of about twenty files (a realistic generated ML project: package,
tests, CI workflows, infrastructure program, configs), generates N projects from v1.0.0, each with
a committed user edit, then measures side by side, in one run, on separate copies of the same
projects (half the loop, then the fleet, then the loop's other half, so that a drifting machine
load weighs on both sides of the ratio alike):

  (a) a sequential shell loop: `git checkout -b` + `copier update --trust --defaults` + `git commit`
  (b) `mlops-forge fleet update --jobs 2`

and the cost of a repository that is already current. Prints a markdown table.

    .venv/bin/python bench/bench_fleet.py                  # 10 and 50 repositories (a few minutes)
    .venv/bin/python bench/bench_fleet.py --sizes 10,50,200 --compare 50
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The fleet tests' git helpers: one implementation of "write these files, commit, tag".
sys.path.insert(0, str(REPO_ROOT / "tests" / "fleet"))
from fleet_repos import commit_all, write_tree  # noqa: E402
from fleet_repos import run_git as git  # noqa: E402

BIN = Path(sys.executable).parent
MLOPS_FORGE = [sys.executable, "-m", "generator"]

COPIER_YML = """\
_subdirectory: project
_answers_file: .copier-answers.yml
project_name:
  type: str
  help: Project name
  default: churn-model
package:
  type: str
  help: Python package name
  default: "{{ project_name | replace('-', '_') }}"
"""

V1 = {
    "copier.yml": COPIER_YML,
    "project/{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers | to_nice_yaml }}",
    "project/README.md.jinja": "# {{ project_name }}\n\nTrain, evaluate and deploy {{ project_name }}.\n\n"
    "## Usage\n\n    make setup\n    make test\n",
    "project/pyproject.toml.jinja": '[project]\nname = "{{ project_name }}"\nversion = "0.1.0"\n'
    'requires-python = ">=3.11"\ndependencies = ["scikit-learn~=1.5", "pandas>=2.2"]\n',
    "project/Makefile": "setup:\n\tpython -m venv .venv\n\ntest:\n\t.venv/bin/pytest\n",
    "project/.gitignore": ".venv/\n__pycache__/\n*.pyc\n",
    "project/CHANGELOG.md": "# Changelog\n",
    "project/src/{{ package }}/__init__.py.jinja": '"""{{ project_name }}."""\n',
    "project/src/{{ package }}/data.py": "def load(path):\n    import pandas as pd\n\n    return pd.read_csv(path)\n",
    "project/src/{{ package }}/train.py": "def train(frame):\n    from sklearn.linear_model import "
    "LogisticRegression\n\n    model = LogisticRegression(max_iter=100)\n    return model\n",
    "project/src/{{ package }}/score.py": "def score(model, frame):\n    return model.predict(frame)\n",
    "project/tests/test_data.py": "def test_placeholder():\n    assert True\n",
    "project/tests/test_train.py": "def test_train():\n    assert True\n",
    "project/configs/train.yaml": "max_iter: 100\nseed: 42\ntest_size: 0.2\n",
    "project/.github/workflows/ci.yml": "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
    "    steps:\n      - uses: actions/checkout@v4\n      - run: make setup test\n",
    "project/.github/workflows/template-update.yml": "name: template-update\non:\n  schedule:\n"
    "    - cron: '0 6 * * 1'\njobs:\n  update:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - uses: actions/checkout@v4\n      - run: mlops-forge fleet update . --push --pr\n",
    "project/infra/Pulumi.yaml.jinja": "name: {{ project_name }}\nruntime: python\n",
    "project/infra/Pulumi.dev.yaml.jinja": "config:\n  forge:project: {{ project_name }}\n"
    "  azure-native:location: westeurope\n",
    "project/infra/__main__.py": "import pulumi\n\npulumi.export('ok', True)\n",
    "project/docs/index.md": "# Documentation\n",
    "project/.pre-commit-config.yaml": "repos: []\n",
}
V2 = {
    **V1,
    "project/Makefile": "setup:\n\tpython -m venv .venv\n\t.venv/bin/pip install -e .\n\ntest:\n\t.venv/bin/pytest -q\n",
    "project/configs/train.yaml": "max_iter: 200\nseed: 42\ntest_size: 0.2\n",
    "project/.github/workflows/ci.yml": V1["project/.github/workflows/ci.yml"].replace("@v4", "@v5"),
    "project/tests/test_score.py": "def test_score():\n    assert True\n",
    "project/.pre-commit-config.yaml": None,
    "project/src/{{ package }}/score.py": "def score(model, frame):\n    return model.predict_proba(frame)\n",
}


def build_template(root: Path) -> Path:
    template = root / "template"
    template.mkdir(parents=True)
    git(template, "init", "--quiet", "-b", "main")
    for tag, files in (("v1.0.0", V1), ("v2.0.0", V2)):
        write_tree(template, files)
        commit_all(template, tag)
        git(template, "tag", tag)
    return template


def build_projects(template: Path, dest: Path, count: int, version: str = "v1.0.0") -> list[Path]:
    """`count` committed projects with a user edit each: one generated by copier, then copied."""
    import copier

    seed = dest / "seed"
    copier.run_copy(str(template), seed, vcs_ref=version, defaults=True, quiet=True)
    git(seed, "init", "--quiet", "-b", "main")
    commit_all(seed, "generated")
    with (seed / "README.md").open("a") as readme:
        readme.write("\n## Our notes\n\nThe model is retrained weekly.\n")
    commit_all(seed, "notes")
    projects = []
    for index in range(count):
        project = dest / f"project-{index:03d}"
        shutil.copytree(seed, project, symlinks=True)
        projects.append(project)
    shutil.rmtree(seed)
    return projects


SHELL_LOOP = """\
set -e
for d in "$@"; do
  cd "$d"
  git checkout -q -b template-update/v2.0.0
  copier update --trust --defaults --quiet --vcs-ref v2.0.0 >/dev/null 2>&1
  git add -A
  git commit -q -m "Update template to v2.0.0"
  cd - >/dev/null
done
"""


def time_shell_loop(projects: list[Path]) -> float:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    subprocess.run(["bash", "-c", SHELL_LOOP, "loop", *map(str, projects)], check=True, env=env)
    return time.perf_counter() - start


# Runs a command and writes the peak resident memory of its largest process (KiB) to a file.
PEAK_RSS = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[2:]).returncode; "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(code)"
)


def time_fleet(projects: list[Path], jobs: int, work: Path) -> tuple[float, dict, int]:
    targets = work / "targets.txt"
    targets.write_text("".join(f"{p}\n" for p in projects))
    report = work / "report.json"
    start = time.perf_counter()
    command = [
        *MLOPS_FORGE,
        "fleet",
        "update",
        "--jobs",
        str(jobs),
        "--from",
        str(targets),
        "--report",
        str(report),
    ]
    rss = work / "peak-rss"
    wrapped = [sys.executable, "-c", PEAK_RSS, str(rss), *command]
    done = subprocess.run(wrapped, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"fleet update failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed, json.loads(report.read_text()), int(rss.read_text())


def check_loop_result(projects: list[Path]) -> None:
    for project in projects[:3]:
        answers = git(project, "show", "template-update/v2.0.0:.copier-answers.yml")
        assert "_commit: v2.0.0" in answers, answers


def _canned_run(standin: object, owner: str, name: str, bare: object, version: str) -> tuple[int, bytes]:
    """A runner's work, done instantly: the benchmark measures the dispatcher, not GitHub's runners."""
    entry = {
        "target": ".",
        "outcome": "updated",
        "from": "v1.0.0",
        "to": version,
        "branch": f"template-update/{version}",
        "conflicts": [],
        "seconds": 1.0,
        "error": None,
        "pushed": True,
        "pull_request": f"https://github.example/{owner}/{name}/pull/1",
    }
    return 0, json.dumps({"template": "gh:acme/template", "to": version, "repositories": [entry]}).encode()


def bench_dispatch(count: int, limit: int, window: float, pace: float) -> int:
    """`fleet update --via actions` over `count` repositories against the GitHub stand-in."""
    import contextlib
    import io

    from github_standin import GitHubStandIn

    from generator.cli import main as forge

    standin = GitHubStandIn().start()
    standin.run_step = _canned_run
    standin.runners = __import__("threading").Semaphore(64)
    standin.dispatch_limit = (limit, window)
    for index in range(count):
        standin.repos[("acme", f"repo-{index:04d}")] = Path("/nonexistent")
    os.environ.update(GITHUB_TOKEN="bench-token", GITHUB_API_URL=standin.url)
    targets = [f"https://github.com/acme/repo-{index:04d}" for index in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "targets.txt"
        listing.write_text("\n".join(targets))
        report = Path(tmp) / "r.json"
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = forge(
                [
                    "fleet",
                    "update",
                    "--via",
                    "actions",
                    "--to",
                    "v2.0.0",
                    "--poll",
                    "0.5",
                    "--github-pace",
                    str(pace),
                    "--from",
                    str(listing),
                    "--report",
                    str(report),
                ]
            )
        elapsed = time.perf_counter() - start
        outcomes = [r["outcome"] for r in json.loads(report.read_text())["repositories"]]
    standin.stop()
    dispatched = sorted(run["repo"] for run in standin.runs)
    once = len(dispatched) == len(set(dispatched)) == count
    print(
        f"| dispatch {count} repositories | {elapsed:.1f} s | {len(standin.requests)} API calls "
        f"| {standin.rate_limited} secondary-limit refusals waited out | each dispatched once: {once} "
        f"| all updated: {outcomes.count('updated') == count} | exit {code} |"
    )
    return 0 if once and code == 0 else 1


def bound(rounds: int) -> int:
    """The ceiling of the speed-up: per-repository costs measured in alternating rounds (so each
    sees the same machine load), and what 2 cores could make of them.

    L: one iteration of the shell loop (CLI start, `copier update`, three git commands);
    U: `copier.run_update` alone, in a process that has imported copier already;
    F: `fleet update`'s work on one repository (its report's `seconds`: update_one).
    With perfect parallelism on 2 cores the fleet's speed-up is at most 2L/F, and a fleet that
    calls copier's update per repository cannot beat 2L/U whatever it does around it.
    """
    import copier

    from generator.cli import main as forge

    with tempfile.TemporaryDirectory(prefix="bench-fleet-bound-") as tmp:
        root = Path(tmp)
        os.environ["COPIER_CACHE_DIR"] = str(root / "copier-cache")
        template = build_template(root)
        loop = build_projects(template, root / "loop", rounds)
        raw = build_projects(template, root / "raw", rounds)
        fleet = build_projects(template, root / "fleet", rounds + 1)
        # First, the imports a worker has done before its first repository.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            forge(["fleet", "update", "--jobs", "1", str(fleet[-1])])
        costs: dict[str, list[float]] = {"L": [], "U": [], "F": []}
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        for index in range(rounds):
            costs["L"].append(_timed_loop(loop[index], env))
            git(raw[index], "checkout", "-q", "-b", "template-update/v2.0.0")
            start = time.perf_counter()
            copier.run_update(raw[index], vcs_ref="v2.0.0", overwrite=True, defaults=True, quiet=True)
            costs["U"].append(time.perf_counter() - start)
            report = root / f"report-{index}.json"
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                forge(["fleet", "update", "--jobs", "1", "--report", str(report), str(fleet[index])])
            costs["F"].append(json.loads(report.read_text())["repositories"][0]["seconds"])
    loop_s, update_s, fleet_s = (statistics.median(costs[key]) for key in ("L", "U", "F"))
    print(f"| per repository (median of {rounds} alternating rounds) | seconds |")
    print("|---|---:|")
    print(f"| L: shell loop iteration (CLI start + copier update + 3 git commands) | {loop_s:.3f} |")
    print(f"| U: copier.run_update alone, copier already imported | {update_s:.3f} |")
    print(f"| F: fleet update of one repository (update_one) | {fleet_s:.3f} |")
    print(
        f"| F - U: the fleet's own work (lock, throwaway clone, conflict checks, commit) | {fleet_s - update_s:.3f} |"
    )
    print()
    print(f"Ceiling on 2 cores (perfect parallelism): 2L/F = {2 * loop_s / fleet_s:.2f}x; ")
    print(f"with a fleet that added nothing to copier's update: 2L/U = {2 * loop_s / update_s:.2f}x.")
    return 0


def _timed_loop(project: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(["bash", "-c", SHELL_LOOP, "loop", str(project)], check=True, env=env)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,50", help="fleet sizes to time (default: 10,50)")
    parser.add_argument("--compare", type=int, default=50, help="size timed side by side with the loop")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--current", type=int, default=50, help="already-current repositories to time")
    parser.add_argument("--dispatch", type=int, default=0, help="only time --via actions over N repositories")
    parser.add_argument(
        "--dispatch-limit", default="20/1", help="stand-in secondary limit: dispatches/seconds"
    )
    parser.add_argument(
        "--dispatch-pace", type=float, default=0.05, help="--github-pace for the dispatch run"
    )
    parser.add_argument(
        "--bound",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="only measure the per-repository costs that bound the speed-up (e.g. 10 rounds)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.invalid")
    os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@example.invalid")
    if args.bound:
        return bound(args.bound)
    if args.dispatch:
        limit, window = args.dispatch_limit.split("/")
        return bench_dispatch(args.dispatch, int(limit), float(window), args.dispatch_pace)
    # --compare 0: no loop (a large fleet alone); --current 0: no already-current run.
    sizes = sorted(
        {int(size) for size in args.sizes.split(",")} | ({args.compare} if args.compare else set())
    )

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        root = Path(tmp)
        os.environ["COPIER_CACHE_DIR"] = str(root / "copier-cache")
        template = build_template(root)
        ratio = None
        for size in sizes:
            work = root / f"n{size}"
            fleet_projects = build_projects(template, work / "fleet", size)
            loop_seconds = None
            compare = size == args.compare
            if compare:
                # Loop, fleet, loop (half the loop's repositories on each side): on a shared
                # machine whose load drifts, both sides of the ratio see the same load on average.
                loop_projects = build_projects(template, work / "loop", size)
                loop_seconds = time_shell_loop(loop_projects[: size // 2])
            fleet_seconds, report, peak_kib = time_fleet(fleet_projects, args.jobs, work)
            outcomes = {r["outcome"] for r in report["repositories"]}
            assert outcomes == {"updated"}, outcomes
            if compare:
                loop_seconds = (loop_seconds or 0.0) + time_shell_loop(loop_projects[size // 2 :])
                check_loop_result(loop_projects)
                ratio = loop_seconds / fleet_seconds
            rows.append((size, loop_seconds, fleet_seconds, peak_kib))
            print(f"  {size} repositories: fleet {fleet_seconds:.1f}s", file=sys.stderr, flush=True)
            shutil.rmtree(work)
        per_repo: list[float] = []
        current_seconds = 0.0
        if args.current:
            current = build_projects(template, root / "current", args.current, version="v2.0.0")
            current_seconds, report, _ = time_fleet(current, args.jobs, root)
            per_repo = [r["seconds"] for r in report["repositories"]]

    header = f"| repositories | sequential loop (s) | fleet update --jobs {args.jobs} (s) | speed-up | peak RSS (MiB) |"
    print(header)
    print("|---:|---:|---:|---:|---:|")
    for size, loop_seconds, fleet_seconds, peak_kib in rows:
        loop = f"{loop_seconds:.1f}" if loop_seconds else "-"
        speedup = f"{loop_seconds / fleet_seconds:.2f}x" if loop_seconds else "-"
        print(f"| {size} | {loop} | {fleet_seconds:.1f} | {speedup} | {peak_kib / 1024:.0f} |")
    print()
    if per_repo:
        print(
            f"Already current: {statistics.median(per_repo) * 1000:.0f} ms per repository (median, max "
            f"{max(per_repo) * 1000:.0f} ms); {args.current} current repositories took "
            f"{current_seconds:.1f}s in all, process start included."
        )
    ok = ratio is not None and ratio >= 3.5 and bool(per_repo) and statistics.median(per_repo) <= 0.1
    if args.compare and args.current:
        print(
            f"\nTargets (>= 3.5x at {args.compare}, <= 0.1 s per current repository): "
            + ("met" if ok else "NOT met")
        )
    else:
        print("\nNo loop or no already-current run: the targets were not measured.")
    return 0 if ok or not (args.compare and args.current) else 1


if __name__ == "__main__":
    sys.exit(main())
