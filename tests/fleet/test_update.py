"""`fleet update` on real repositories generated from a two-version template."""

from __future__ import annotations

import json
from pathlib import Path

from fleet_repos import answers, commit_all, run_git

from generator.cli import main

BRANCH = "template-update/v2.0.0"


def update(*args: str, report: Path) -> tuple[int, dict]:
    code = main(["fleet", "update", "--jobs", "1", "--report", str(report), *args])
    return code, json.loads(report.read_text())


def by_target(report: dict) -> dict[str, dict]:
    return {Path(r["target"]).name: r for r in report["repositories"]}


def test_non_conflicting_edits_are_kept_on_a_new_branch(make_project, template: Path, tmp_path: Path):
    repo = make_project("kept")
    app = repo / "src" / "app.py"
    app.write_text(app.read_text() + "print('mine')\n")
    (repo / "docs" / "guide.md").unlink()
    main_before = commit_all(repo, "my edits")

    code, report = update(str(repo), report=tmp_path / "r.json")

    assert code == 0
    [result] = report["repositories"]
    assert result["outcome"] == "updated"
    assert (result["from"], result["to"], result["branch"]) == ("v1.0.0", "v2.0.0", BRANCH)
    assert result["conflicts"] == [] and result["error"] is None
    assert report["to"] == "v2.0.0" and report["template"] == str(template)
    assert run_git(repo, "rev-parse", "main").strip() == main_before
    assert run_git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert run_git(repo, "status", "--porcelain") == ""
    app_v2 = run_git(repo, "show", f"{BRANCH}:src/app.py")
    assert "return 2" in app_v2 and "print('mine')" in app_v2
    tree = run_git(repo, "ls-tree", "-r", "--name-only", BRANCH).split()
    assert "docs/guide.md" not in tree  # deleted by the user, stays deleted
    assert "added.txt" in tree and "obsolete.txt" not in tree
    assert answers(repo, BRANCH)["_src_path"] == str(template)
    assert answers(repo, BRANCH)["_commit"] == "v2.0.0"
    message = run_git(repo, "log", "-1", "--format=%B", BRANCH)
    assert "v1.0.0" in message and "v2.0.0" in message
    assert run_git(repo, "rev-parse", f"{BRANCH}^").strip() == main_before
