"""Stopping a run: SIGTERM and Ctrl-C end it cleanly with a summary and a report, `kill -9` of
the run leaves no worker behind, and a second run never races the first on a repository."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from fleet_repos import branches, run_git, with_remote

from generator.cli import main


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc), however deep."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def start(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "generator", "fleet", "update", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def hanging_fleet(make_project, silent_remote: str, count: int) -> list[Path]:
    """Projects whose remote never answers: an update with --push hangs in its first fetch."""
    repos = [make_project(f"hang{i}") for i in range(count)]
    for repo in repos:
        run_git(repo, "remote", "add", "origin", silent_remote)
    return repos


def test_sigterm_stops_at_once_with_summary_report_and_a_locked_repository_in_between(
    make_project, tmp_path: Path, silent_remote: str, capsys
):
    done = make_project("quick")
    with_remote(done, tmp_path / "remotes" / "quick.git")
    hung = hanging_fleet(make_project, silent_remote, 2)
    report = tmp_path / "r.json"
    run = start(["--jobs", "2", "--push", "--report", str(report), str(done), *map(str, hung)], tmp_path)
    try:
        # The quick repository finishes, the two others hang on their remote, holding their locks.
        progress: list[str] = []
        reader = threading.Thread(target=lambda: progress.extend(run.stderr), daemon=True)
        reader.start()
        wait_for(lambda: any("quick" in line for line in progress) and len(descendants(run.pid)) >= 4)

        # A second run meanwhile reports the locked repository instead of racing the first.
        second = tmp_path / "second.json"
        assert main(["fleet", "update", "--jobs", "1", "--push", "--report", str(second), str(hung[0])]) == 1
        [locked] = json.loads(second.read_text())["repositories"]
        assert locked["outcome"] == "skipped-locked"

        workers = descendants(run.pid)
        started = time.monotonic()
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=30)
        out = run.stdout.read()
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 143
    assert time.monotonic() - started < 15
    assert "3 repositories" in out and "cancelled" in out
    results = {Path(r["target"]).name: r["outcome"] for r in json.loads(report.read_text())["repositories"]}
    assert results == {"quick": "updated", "hang0": "cancelled", "hang1": "cancelled"}, out
    wait_for(lambda: not any(alive(pid) for pid in workers), 10)
    assert list((tmp_path / "tmp").iterdir()) == []  # the run's temporary workspace is gone
    for repo in hung:
        assert branches(repo) == ["main"]


def test_kill_9_of_the_run_leaves_no_worker_running(make_project, tmp_path: Path, silent_remote: str):
    hung = hanging_fleet(make_project, silent_remote, 3)
    run = start(["--jobs", "2", "--push", *map(str, hung)], tmp_path)
    try:
        wait_for(lambda: len(descendants(run.pid)) >= 4)  # two workers, each in a git fetch
        workers = descendants(run.pid)
        run.kill()
        run.wait()
    finally:
        if run.poll() is None:
            run.kill()

    wait_for(lambda: not any(alive(pid) for pid in workers), 15)
    for repo in hung:
        assert branches(repo) == ["main"]
