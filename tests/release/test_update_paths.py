"""Every update path: projects made from the previous release update cleanly to this working tree.

For the default and a variant answer set: render at the previous release, commit, then update to
the working tree with `copier update` and with `mlops-forge fleet update`. An untouched project must
update without a conflict, both ways to the same files, keep every answer (through the migrations
of copier.yml where a question was renamed or removed), pass its own test suite and
`plan --check`.

The previous release is the newest vX.Y.Z tag in the history; without tags, the last commit that
changed pyproject.toml's version; and when that commit predates the template (0.1.0 was set in the
skeleton, before copier.yml existed), the first commit with a template, the oldest state a project
of the current version can have been rendered from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.version import InvalidVersion, Version

from .conftest import REPO, Checkout, git, serving_canonical_url

EXISTING_REGISTRY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared-ml/providers/"
    "Microsoft.MachineLearningServices/registries/mlr-shared"
)
CASES = {
    "defaults": {},
    "variant": {
        "project_name": "churn-eu",
        "serving": "batch",
        "gpu": True,
        "gpu_vm_size": "Standard_NC6s_v3",
        "registry": "existing",
        "registry_id": EXISTING_REGISTRY,
        "state_backend": "pulumi-cloud",
        "environments": ["dev", "prod"],
    },
}
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")


@dataclass(frozen=True)
class Release:
    commit: str
    version: str
    rule: str


def _has_template(checkout: Path, commit: str) -> bool:
    probe = ["git", "-C", str(checkout), "cat-file", "-e", f"{commit}:copier.yml"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def _version_at(checkout: Path, commit: str) -> str:
    return tomllib.loads(git(checkout, "show", f"{commit}:pyproject.toml"))["project"]["version"]


def previous_release(checkout: Path) -> Release:
    """The release a project of the working tree's users was most recently rendered from."""
    if git(checkout, "rev-parse", "--is-shallow-repository").strip() == "true":
        pytest.fail("the update-path tests need the repository's history: clone with full depth")
    tags = []
    for tag in git(checkout, "tag", "--list", "v*", "--merged", "HEAD").split():
        try:
            tags.append((Version(tag.removeprefix("v")), tag))
        except InvalidVersion:
            continue
    for _, tag in sorted(tags, reverse=True):
        commit = git(checkout, "rev-list", "-n", "1", tag).strip()
        if _has_template(checkout, commit):
            return Release(commit, _version_at(checkout, commit), f"tag {tag}")
    for commit in git(checkout, "log", "--format=%H", "-G", r"^version = ", "--", "pyproject.toml").split():
        if _has_template(checkout, commit):
            return Release(commit, _version_at(checkout, commit), "last version change")
    first = git(checkout, "log", "--format=%H", "--diff-filter=A", "--", "copier.yml").split()[-1]
    return Release(first, _version_at(checkout, first), "first commit with a template")


def migrations(copier_yml: str) -> dict[str, str | None]:
    """Question name -> its new name (rename) or None (remove), from copier.yml's _migrations."""
    moved: dict[str, str | None] = {}
    for entry in yaml.safe_load(copier_yml).get("_migrations") or []:
        command = entry.get("command", []) if isinstance(entry, dict) else entry
        if not isinstance(command, list) or not any("migrations/answers.py" in str(c) for c in command):
            continue
        words = [str(c) for c in command]
        action = words.index("rename") if "rename" in words else words.index("remove")
        if words[action] == "rename":
            moved[words[action + 1]] = words[action + 2]
        else:
            moved[words[action + 1]] = None
    return moved


def computed(copier_yml: str) -> set[str]:
    """Hidden questions (`when: false`): values derived on every render, never stored as answers."""
    config = yaml.safe_load(copier_yml)
    return {
        k for k, v in config.items() if isinstance(v, dict) and str(v.get("when", True)).lower() == "false"
    }


def questions(copier_yml: str) -> set[str]:
    return {k for k in yaml.safe_load(copier_yml) if not k.startswith("_")}


@dataclass(frozen=True)
class Paths:
    checkout: Checkout
    previous: Release
    previous_tag: str
    next_tag: str


@pytest.fixture(scope="module")
def paths(working_tree: Checkout) -> Paths:
    previous = previous_release(working_tree.path)
    tagged = git(working_tree.path, "tag", "--points-at", previous.commit).split()
    previous_tag = next((t for t in tagged if t == f"v{previous.version}"), f"v{previous.version}")
    if previous_tag not in tagged:
        git(working_tree.path, "tag", previous_tag, previous.commit)
    current = Version(working_tree.version)
    if current <= Version(previous.version):  # unreleased work on top of the last release
        current = Version(f"{current.major}.{current.minor}.{current.micro + 1}")
    next_tag = f"v{current}"
    git(working_tree.path, "tag", "-f", next_tag, working_tree.head)
    return Paths(working_tree, previous, previous_tag, next_tag)


@dataclass(frozen=True)
class Updated:
    name: str
    data: dict
    before: dict
    by_copier: Path
    by_fleet: Path
    fleet_report: dict


