"""`mlops-forge new`: flags, destination rules and the default template, on tiny throwaway templates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import generator
from generator import scaffold
from generator.cli import main
from generator.errors import UserError

TINY = {
    "copier.yml": (
        "_subdirectory: tpl\n_templates_suffix: .jinja\n"
        "name:\n  type: str\n  help: a name\n  default: demo\n"
        '  validator: "{% if name | length < 3 %}name must be at least 3 characters.{% endif %}"\n'
        "count:\n  type: int\n  help: how many\n  default: 1\n"
        "flag:\n  type: bool\n  help: on or off\n  default: false\n"
    ),
    "tpl/README.md.jinja": "# {{ name }} x{{ count }} flag={{ flag }}\n",
    "tpl/{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers | to_nice_yaml }}",
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    """A template repository built from a dict of files, tagged v1.0.0."""
    root = tmp_path / "tiny"
    for name, content in TINY.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")
    git(root, "tag", "v1.0.0")
    return root


def new(tiny: Path, dest: Path, *extra: str) -> int:
    return main(["new", str(dest), "--template", str(tiny), "--defaults", *extra])


def test_renders_with_data(tiny, tmp_path, capsys):
    dest = tmp_path / "out"
    assert new(tiny, dest, "--data", "name=churn", "--data", "count=3", "--data", "flag=yes") == 0
    assert (dest / "README.md").read_text() == "# churn x3 flag=True\n"
    assert "_commit: v1.0.0" in (dest / ".copier-answers.yml").read_text()
    assert f"Created out in {dest}" in capsys.readouterr().out


def test_vcs_ref_picks_the_template_version(tiny, tmp_path):
    (tiny / "tpl" / "README.md.jinja").write_text("# v2 {{ name }}\n")
    git(tiny, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "two")
    assert new(tiny, tmp_path / "old", "--vcs-ref", "v1.0.0") == 0
    assert new(tiny, tmp_path / "head", "--vcs-ref", "HEAD") == 0
    assert (tmp_path / "old" / "README.md").read_text().startswith("# demo x1")
    assert (tmp_path / "head" / "README.md").read_text() == "# v2 demo\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("name", "KEY=VALUE"),
        ("=x", "KEY=VALUE"),
        ("nme=x", "unknown answer nme"),
        ("count=many", "count must be a whole number"),
        ("flag=perhaps", "flag must be true or false"),
        ("name=ab", "name must be at least 3 characters"),
    ],
)
def test_bad_data_is_one_clean_line_and_writes_nothing(tiny, tmp_path, capsys, data, message):
    dest = tmp_path / "out"
    assert new(tiny, dest, "--data", data) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not dest.exists()


def test_duplicate_data_is_refused(tiny, tmp_path, capsys):
    assert new(tiny, tmp_path / "out", "--data", "name=abc", "--data", "name=abd") == 2
    assert "name twice" in capsys.readouterr().err


def test_refuses_a_non_empty_directory_unless_forced(tiny, tmp_path, capsys):
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    assert new(tiny, dest) == 2
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt"]
    assert new(tiny, dest, "--force") == 0
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "README.md").is_file()


def test_refuses_a_file_as_destination(tiny, tmp_path, capsys):
    dest = tmp_path / "file"
    dest.write_text("x")
    assert new(tiny, dest) == 2
    assert "not a directory" in capsys.readouterr().err


def test_re_renders_an_existing_project(tiny, tmp_path):
    dest = tmp_path / "out"
    assert new(tiny, dest, "--data", "name=first") == 0
    assert new(tiny, dest, "--data", "name=second") == 0
    assert (dest / "README.md").read_text().startswith("# second")


def test_failure_after_start_removes_only_what_it_created(tiny, tmp_path, monkeypatch):
    import copier

    dest = tmp_path / "empty"
    dest.mkdir()

    def explode(template, dst, **kwargs):
        Path(dst, "half-written.txt").write_text("x")
        raise OSError("disk full")

    monkeypatch.setattr(copier, "run_copy", explode)
    with pytest.raises(UserError, match="disk full"):
        scaffold.new_project(scaffold.NewSettings(dest=dest, template=str(tiny), defaults=True))
    assert dest.is_dir() and list(dest.iterdir()) == []
    fresh = tmp_path / "fresh"
    with pytest.raises(UserError):
        scaffold.new_project(scaffold.NewSettings(dest=fresh, template=str(tiny), defaults=True))
    assert not fresh.exists()


def test_default_template_is_this_repository():
    template, ref = scaffold.default_template()
    root = Path(generator.__file__).resolve().parents[1]
    assert template == str(root)
    assert ref in (f"v{generator.__version__}", "HEAD")
    assert scaffold.default_template("999.0.0")[1] == "HEAD"


def test_default_template_renders_the_ml_project(tmp_path):
    dest = tmp_path / "demo"
    assert main(["new", str(dest), "--defaults", "--data", "project_name=demo-app"]) == 0
    assert (dest / "src" / "demo_app" / "train.py").is_file()
    assert (dest / "infra" / "Pulumi.prod.yaml").is_file()
