"""Render at one tagged template version, edit, `copier update` to the next: the edit survives."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import yaml

from generator.fleet.template import copier_url

from .conftest import REPO, git, render


def _template_repo(path: Path) -> Path:
    path.mkdir()
    shutil.copy2(REPO / "copier.yml", path / "copier.yml")
    shutil.copytree(REPO / "templates", path / "templates", ignore=shutil.ignore_patterns("__pycache__"))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "v0.1.0")
    git(path, "tag", "v0.1.0")
    return path


def test_update_to_the_next_tag_keeps_user_edits(tmp_path):
    import copier
    from copier.errors import DirtyLocalWarning
    from plumbum import local

    template = _template_repo(tmp_path / "template")
    project = render(tmp_path / "project", {"project_name": "churn"}, template=template, vcs_ref="v0.1.0")
    assert "mlops-forge-azure==0.1.0" in (project / "infra" / "requirements.txt").read_text()
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "scaffold")

    # The user edits a generated file and their data.
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Our notes\n\nKeep the churn threshold at 0.4.\n")
    (project / "data" / "churn.csv").write_text(
        "tenure_months,monthly_charges,support_calls,contract,churned\n"
    )
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "our edits")

    # The template changes and is released as v0.2.0.
    makefile = template / "templates" / "ml-project" / "Makefile.jinja"
    makefile.write_text(makefile.read_text() + "\n# Added in v0.2.0.\nclean:\n\trm -rf outputs mlruns\n")
    git(template, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "v0.2.0")
    git(template, "tag", "v0.2.0")

    # The answers file records the canonical URL; git's URL rewriting maps it to the local template
    # (copier runs git through plumbum, whose environment is its own copy).
    rewrite = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{template}.insteadOf",
        "GIT_CONFIG_VALUE_0": copier_url(
            yaml.safe_load((project / ".copier-answers.yml").read_text())["_src_path"]
        ),
    }
    with warnings.catch_warnings(), local.env(**rewrite):
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_update(project, vcs_ref="v0.2.0", defaults=True, overwrite=True, quiet=True)

    assert "Keep the churn threshold at 0.4." in readme.read_text()
    assert "clean:" in (project / "Makefile").read_text()
    assert (project / "data" / "churn.csv").read_text().count("\n") == 1, "data/ belongs to the user"
    assert "mlops-forge-azure==0.2.0" in (project / "infra" / "requirements.txt").read_text()
    assert "_commit: v0.2.0" in (project / ".copier-answers.yml").read_text()
