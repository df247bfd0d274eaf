"""release.yml, run under act (host mode) on a vX.Y.Z tag of this checkout, publishes to a local index.

The Marketplace actions are replaced by the stand-ins under standins/ (see its README); the publish
step uploads with twine to a pypiserver on 127.0.0.1, the way the real action uploads to PyPI.
Then, as a user would: `pip install mlops-forge-azure==X.Y.Z` from that index into a fresh venv, and
`mlops-forge new` + `mlops-forge plan --check` work.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from .conftest import Checkout, git

pytestmark = pytest.mark.act

HERE = Path(__file__).resolve().parent
STANDINS = HERE / "standins"
BIN = Path(sys.executable).parent
PINNED_USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
PYPI_SIMPLE = "https://pypi.org/simple/"


@dataclass(frozen=True)
class ReleaseRun:
    checkout: Checkout
    tag: str
    result: subprocess.CompletedProcess[str]
    store: Path
    index_url: str
    packages: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, server: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"pypi-server exited: {server.stderr.read()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("pypi-server did not start listening")


@pytest.fixture(scope="module")
def package_index(tmp_path_factory):
    """A pypiserver on 127.0.0.1 that takes uploads without credentials."""
    packages = tmp_path_factory.mktemp("index")
    port = _free_port()
    server = subprocess.Popen(
        [
            str(BIN / "pypi-server"),
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-a",
            ".",
            "-P",
            ".",
            "--disable-fallback",
            str(packages),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(port, server)
        yield f"http://127.0.0.1:{port}", packages
    finally:
        server.terminate()
        server.wait(timeout=10)


def _local_repositories(workflow: Path) -> list[str]:
    """`--local-repository owner/repo@sha=standin` for every action the workflow uses."""
    flags = []
    for action, sha in sorted(set(PINNED_USES.findall(workflow.read_text()))):
        standin = STANDINS / action.replace("/", "-")
        assert (standin / "action.yml").is_file(), f"no stand-in for {action} under {STANDINS}"
        flags += ["--local-repository", f"{action}@{sha}={standin}"]
    return flags


def run_release(checkout: Checkout, tag: str, index_url: str, work: Path) -> subprocess.CompletedProcess[str]:
    """act runs release.yml on a push of `tag`; stand-ins record what they did under work/store."""
    git(checkout.path, "tag", "-f", "-a", tag, "-m", f"mlops-forge {tag}")
    (work / "store").mkdir(parents=True)
    event = work / "event.json"
    event.write_text(json.dumps({"ref": f"refs/tags/{tag}"}))
    pip_cache = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    env = {
        **os.environ,
        # act's host workspace lives under the cache directory: a fresh one per run.
        "XDG_CACHE_HOME": str(work / "cache"),
        **({"PIP_CACHE_DIR": pip_cache} if pip_cache else {}),
        "PATH": f"{STANDINS / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    workflow = checkout.path / ".github" / "workflows" / "release.yml"
    command = [
        str(BIN / "act"), "push",
        "--eventpath", str(event),
        "--workflows", str(workflow),
        "-P", "ubuntu-24.04=-self-hosted",
        *_local_repositories(workflow),
        "--var", f"PACKAGE_INDEX_UPLOAD_URL={index_url}/",
        "--env", f"STANDIN_SOURCE={checkout.path}",
        "--env", f"STANDIN_STORE={work / 'store'}",
        "--env", f"STANDIN_BIN={BIN}",
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=checkout.path, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def release_run(working_tree: Checkout, package_index, tmp_path_factory) -> ReleaseRun:
    index_url, packages = package_index
    tag = f"v{working_tree.version}"
    git(working_tree.path, "remote", "set-url", "origin", "https://github.com/mlops-forge/mlops-forge.git")
    work = tmp_path_factory.mktemp("act")
    result = run_release(working_tree, tag, index_url, work)
    return ReleaseRun(working_tree, tag, result, work / "store", index_url, packages)


def _log(run: ReleaseRun) -> str:
    return (run.result.stdout + run.result.stderr)[-6000:]


def test_release_workflow_succeeds_and_runs_every_job(release_run):
    assert release_run.result.returncode == 0, _log(release_run)
    out = release_run.result.stdout
    jobs = yaml.safe_load((release_run.checkout.path / ".github/workflows/release.yml").read_text())["jobs"]
    assert list(jobs) == ["build", "publish", "github-release"]
    for job in jobs.values():
        assert re.search(rf"\[release/{re.escape(job['name'])}\s*\] 🏁  Job succeeded", out), _log(
            release_run
        )


def test_the_index_received_the_sdist_and_the_wheel(release_run):
    version = release_run.checkout.version
    names = sorted(p.name for p in release_run.packages.iterdir())
    assert names == [
        f"mlops_forge_azure-{version}-py3-none-any.whl",
        f"mlops_forge_azure-{version}.tar.gz",
    ], _log(release_run)


def test_provenance_was_attested_for_exactly_what_was_published(release_run):
    attested = {
        line.split()[1].removeprefix("dist/"): line.split()[0]
        for line in (release_run.store / "attestations.txt").read_text().splitlines()
    }
    published = {p.name: p for p in release_run.packages.iterdir()}
    assert set(attested) == set(published)

    for name, digest in attested.items():
        assert hashlib.sha256(published[name].read_bytes()).hexdigest() == digest, name


def test_the_github_release_carries_the_changelog_section(release_run):
    out = release_run.store / "gh-release"
    args = (out / "args.txt").read_text().splitlines()
    assert args[:3] == ["release", "create", release_run.tag]
    assert "--verify-tag" in args
    notes = (out / "notes.md").read_text()
    assert notes.startswith("### Upgrade notes\n")
    changelog = (release_run.checkout.path / "CHANGELOG.md").read_text()
    section = changelog.split(f"## [{release_run.checkout.version}]", 1)[1].split("\n## [", 1)[0]
    first_entry = next(line for line in section.splitlines() if line.startswith("- "))
    assert first_entry in notes
    assert sorted(p.name for p in out.glob("mlops_forge_azure-*")) == sorted(
        p.name for p in release_run.packages.iterdir()
    )


def test_a_tag_that_pyproject_does_not_declare_stops_before_anything_is_built(release_run, tmp_path):
    major, minor, patch = (int(p) for p in release_run.checkout.version.split("."))
    wrong = f"v{major}.{minor}.{patch + 1}"
    before = sorted(p.name for p in release_run.packages.iterdir())
    # A clone of its own: the wrong tag must not sit on the released commit of the other tests.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(release_run.checkout.path), str(clone)], check=True)
    checkout = Checkout(clone, release_run.checkout.head)
    result = run_release(checkout, wrong, release_run.index_url, tmp_path / "act")
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-4000:]
    assert f"tag {wrong} releases" in log and "pyproject.toml says" in log, log[-4000:]
    assert "Build sdist and wheel" not in log.split("pyproject.toml says", 1)[1]
    assert sorted(p.name for p in release_run.packages.iterdir()) == before, "nothing published"
    assert not (tmp_path / "act" / "store" / "gh-release").exists()


def test_pip_install_from_the_index_then_new_and_plan_work(release_run, tmp_path):
    assert release_run.result.returncode == 0, _log(release_run)
    version = release_run.checkout.version
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    report = tmp_path / "report.json"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "--report", str(report),
         "--index-url", f"{release_run.index_url}/simple/", "--extra-index-url", PYPI_SIMPLE,
         f"mlops-forge-azure=={version}"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    installed = {i["metadata"]["name"]: i for i in json.loads(report.read_text())["install"]}
    source = installed["mlops-forge-azure"]["download_info"]["url"]
    assert source.startswith(release_run.index_url), f"mlops-forge came from {source}"

    project = tmp_path / "churn"
    forge = env_dir / "bin" / "mlops-forge"
    new = subprocess.run(
        [str(forge), "new", str(project), "--defaults", "--data", "project_name=churn",
         "--template", str(release_run.checkout.path), "--vcs-ref", release_run.tag],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert new.returncode == 0, new.stderr[-3000:]
    pin = rf"^mlops-forge-azure=={re.escape(version)}$"  # by version from an index, never a URL
    assert re.search(pin, (project / "infra" / "requirements.txt").read_text(), re.M)
    plan = subprocess.run(
        [str(forge), "plan", str(project / "infra"), "--env", "all", "--check"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    for env in ("dev", "test", "prod"):
        assert re.search(rf"\b{env}\b", plan.stdout), plan.stdout[-2000:]
