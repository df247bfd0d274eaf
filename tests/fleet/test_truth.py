"""What lands on an update branch is what the report says: conflicts found by git and copier for
any line ending, path, binary file or symlink; nothing of the user's replaced or deleted silently;
an answer the new version rejects stopped, not reset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet_repos import answers, branches, commit_all, run_git, write_tree

from generator.cli import main

BRANCH = "template-update/v2.0.0"
MARKER_START, MARKER_END = b"<<<<<<< before updating", b">>>>>>> after updating"


def update(*args: str, report: Path) -> tuple[int, dict]:
    code = main(["fleet", "update", "--jobs", "1", "--report", str(report), *args])
    return code, json.loads(report.read_text())


def blob(repo: Path, rev: str, path: str) -> bytes:
    import subprocess

    return subprocess.run(
        ["git", "-C", str(repo), "cat-file", "blob", f"{rev}:{path}"], check=True, capture_output=True
    ).stdout


@pytest.fixture
def rich_project(make_project, rich_template: Path):
    def make(name: str, **data: str) -> Path:
        return make_project(name, template_dir=rich_template, data=data)

    return make


def test_crlf_conflict_is_reported_not_committed_as_updated(rich_project, tmp_path: Path):
    repo = rich_project("crlf")
    write_tree(repo, {"crlf.txt": "alpha\r\nbeta-mine\r\ngamma\r\ndelta\r\nepsilon\r\nzeta\r\n"})
    commit_all(repo, "my beta")

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (1, "conflicted")
    assert "crlf.txt" in result["conflicts"]
    content = blob(repo, BRANCH, "crlf.txt")
    assert MARKER_START + b"\r\n" in content and b"beta-mine" in content and b"BETA-TEMPLATE" in content


def test_conflict_in_a_path_git_quotes_is_listed_as_written(rich_project, tmp_path: Path, capsys):
    repo = rich_project("quoted")
    write_tree(repo, {"données.yaml": "a: 1\nb: 99\nc: 3\nd: 4\ne: 5\n"})
    commit_all(repo, "my b")

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (1, "conflicted")
    assert "données.yaml" in result["conflicts"]
    assert not any("\\" in path or '"' in path for path in result["conflicts"])
    assert "données.yaml" in capsys.readouterr().out


def test_binary_file_changed_on_both_sides_is_a_conflict_and_keeps_the_users_bytes(
    rich_project, tmp_path: Path
):
    repo = rich_project("binary")
    mine = b"\x89PNG\x00\x01my own logo\x00"
    write_tree(repo, {"logo.bin": mine})
    commit_all(repo, "our logo")

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (1, "conflicted")
    assert "logo.bin" in result["conflicts"]
    assert blob(repo, BRANCH, "logo.bin") == mine


def test_symlink_changed_on_both_sides_is_a_conflict_and_keeps_the_users_link(rich_project, tmp_path: Path):
    repo = rich_project("symlink")
    (repo / "link").unlink()
    (repo / "link").symlink_to("target-c.txt")
    commit_all(repo, "point the link elsewhere")

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (1, "conflicted")
    assert "link" in result["conflicts"]
    mode = run_git(repo, "ls-tree", BRANCH, "link").split()[0]
    assert (mode, blob(repo, BRANCH, "link")) == ("120000", b"target-c.txt")


def test_mode_change_from_the_template_is_applied_with_the_users_content_edit(rich_project, tmp_path: Path):
    repo = rich_project("mode")
    lines = "# one\n# two\n# three\n# four\n# five\n# six\n"
    write_tree(repo, {"run.sh": f"#!/bin/sh\necho v1\n{lines}echo mine\n"})
    commit_all(repo, "one more line")

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (0, "updated")
    assert run_git(repo, "ls-tree", BRANCH, "run.sh").split()[0] == "100755"
    assert blob(repo, BRANCH, "run.sh") == f"#!/bin/sh\necho v2\n{lines}echo mine\n".encode()


def test_file_deleted_by_the_template_but_modified_here_is_a_conflict_and_kept(rich_project, tmp_path: Path):
    repo = rich_project("deleted")
    write_tree(repo, {"notes.md": "template notes\nand ours, which matter\n"})
    commit_all(repo, "our notes")

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (1, "conflicted")
    assert "notes.md" in result["conflicts"]
    assert blob(repo, BRANCH, "notes.md") == b"template notes\nand ours, which matter\n"
    # The file nobody touched is removed, and said to be.
    assert result["files"]["removed"] == ["plain.txt"]


def test_untracked_files_alone_do_not_make_a_repository_dirty(make_project, tmp_path: Path):
    repo = make_project("untracked")
    (repo / "scratch.txt").write_text("mine, not committed\n")

    code, report = update(str(repo), report=tmp_path / "r.json")

    assert (code, report["repositories"][0]["outcome"]) == (0, "updated")
    assert (repo / "scratch.txt").read_text() == "mine, not committed\n"
    assert run_git(repo, "status", "--porcelain") == "?? scratch.txt\n"


@pytest.mark.parametrize("how", ["gitattributes", "autocrlf"])
def test_crlf_checkout_with_no_real_change_does_not_conflict(make_project, tmp_path: Path, how: str):
    repo = make_project(f"eol-{how}")
    if how == "gitattributes":
        write_tree(repo, {".gitattributes": "*.yaml text eol=crlf\n"})
        commit_all(repo, "Windows line endings for YAML")
    else:
        run_git(repo, "config", "core.autocrlf", "true")
    (repo / "config.yaml").unlink()
    run_git(repo, "checkout", "--", "config.yaml")  # the checkout now has CRLF
    assert b"\r\n" in (repo / "config.yaml").read_bytes()
    assert run_git(repo, "status", "--porcelain") == ""

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"], result["conflicts"]) == (0, "updated", [])
    assert blob(repo, BRANCH, "config.yaml") == b"name: demo\nretries: 5\ntimeout: 30\nregion: westeurope\n"


def test_answer_the_new_version_rejects_is_stopped_and_data_supplies_a_new_one(rich_project, tmp_path: Path):
    repo = rich_project("rejected", project_name="churn2")

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (1, "answer-rejected")
    for part in ("project_name", "churn2", "no digits", "--data project_name="):
        assert part in result["error"]
    assert branches(repo) == ["main"]

    code, report = update(str(repo), "--data", "project_name=churn-two", report=tmp_path / "r.json")

    assert (code, report["repositories"][0]["outcome"]) == (0, "updated")
    assert answers(repo, BRANCH)["project_name"] == "churn-two"
    assert blob(repo, BRANCH, "README.md") == b"# churn-two\n"


def test_staged_conflict_marker_is_caught_even_when_copier_reports_none(make_project, tmp_path: Path):
    """The second guard: a committed file holding marker lines makes the result `conflicted`."""
    from fleet_repos import V1

    template = tmp_path / "marker-template"
    template.mkdir()
    run_git(template, "init", "--quiet", "-b", "main")
    write_tree(template, V1)
    commit_all(template, "v1")
    run_git(template, "tag", "v1.0.0")
    howto = (
        "Resolve like this:\r\n<<<<<<< before updating\r\nold\r\n=======\r\nnew\r\n>>>>>>> after updating\r\n"
    )
    write_tree(template, {"howto.md": howto})
    commit_all(template, "v2")
    run_git(template, "tag", "v2.0.0")
    repo = make_project("guarded", template_dir=template)

    code, report = update(str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"], result["conflicts"]) == (1, "conflicted", ["howto.md"])


def test_data_file_gives_each_repository_its_own_answer(rich_project, tmp_path: Path):
    first = rich_project("first", project_name="churn1")
    second = rich_project("second", project_name="churn2")
    data = tmp_path / "answers.yaml"
    data.write_text(f"{first}:\n  project_name: churn-one\n{second}/:\n  project_name: churn-two\n")

    code, report = update(str(first), str(second), "--data-file", str(data), report=tmp_path / "r.json")

    assert (code, [r["outcome"] for r in report["repositories"]]) == (0, ["updated", "updated"])
    assert answers(first, BRANCH)["project_name"] == "churn-one"
    assert answers(second, BRANCH)["project_name"] == "churn-two"
