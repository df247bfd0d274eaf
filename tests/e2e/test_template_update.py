"""The generated template-update.yml, run under act: it updates the project to a newer tagged
version of this repository's template and opens a pull request through the GitHub API stand-in
the fleet tests use (tests/fleet/github_standin.py).

The template is a clone of this repository tagged twice (the later tag adds a README line and a
changelog section); the project's answers name the template's canonical URL, which git's
`url.<clone>.insteadOf` maps to the clone on the runner, as a company mirror would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from forge_rehearse import act

from .conftest import NEEDS_ACT
from .index import REPO

sys.path.insert(0, str(Path(__file__).parents[1] / "fleet"))
from github_standin import Fault, GitHubStandIn

pytestmark = NEEDS_ACT

OLD, NEW = "v0.1.0", "v0.2.0"
BRANCH = f"template-update/{NEW}"
NOTE = "The README names the rehearsal that proved this update."
README_LINE = "Rehearsed: this project's template update ran under act."


def git(cwd: Path, *args: str) -> str:
    command = ["git", "-C", str(cwd), "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def canonical_url() -> str:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository's committed template as OLD, and NEW: one more commit with a changelog."""
    root = tmp_path_factory.mktemp("template") / "mlops-forge"
    subprocess.run(["git", "clone", "--quiet", "--no-tags", str(REPO), str(root)], check=True)
    git(root, "tag", OLD)
    readme = root / "templates" / "ml-project" / "README.md.jinja"
    readme.write_text(readme.read_text() + f"\n{README_LINE}\n")
    changelog = root / "CHANGELOG.md"
    section = f"## [{NEW[1:]}] - 2026-11-26\n\n### Upgrade notes\n\n- {NOTE}\n\n### Changed\n\n- README.\n\n"
    changelog.write_text(changelog.read_text().replace("## [Unreleased]", f"## [Unreleased]\n\n{section}", 1))
    git(root, "commit", "--quiet", "-am", "a newer template")
    git(root, "tag", NEW)
    # The fleet clones `<canonical URL>.git`; insteadOf maps the URL's prefix, so both names exist.
    root.with_name(root.name + ".git").symlink_to(root)
    return root


@pytest.fixture()
def project(template: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A project generated from OLD, pushed to a bare `origin` (acme/ml-demo)."""
    import copier

    dest = tmp_path / "ml-demo"
    copier.run_copy(str(template), dest, defaults=True, vcs_ref=OLD, quiet=True)
    git(dest, "init", "--quiet", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "--quiet", "-m", "scaffold")
    bare = tmp_path / "acme" / "ml-demo.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(dest), str(bare)], check=True)
    git(dest, "remote", "add", "origin", str(bare))
    assert yaml.safe_load((dest / ".copier-answers.yml").read_text())["_src_path"] == canonical_url()
    return dest, bare


@pytest.fixture()
def github():
    standin = GitHubStandIn().start()
    yield standin
    standin.stop()


def runner_git_config(rehearsal: act.Rehearsal, template: Path) -> None:
    """The runner's git: the template's canonical URL is served from the clone."""
    home = rehearsal.home / "act-home"
    home.mkdir(exist_ok=True)
    (home / ".gitconfig").write_text(
        f'[url "{template}"]\n\tinsteadOf = {canonical_url()}\n[protocol "file"]\n\tallow = always\n'
    )


def test_template_update_opens_a_pull_request_and_a_refusal_turns_it_red(
    project, template: Path, github: GitHubStandIn, default_world, tmp_path: Path
) -> None:
    dest, bare = project
    rehearsal = act.prepare(dest, tmp_path / "rehearsal", world=default_world)
    runner_git_config(rehearsal, template)
    api = {"GITHUB_API_URL": github.url}

    # GitHub refuses the pull request (a token without pull-requests: write): red, naming it.
    github.faults.append(Fault("POST", 403, {"message": "Resource not accessible by integration"}))
    refused = act.run(rehearsal, "template-update.yml", inputs={"version": NEW}, environment=api)
    assert not refused.ok, "template-update.yml was green although GitHub refused the pull request"
    said = refused.output + refused.step_log
    assert "POST /repos/acme/ml-demo/pulls: HTTP 403 Resource not accessible by integration" in said, said[
        -3000:
    ]
    assert github.pulls == []

    # The next run opens it: the branch carries the new version, the body its changelog.
    result = act.run(rehearsal, "template-update.yml", inputs={"version": NEW}, environment=api)
    assert result.ok, "\n".join(result.errors()) or result.output[-4000:]
    [pull] = github.pulls
    assert (pull["owner"], pull["repo"], pull["head"], pull["base"]) == ("acme", "ml-demo", BRANCH, "main")
    assert f"Release notes: {OLD[1:]} → {NEW[1:]}" in pull["body"] and NOTE in pull["body"]
    assert {r["auth"] for r in github.calls("POST")} == {"Bearer rehearsal-token"}
    answers = yaml.safe_load(git(bare, "show", f"{BRANCH}:.copier-answers.yml"))
    assert answers["_commit"] == NEW and answers["_src_path"] == canonical_url()
    assert README_LINE in git(bare, "show", f"{BRANCH}:README.md")
    assert git(bare, "rev-parse", "main") == git(dest, "rev-parse", "main")  # main untouched
