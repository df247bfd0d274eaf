"""Where one fleet run keeps its clones, throwaway work copies and template mirrors."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from generator.fleet.template import TemplateCache


@dataclass(frozen=True)
class RunPaths:
    clones: Path  # clones of URL targets: `--workdir` (kept, so a rerun fetches), else temporary
    scratch: Path  # throwaway clones the updates run in
    templates: TemplateCache  # one mirror per template source, shared by the workers
    pace: Path  # when the run last sent GitHub a content-creating request (see github.py)


@contextmanager
def workspace(workdir: Path | None, template: str | None, timeout: float | None = None) -> Iterator[RunPaths]:
    """A run's directories; everything but `workdir` is removed at the end."""
    root = Path(tempfile.mkdtemp(prefix="mlops-forge-fleet-"))
    try:
        yield RunPaths(
            clones=workdir.resolve() if workdir else root / "clones",
            scratch=root / "work",
            templates=TemplateCache(root / "templates", template, timeout),
            pace=root / "github-pace",
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
