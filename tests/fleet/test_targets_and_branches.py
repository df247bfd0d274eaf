"""Targets are repositories, the base is the default branch, a branch the fleet did not make is
left alone, and a project of another template is not touched by this one."""

from __future__ import annotations

import json
from pathlib import Path

from fleet_repos import branches, commit_all, run_git, write_tree

from generator.cli import main

BRANCH = "template-update/v2.0.0"


def update(*args: str, report: Path) -> tuple[int, dict]:
    code = main(["fleet", "update", "--jobs", "1", "--report", str(report), *args])
    return code, json.loads(report.read_text())


def test_same_repository_named_four_ways_is_processed_once(make_project, tmp_path: Path, monkeypatch):
    repo = make_project("twice")
    (tmp_path / "alias").symlink_to(repo)
    monkeypatch.chdir(repo.parent)

    code, report = update(
        str(repo), f"{repo}/", "./twice", str(tmp_path / "alias"), report=tmp_path / "r.json"
    )

    assert code == 0
    assert [r["outcome"] for r in report["repositories"]] == ["updated"]
    assert run_git(repo, "rev-list", "--count", f"main..{BRANCH}").strip() == "1"


def test_base_is_the_default_branch_not_the_feature_branch_checked_out(make_project, tmp_path: Path):
    repo = make_project("feature")
    main_tip = run_git(repo, "rev-parse", "main").strip()
    run_git(repo, "checkout", "--quiet", "-b", "feature/wip")
    write_tree(repo, {"feature.txt": "not ready\n"})
    commit_all(repo, "half a feature")

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"], result["base"]) == (0, "updated", "main")
    assert run_git(repo, "rev-parse", f"{BRANCH}^").strip() == main_tip
    assert "feature.txt" not in run_git(repo, "ls-tree", "-r", "--name-only", BRANCH).split()
    assert run_git(repo, "symbolic-ref", "--short", "HEAD").strip() == "feature/wip"


def test_no_default_branch_to_tell_is_a_clear_error(make_project, tmp_path: Path):
    repo = make_project("nodefault")
    run_git(repo, "branch", "-m", "main", "trunk")
    run_git(repo, "branch", "dev")

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (1, "error")
    assert "default branch" in result["error"] and "set-head" in result["error"]
    assert branches(repo) == ["dev", "trunk"]


def test_a_users_branch_named_like_the_update_branch_is_never_moved(make_project, tmp_path: Path):
    repo = make_project("mine")
    run_git(repo, "checkout", "--quiet", "-b", BRANCH)
    write_tree(repo, {"mine.txt": "my own work\n"})
    mine = commit_all(repo, "my own work on a branch of that name")
    run_git(repo, "checkout", "--quiet", "main")

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"], result["branch"]) == (1, "branch-exists", None)
    assert "did not make" in result["error"]
    assert run_git(repo, "rev-parse", BRANCH).strip() == mine


def test_project_of_another_template_is_skipped(
    make_project, rich_template: Path, template: Path, tmp_path: Path
):
    other = make_project("other", template_dir=rich_template)
    refs = run_git(other, "for-each-ref")

    code, report = update("--template", str(template), str(other), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (0, "skipped-other-template")
    assert str(rich_template) in result["error"]
    assert run_git(other, "for-each-ref") == refs


def test_template_that_needs_trust_says_so_in_one_line(make_project, tmp_path: Path, capsys):
    from fleet_repos import V1

    source = tmp_path / "tasks-template"
    source.mkdir()
    run_git(source, "init", "--quiet", "-b", "main")
    write_tree(source, V1)
    commit_all(source, "v1")
    run_git(source, "tag", "v1.0.0")
    write_tree(source, {"copier.yml": V1["copier.yml"] + '_tasks:\n  - "true"\n'})
    commit_all(source, "v2 runs a task")
    run_git(source, "tag", "v2.0.0")
    repo = make_project("untrusted", template_dir=source)

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (1, "error")
    assert "--trust" in result["error"] and "\n" not in result["error"]
    assert "Traceback" not in capsys.readouterr().err


def test_a_users_branch_of_that_name_on_the_remote_is_never_pushed_over(make_project, tmp_path: Path):
    from fleet_repos import with_remote

    repo = make_project("theirs")
    bare = with_remote(repo, tmp_path / "remotes" / "theirs.git")
    run_git(repo, "checkout", "--quiet", "-b", BRANCH)
    write_tree(repo, {"theirs.txt": "a colleague's work\n"})
    theirs = commit_all(repo, "a colleague's work on a branch of that name")
    run_git(repo, "push", "--quiet", "origin", BRANCH)
    run_git(repo, "checkout", "--quiet", "main")
    run_git(repo, "branch", "--quiet", "-D", BRANCH)

    code, report = update("--push", str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"], result["pushed"]) == (1, "branch-exists", False)
    assert f"origin/{BRANCH}" in result["error"]
    assert run_git(bare, "rev-parse", BRANCH).strip() == theirs
    assert branches(repo) == ["main"]
