"""Stand-ins wired into the environment the way a user's machine is: `az` on PATH, a GitHub token,
the Resource Manager endpoint; one rendered project shared by the tests of a session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from bootstrap_standins import (
    FakeArm,
    FakeGitHub,
    FakePulumiCloud,
    install_fake_az,
    render,
    self_signed_certificate,
)


@pytest.fixture(scope="session")
def project(tmp_path_factory) -> Path:
    """A default project (my-org/ml-demo, azblob state, reviewers my-org/ml-approvers)."""
    return render(tmp_path_factory.mktemp("azblob") / "project", {})


@pytest.fixture(scope="session")
def cloud_project(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("cloud") / "project", {"state_backend": "pulumi-cloud"})


@pytest.fixture(scope="session")
def tls(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def arm(tls, monkeypatch):
    server = FakeArm(tls)
    monkeypatch.setenv("MLOPS_FORGE_ARM_URL", server.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls[0]))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    yield server
    server.close()


@pytest.fixture
def github(monkeypatch):
    server = FakeGitHub()
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    monkeypatch.setenv("GITHUB_TOKEN", server.state.token)
    yield server
    server.close()


@pytest.fixture
def az(tmp_path, monkeypatch) -> Path:
    """The az stand-in first on PATH (nothing else from the machine: no real az, gh or pulumi)."""
    bin_dir = tmp_path / "bin"
    state = install_fake_az(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_AZ_STATE", str(state))
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-config"))
    return state


@pytest.fixture
def pulumi_cloud(tmp_path, monkeypatch):
    server = FakePulumiCloud()
    home = tmp_path / "pulumi-home"
    home.mkdir()
    monkeypatch.setenv("PULUMI_HOME", str(home))
    monkeypatch.delenv("PULUMI_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    yield server, home
    server.close()
