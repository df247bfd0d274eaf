"""`fleet update` on real repositories generated from a two-version template."""

from __future__ import annotations

import json
from pathlib import Path

from fleet_repos import answers, branches, commit_all, run_git

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


def test_conflicting_edit_is_committed_with_markers_and_main_untouched(make_project, tmp_path: Path):
    repo = make_project("clash")
    config = repo / "config.yaml"
    config.write_text(config.read_text().replace("retries: 2", "retries: 9"))
    main_before = commit_all(repo, "tune retries")

    code, report = update(str(repo), report=tmp_path / "r.json")

    assert code == 1
    [result] = report["repositories"]
    assert result["outcome"] == "conflicted"
    assert result["conflicts"] == ["config.yaml"]
    assert result["branch"] == BRANCH
    on_branch = run_git(repo, "show", f"{BRANCH}:config.yaml")
    assert "<<<<<<< before updating" in on_branch and ">>>>>>> after updating" in on_branch
    assert "retries: 9" in on_branch and "retries: 5" in on_branch
    assert run_git(repo, "rev-parse", "main").strip() == main_before
    assert run_git(repo, "status", "--porcelain") == ""
    assert "config.yaml" in run_git(repo, "log", "-1", "--format=%B", BRANCH)


def test_dirty_repository_is_skipped_untouched(make_project, tmp_path: Path):
    repo = make_project("dirty")
    (repo / "README.md").write_text("work in progress\n")
    (repo / "scratch.txt").write_text("untracked\n")
    status_before = run_git(repo, "status", "--porcelain")

    code, report = update(str(repo), report=tmp_path / "r.json")

    assert code == 1
    assert report["repositories"][0]["outcome"] == "skipped-dirty"
    assert run_git(repo, "status", "--porcelain") == status_before
    assert (repo / "README.md").read_text() == "work in progress\n"
    assert branches(repo) == ["main"]


def test_current_project_is_skipped(make_project, tmp_path: Path):
    repo = make_project("fresh", version="v2.0.0")

    code, report = update(str(repo), report=tmp_path / "r.json")

    assert code == 0
    [result] = report["repositories"]
    assert (result["outcome"], result["from"], result["to"], result["branch"]) == (
        "skipped-current",
        "v2.0.0",
        "v2.0.0",
        None,
    )
    assert branches(repo) == ["main"]


def test_missing_answers_file_is_not_a_project(tmp_path: Path):
    plain = tmp_path / "plain"
    plain.mkdir()
    run_git(plain, "init", "--quiet", "-b", "main")
    (plain / "README.md").write_text("hello\n")
    commit_all(plain, "not generated")
    empty = tmp_path / "empty"
    empty.mkdir()

    code, report = update(str(plain), str(empty), report=tmp_path / "r.json")

    assert code == 1
    assert [r["outcome"] for r in report["repositories"]] == ["not-a-project", "not-a-project"]
    assert branches(plain) == ["main"]


def test_to_an_older_tag_and_a_missing_one(make_project, tmp_path: Path):
    repo = make_project("pinned", version="v2.0.0")

    code, report = update(str(repo), "--to", "v9.9.9", report=tmp_path / "r.json")

    assert code == 1
    [result] = report["repositories"]
    assert result["outcome"] == "error" and "v9.9.9" in result["error"]


def test_dry_run_prints_changes_and_touches_nothing(make_project, tmp_path: Path, capsys):
    repo = make_project("preview")
    config = repo / "config.yaml"
    config.write_text(config.read_text().replace("retries: 2", "retries: 9"))
    commit_all(repo, "tune retries")
    refs_before = run_git(repo, "for-each-ref")

    code, report = update(str(repo), "--dry-run", report=tmp_path / "r.json")

    assert code == 1
    [result] = report["repositories"]
    assert result["outcome"] == "conflicted" and result["branch"] is None
    assert result["files"]["added"] == ["added.txt"]
    assert result["files"]["removed"] == ["obsolete.txt"]
    assert "src/app.py" in result["files"]["modified"]
    assert run_git(repo, "for-each-ref") == refs_before
    assert run_git(repo, "worktree", "list").count("\n") == 1
    out = capsys.readouterr().out
    assert "A added.txt" in out and "D obsolete.txt" in out and "C config.yaml (conflict)" in out


def test_parallel_run_over_several_projects(make_project, tmp_path: Path, capsys):
    repos = [make_project(f"p{i}") for i in range(3)] + [make_project("done", version="v2.0.0")]
    targets = tmp_path / "targets.txt"
    targets.write_text("# the fleet\n" + "".join(f"{r}\n" for r in repos))

    code = main(
        ["fleet", "update", "--from", str(targets), "--jobs", "2", "--report", str(tmp_path / "r.json")]
    )

    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert [r["outcome"] for r in report["repositories"]] == ["updated"] * 3 + ["skipped-current"]
    for repo in repos[:3]:
        assert answers(repo, BRANCH)["_commit"] == "v2.0.0"
    summary = capsys.readouterr().out
    assert "3 updated, 1 skipped-current" in summary
