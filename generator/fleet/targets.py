"""Fleet targets: local checkouts or git URLs, from the command line or a file (one per line)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.errors import UserError
from generator.fleet.git import clone, git, is_repository, redact

Auth = Callable[[Path, str], dict[str, str]]
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """One repository to look at: `spec` as the user wrote it."""

    spec: str

    @property
    def is_url(self) -> bool:
        return bool(_URL.match(self.spec))

    @property
    def shown(self) -> str:
        """The spec as printed and reported: any password in it replaced by `***`."""
        return redact(self.spec)

    @property
    def identity(self) -> str:
        """What makes two specs the same repository: the real path (symlinks, `./`, a trailing
        `/` resolved), or the URL without credentials, trailing `/` or `.git`."""
        if not self.is_url:
            return str(Path(self.spec).expanduser().resolve())
        url = re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", self.spec, flags=re.IGNORECASE)
        return url.rstrip("/").removesuffix(".git").lower()

    @property
    def slug(self) -> str:
        """A directory name for this target's clone: readable, and unique by a short hash."""
        tail = re.sub(r"[^\w.-]+", "-", self.spec.rstrip("/").removesuffix(".git"))[-40:].strip("-.")
        return f"{tail or 'repo'}-{hashlib.sha256(self.spec.encode()).hexdigest()[:8]}"


def read_targets(specs: Iterable[str], from_file: Path | None) -> list[Target]:
    """Targets in order, duplicates dropped; `from_file` lines are stripped, `#` starts a comment."""
    found = list(specs)
    if from_file is not None:
        try:
            text = Path(from_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read --from {from_file}: {exc.strerror}") from exc
        found.extend(line.split("#", 1)[0].strip() for line in text.splitlines())
    unique: dict[str, Target] = {}
    for spec in found:
        if spec:
            target = Target(spec)
            unique.setdefault(target.identity, target)
    if not unique:
        raise UserError("no targets: give repository paths or URLs, or --from FILE with one per line")
    return list(unique.values())


def checkout(
    target: Target, workdir: Path, remote: str, auth: Auth | None = None, timeout: float | None = None
) -> Path:
    """The local repository for `target`: the path itself, or a clone of the URL kept in `workdir`.

    A clone that already exists (a resumed run with `--workdir`) is fetched, not cloned again.
    `auth(repo, url)` gives the environment that authenticates git to the URL's host.
    """
    if not target.is_url:
        return Path(target.spec).expanduser().resolve()
    path = workdir / target.slug
    env = auth(workdir, target.spec) if auth else None
    if is_repository(path):
        git(path, "fetch", "--quiet", "--prune", remote, env=env, timeout=timeout)
    else:
        clone(target.spec, path, "--origin", remote, "--no-checkout", env=env, timeout=timeout)
    return path