def _answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def _conflicts(project: Path) -> list[str]:
    found = [str(p.relative_to(project)) for p in project.rglob("*.rej") if ".git" not in p.parts]
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts and path.suffix != ".csv":
            text = path.read_text(encoding="utf-8", errors="replace")
            if any(line.startswith(CONFLICT_MARKERS) for line in text.splitlines()):
                found.append(str(path.relative_to(project)))
    return found


@pytest.fixture(scope="module", params=list(CASES))
def updated(request, paths: Paths, tmp_path_factory) -> Updated:
    import copier
    from copier.errors import DirtyLocalWarning

    name = request.param
    old_config = git(paths.checkout.path, "show", f"{paths.previous.commit}:copier.yml")
    data = {k: v for k, v in CASES[name].items() if k in questions(old_config)}
    work = tmp_path_factory.mktemp(f"update-{name}")
    project = work / "by-copier"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_copy(
            str(paths.checkout.path),
            project,
            data=data,
            defaults=True,
            vcs_ref=paths.previous_tag,
            quiet=True,
        )
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", f"scaffold from {paths.previous_tag}")
    before = _answers(project)
    fleet_project = work / "by-fleet"
    shutil.copytree(project, fleet_project, symlinks=True)

    with warnings.catch_warnings(), serving_canonical_url(paths.checkout.path) as env:
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_update(
            project, vcs_ref=paths.next_tag, defaults=True, overwrite=True, quiet=True, unsafe=True
        )
    git(project, "add", "-A")
    git(project, "commit", "-q", "--allow-empty", "-m", f"update to {paths.next_tag}")

    report = work / "fleet-report.json"
    fleet = subprocess.run(
        [sys.executable, "-m", "generator", "fleet", "update", str(fleet_project), "--to", paths.next_tag,
         "--jobs", "1", "--trust", "--report", str(report)],
        capture_output=True, text=True, timeout=300, check=False, cwd=work, env=env,
    )  # fmt: skip
    assert report.is_file(), fleet.stdout[-2000:] + fleet.stderr[-2000:]
    return Updated(name, data, before, project, fleet_project, json.loads(report.read_text()))


def test_previous_release_is_found_and_renders(paths: Paths):
    assert paths.previous.commit != paths.checkout.head
    assert Version(paths.next_tag.removeprefix("v")) > Version(paths.previous.version)


def test_copier_update_of_an_untouched_project_has_no_conflict(updated: Updated):
    assert _conflicts(updated.by_copier) == []
    assert git(updated.by_copier, "status", "--porcelain") == ""


def test_fleet_update_of_an_untouched_project_is_updated_to_the_same_files(updated: Updated, paths: Paths):
    outcomes = {r["outcome"] for r in updated.fleet_report["repositories"]}
    assert outcomes == {"updated"}, updated.fleet_report
    branch = f"template-update/{paths.next_tag}"
    assert git(updated.by_fleet, "status", "--porcelain") == "", "the user's checkout is left as it was"
    git(updated.by_fleet, "checkout", "-q", branch)
    assert _conflicts(updated.by_fleet) == []
    fleet_tree = git(updated.by_fleet, "rev-parse", f"{branch}^{{tree}}")
    copier_tree = git(updated.by_copier, "rev-parse", "HEAD^{tree}")
    if fleet_tree != copier_tree:
        git(updated.by_copier, "fetch", "-q", str(updated.by_fleet), branch)
        differ = git(updated.by_copier, "diff", "HEAD", "FETCH_HEAD")
        pytest.fail(f"fleet update and copier update differ:\n{differ[-3000:]}")


def test_every_answer_survived(updated: Updated, paths: Paths):
    after = _answers(updated.by_copier)
    config = (paths.checkout.path / "copier.yml").read_text()
    moved = migrations(config)
    derived = computed(config)
    assert after["_commit"] == paths.next_tag
    for key, value in updated.before.items():
        if key.startswith("_"):
            continue
        if key in derived:  # a question that became a value computed per version is not stored
            assert key not in after
            continue
        target = moved.get(key, key)
        if target is None:
            assert key not in after, f"{key} was removed: its answer goes too"
            continue
        assert after.get(target) == value, f"answer {key} = {value!r} became {target} = {after.get(target)!r}"
    for key, value in updated.data.items():
        assert after.get(moved.get(key, key)) == value, f"{key} given at render time"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_the_updated_project_passes_its_own_tests(updated: Updated):
    result = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"], updated.by_copier)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]


def test_the_updated_project_plans_clean(updated: Updated):
    result = _run([sys.executable, "-m", "generator", "plan", "--env", "all", "--check"], updated.by_copier)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_questions_removed_since_the_previous_release_have_a_migration(paths: Paths):
    """A renamed or removed question without a `_migrations` entry would lose projects' answers."""
    old = questions(git(paths.checkout.path, "show", f"{paths.previous.commit}:copier.yml"))
    config = (REPO / "copier.yml").read_text()
    gone = old - questions(config)
    moved = migrations(config)
    assert sorted(gone - set(moved)) == [], "add a rename/remove entry to copier.yml's _migrations"
    for old_name, new_name in moved.items():
        if old_name in gone and new_name is not None:
            assert new_name in questions(config), f"migration renames {old_name} to unknown {new_name}"
