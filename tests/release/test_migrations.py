"""copier `_migrations` carry answers over question renames and removals (docs/releasing.md).

A template at v1.0.0 (this checkout's) renders a project; v2.0.0 renames the question `owner` to
`team`; `copier update` with the migration entry keeps the project's answer, without it the answer
is lost to the default — so the test shows the migration is what keeps it.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, git, serving_canonical_url

JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
MIGRATION = """_migrations:
  - version: v2.0.0
    when: "{{ _stage == 'before' }}"
    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/migrations/answers.py", "rename", "owner", "team"]
"""


def rename_in_jinja(text: str, old: str, new: str) -> str:
    """Rename a variable inside Jinja expressions and statements only, never in plain text."""
    return JINJA.sub(lambda m: re.sub(rf"\b{old}\b", new, m.group()), text)


def _template_v1(path: Path) -> Path:
    path.mkdir()
    for name in ("copier.yml", "templates", "migrations"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, path / name)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "v1.0.0")
    git(path, "tag", "v1.0.0")
    return path


def _release_v2_renaming_owner(template: Path, with_migration: bool) -> None:
    config = template / "copier.yml"
    text = rename_in_jinja(config.read_text(), "owner", "team")
    text, count = re.subn(r"^owner:", "team:", text, flags=re.M)
    assert count == 1
    if with_migration:
        assert "_migrations: []\n" in text, "copier.yml's settings block declares _migrations"
        text = text.replace("_migrations: []\n", MIGRATION)
    config.write_text(text)
    for path in (template / "templates").rglob("*.jinja"):
        path.write_text(rename_in_jinja(path.read_text(), "owner", "team"))
    git(template, "commit", "-qam", "v2.0.0: owner is now team")
    git(template, "tag", "v2.0.0")


def _answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


@pytest.mark.parametrize("with_migration", [True, False], ids=["with-migration", "without-migration"])
def test_a_renamed_question_keeps_the_projects_answer_only_through_the_migration(tmp_path, with_migration):
    import copier
    from copier.errors import DirtyLocalWarning

    template = _template_v1(tmp_path / "template")
    project = tmp_path / "project"
    data = {"project_name": "churn", "owner": "Data Science Team", "serving": "batch"}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_copy(str(template), project, data=data, defaults=True, vcs_ref="v1.0.0", quiet=True)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "scaffold")
    before = _answers(project)
    assert before["owner"] == "Data Science Team"

    _release_v2_renaming_owner(template, with_migration)
    with warnings.catch_warnings(), serving_canonical_url(template):
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_update(project, vcs_ref="v2.0.0", defaults=True, overwrite=True, quiet=True, unsafe=True)

    after = _answers(project)
    assert "owner" not in after
    assert after["_commit"] == "v2.0.0"
    if not with_migration:
        assert after["team"] == "ML Platform Team", "without the migration the answer is lost"
        return
    assert after["team"] == "Data Science Team"
    assert "Data Science Team" in (project / "pyproject.toml").read_text()
    unchanged = {k: v for k, v in before.items() if not k.startswith("_") and k != "owner"}
    assert {k: after.get(k) for k in unchanged} == unchanged, "every other answer survived"


def test_migrations_need_trust_as_docs_say(tmp_path):
    """An update that crosses a migration refuses to run untrusted, rather than losing answers."""
    import copier
    from copier.errors import DirtyLocalWarning, UnsafeTemplateError

    template = _template_v1(tmp_path / "template")
    project = tmp_path / "project"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_copy(
            str(template), project, data={"owner": "Team A"}, defaults=True, vcs_ref="v1.0.0", quiet=True
        )
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "scaffold")
    _release_v2_renaming_owner(template, with_migration=True)
    with serving_canonical_url(template), pytest.raises(UnsafeTemplateError, match="migrations"):
        copier.run_update(project, vcs_ref="v2.0.0", defaults=True, overwrite=True, quiet=True)
    assert _answers(project)["owner"] == "Team A", "nothing changed"


def test_answers_script_rename_and_remove_edge_cases(tmp_path):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("migration_answers", REPO / "migrations" / "answers.py")
    answers_py = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = answers_py
    spec.loader.exec_module(answers_py)
    path = tmp_path / ".copier-answers.yml"
    path.write_text(
        "# Changes here will be overwritten by Copier\n_commit: v1.0.0\na: 1\nowner: X\nz: [1, 2]\n"
    )
    assert answers_py.main(["--answers-file", str(path), "rename", "owner", "team"]) == 0
    assert path.read_text().startswith("# Changes here will be overwritten by Copier\n")
    assert list(yaml.safe_load(path.read_text()).items()) == [
        ("_commit", "v1.0.0"),
        ("a", 1),
        ("team", "X"),
        ("z", [1, 2]),
    ]
    assert answers_py.main(["--answers-file", str(path), "rename", "owner", "team"]) == 0, "idempotent"
    assert yaml.safe_load(path.read_text())["team"] == "X"
    assert answers_py.main(["--answers-file", str(path), "remove", "z"]) == 0
    assert "z" not in yaml.safe_load(path.read_text())
    assert answers_py.main(["--answers-file", str(tmp_path / "missing.yml"), "remove", "z"]) == 2
