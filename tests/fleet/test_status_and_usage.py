"""`fleet status`, and flags refused before any repository is touched."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from fleet_repos import branches, commit_all, run_git

from generator.cli import main


def test_status_reports_each_state(make_project, tmp_path: Path, capsys):
    behind = make_project("behind")
    current = make_project("current", version="v2.0.0")
    dirty = make_project("dirty")
    (dirty / "README.md").write_text("edited\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    run_git(plain, "init", "--quiet", "-b", "main")
    (plain / "x.txt").write_text("x\n")
    commit_all(plain, "plain")
    missing = tmp_path / "missing"
    targets = [behind, current, dirty, plain, missing]

    code = main(["fleet", "status", "--format", "json", *map(str, targets)])

    assert code == 1  # not-a-project and error need a look
    results = json.loads(capsys.readouterr().out)["repositories"]
    assert [r["state"] for r in results] == ["behind", "current", "dirty", "not-a-project", "error"]
    assert (results[0]["version"], results[0]["latest"]) == ("v1.0.0", "v2.0.0")
    assert results[1]["version"] == "v2.0.0"
    assert "no such directory" in results[4]["error"]

    assert main(["fleet", "status", str(behind), str(current)]) == 0
    table = capsys.readouterr().out
    assert "behind" in table and "current" in table and "v2.0.0" in table


def test_status_template_unreachable_is_an_error(make_project, tmp_path: Path, capsys):
    repo = make_project("orphan")

    code = main(["fleet", "status", "--format", "json", "--template", str(tmp_path / "nope"), str(repo)])

    assert code == 1
    [result] = json.loads(capsys.readouterr().out)["repositories"]
    assert result["state"] == "error" and "cannot fetch template" in result["error"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--dry-run", "--push"], "--dry-run"),
        (["--pr"], "--push"),
        (["--push", "--pr"], "GITHUB_TOKEN"),
        (["--branch", "bad..name"], "not a valid git branch name"),
        (["--branch", "update/{ver}"], "{version}"),
        (["--report", "/nonexistent/dir/r.json"], "does not exist"),
        (["--jobs", "0"], None),
    ],
)
def test_bad_flags_are_refused_before_anything_is_touched(make_project, flags, message, capsys):
    repo = make_project("untouched")
    refs = run_git(repo, "for-each-ref")

    with pytest.raises(SystemExit) if message is None else contextlib.nullcontext():
        code = main(["fleet", "update", *flags, str(repo)])
        assert code == 2
        assert message in capsys.readouterr().err

    assert run_git(repo, "for-each-ref") == refs
    assert branches(repo) == ["main"]


def test_no_targets_and_unreadable_from_file(tmp_path: Path, capsys):
    assert main(["fleet", "update"]) == 2
    assert "no targets" in capsys.readouterr().err
    assert main(["fleet", "status", "--from", str(tmp_path / "none.txt")]) == 2
    assert "--from" in capsys.readouterr().err


def test_url_target_without_push_would_lose_its_branch(capsys):
    assert main(["fleet", "update", "https://github.com/acme/widgets.git"]) == 2
    assert "--push" in capsys.readouterr().err
