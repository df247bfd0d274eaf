"""Benchmark `mlops-forge fleet update` against the sequential loop people write by hand.

Builds a two-version template of about twenty files (a realistic generated ML project: package,
tests, CI workflows, infrastructure program, configs), generates N projects from v1.0.0, each with
a committed user edit, then measures side by side, in one run, on separate copies of the same
projects:

  (a) a sequential shell loop: `git checkout -b` + `copier update --trust --defaults` + `git commit`
  (b) `mlops-forge fleet update --jobs 2`

and the cost of a repository that is already current. Prints a markdown table.

    .venv/bin/python bench/bench_fleet.py                  # 10 and 50 repositories (a few minutes)
    .venv/bin/python bench/bench_fleet.py --sizes 10,50,200 --compare 50
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def write_tree(root: Path, files: dict[str, str | None]) -> None:
    for path, content in files.items():
        target = root / path
        if content is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)


def build_template(root: Path) -> Path:
    template = root / "template"
    template.mkdir(parents=True)
    git(template, "init", "--quiet", "-b", "main")
    for tag, files in (("v1.0.0", V1), ("v2.0.0", V2)):
        write_tree(template, files)
        commit(template, tag)
        git(template, "tag", tag)
    return template


def build_projects(template: Path, dest: Path, count: int, version: str = "v1.0.0") -> list[Path]:
    """`count` committed projects with a user edit each: one generated by copier, then copied."""
    import copier

    seed = dest / "seed"
    copier.run_copy(str(template), seed, vcs_ref=version, defaults=True, quiet=True)
    git(seed, "init", "--quiet", "-b", "main")
    commit(seed, "generated")
    with (seed / "README.md").open("a") as readme:
        readme.write("\n## Our notes\n\nThe model is retrained weekly.\n")
    commit(seed, "notes")
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


def time_fleet(projects: list[Path], jobs: int, work: Path) -> tuple[float, dict]:
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
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"fleet update failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed, json.loads(report.read_text())


def check_loop_result(projects: list[Path]) -> None:
    for project in projects[:3]:
        answers = git(project, "show", "template-update/v2.0.0:.copier-answers.yml")
        assert "_commit: v2.0.0" in answers, answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,50", help="fleet sizes to time (default: 10,50)")
    parser.add_argument("--compare", type=int, default=50, help="size timed side by side with the loop")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--current", type=int, default=50, help="already-current repositories to time")
    args = parser.parse_args(argv)
    sizes = sorted({int(size) for size in args.sizes.split(",")} | {args.compare})

    os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.invalid")
    os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@example.invalid")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        root = Path(tmp)
        os.environ["COPIER_CACHE_DIR"] = str(root / "copier-cache")
        template = build_template(root)
        ratio = None
        for size in sizes:
            work = root / f"n{size}"
            fleet_projects = build_projects(template, work / "fleet", size)
            fleet_seconds, report = time_fleet(fleet_projects, args.jobs, work)
            outcomes = {r["outcome"] for r in report["repositories"]}
            assert outcomes == {"updated"}, outcomes
            loop_seconds = None
            if size == args.compare:
                loop_projects = build_projects(template, work / "loop", size)
                loop_seconds = time_shell_loop(loop_projects)
                check_loop_result(loop_projects)
                ratio = loop_seconds / fleet_seconds
            rows.append((size, loop_seconds, fleet_seconds))
            print(f"  {size} repositories: fleet {fleet_seconds:.1f}s", file=sys.stderr, flush=True)
            shutil.rmtree(work)
        current = build_projects(template, root / "current", args.current, version="v2.0.0")
        current_seconds, report = time_fleet(current, args.jobs, root)
        per_repo = [r["seconds"] for r in report["repositories"]]

    print(f"| repositories | sequential loop (s) | fleet update --jobs {args.jobs} (s) | speed-up |")
    print("|---:|---:|---:|---:|")
    for size, loop_seconds, fleet_seconds in rows:
        loop = f"{loop_seconds:.1f}" if loop_seconds else "-"
        speedup = f"{loop_seconds / fleet_seconds:.2f}x" if loop_seconds else "-"
        print(f"| {size} | {loop} | {fleet_seconds:.1f} | {speedup} |")
    print()
    print(
        f"Already current: {statistics.median(per_repo) * 1000:.0f} ms per repository (median, max "
        f"{max(per_repo) * 1000:.0f} ms); {args.current} current repositories took {current_seconds:.1f}s "
        "in all, process start included."
    )
    ok = ratio is not None and ratio >= 1.7 and statistics.median(per_repo) <= 0.1
    print(
        f"\nTargets (>= 1.7x at {args.compare}, <= 0.1 s per current repository): {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
