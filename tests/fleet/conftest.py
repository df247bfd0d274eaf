"""Real git repositories in temporary directories: a template with two tagged versions, and
projects generated from its first version."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import copier
import pytest

# The tests import their helpers as `fleet_repos`, whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).parent))
from fleet_repos import RICH_V1, RICH_V2, V1, V2, commit_all, run_git, tagged_template, write_tree
from github_standin import GitHubStandIn


@pytest.fixture(scope="session")
def _git_identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """CI may have no git identity or a global config of its own: give the tests theirs."""
    config = tmp_path_factory.mktemp("gitconfig") / "config"
    config.write_text('[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n')
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {
            "GIT_AUTHOR_NAME": "Fleet Test",
            "GIT_AUTHOR_EMAIL": "fleet@example.invalid",
            "GIT_COMMITTER_NAME": "Fleet Test",
            "GIT_COMMITTER_EMAIL": "fleet@example.invalid",
            "GIT_CONFIG_GLOBAL": str(config),
            "GIT_CONFIG_NOSYSTEM": "1",
        }.items():
            patch.setenv(key, value)
        patch.delenv("GITHUB_TOKEN", raising=False)
        patch.delenv("GITHUB_API_URL", raising=False)
        yield


@pytest.fixture(autouse=True)
def _isolated(_git_identity: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPIER_CACHE_DIR", str(tmp_path / "copier-cache"))


@pytest.fixture(scope="session")
def template(_git_identity: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository tagged v1.0.0 and v2.0.0."""
    return tagged_template(tmp_path_factory.mktemp("template") / "template", {"v1.0.0": V1, "v2.0.0": V2})


@pytest.fixture(scope="session")
def rich_template(_git_identity: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second template (binary, executable, symlink, CRLF, quoted path, deletions, a new validator)."""
    root = tmp_path_factory.mktemp("rich") / "rich-template"
    root.mkdir()
    run_git(root, "init", "--quiet", "-b", "main")
    write_tree(root, RICH_V1)
    (root / "link").symlink_to("target-a.txt")
    commit_all(root, "v1")
    run_git(root, "tag", "v1.0.0")
    write_tree(root, RICH_V2)
    (root / "link").unlink()
    (root / "link").symlink_to("target-b.txt")
    (root / "run.sh").chmod(0o755)
    commit_all(root, "v2")
    run_git(root, "tag", "v2.0.0")
    return root


Factory = Callable[..., Path]


@pytest.fixture
def make_project(template: Path, tmp_path: Path) -> Factory:
    """`make_project(name, version="v1.0.0", template=None, data=None)`: a committed project on main."""

    def make(
        name: str, version: str = "v1.0.0", template_dir: Path | None = None, data: dict | None = None
    ) -> Path:
        dest = tmp_path / "projects" / name
        source = template_dir or template
        copier.run_copy(str(source), dest, vcs_ref=version, defaults=True, quiet=True, data=data or {})
        run_git(dest, "init", "--quiet", "-b", "main")
        commit_all(dest, "generated")
        return dest

    return make


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    """The GitHub API stand-in, with GITHUB_TOKEN and GITHUB_API_URL pointing the fleet at it."""
    standin = GitHubStandIn().start()
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test-token-0123456789")
    monkeypatch.setenv("GITHUB_API_URL", standin.url)
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def silent_remote() -> Iterator[str]:
    """An http git remote that accepts connections and never answers."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/acme/silent.git"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
