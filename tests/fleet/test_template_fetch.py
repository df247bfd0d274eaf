"""The template is fetched once per run, and copier's own clones go to that copy."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from fleet_repos import answers, commit_all

import generator.fleet.template
from generator.cli import main

BRANCH = "template-update/v2.0.0"


def test_template_is_fetched_once_for_many_projects(make_project, tmp_path: Path, monkeypatch):
    repos = [make_project(f"once{i}") for i in range(3)]
    fetched = []
    real_clone = generator.fleet.template.clone
    monkeypatch.setattr(
        generator.fleet.template, "clone", lambda *a, **k: fetched.append(a) or real_clone(*a, **k)
    )

    assert main(["fleet", "update", "--jobs", "1", *map(str, repos)]) == 0

    assert len(fetched) == 1


def test_remote_src_path_is_served_from_the_run_mirror_and_kept(
    make_project, template: Path, tmp_path: Path, monkeypatch
):
    """A project whose template lives at an unreachable URL updates from `--template` (a mirror
    git's `insteadOf` says is the same template), offline, and its answers file still points at
    the URL afterwards."""
    repo = make_project("remote-src")
    url = "https://git.example.invalid/acme/template.git"
    for key, value in {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{template}.insteadOf",
        "GIT_CONFIG_VALUE_0": url,
    }.items():
        monkeypatch.setenv(key, value)
    answers_file = repo / ".copier-answers.yml"
    data = yaml.safe_load(answers_file.read_text())
    answers_file.write_text(yaml.safe_dump({**data, "_src_path": url}))
    commit_all(repo, "template moved to the company git server")
    report = tmp_path / "r.json"

    code = main(
        ["fleet", "update", "--jobs", "1", "--template", str(template), "--report", str(report), str(repo)]
    )

    assert code == 0, json.loads(report.read_text())
    assert json.loads(report.read_text())["template"] == str(template)
    assert answers(repo, BRANCH)["_src_path"] == url
    assert answers(repo, BRANCH)["_commit"] == "v2.0.0"
