"""The mlops-forge wheel, built from this checkout, served the way generated projects install it.

`build_wheel` builds it once; `SimpleIndex` serves a directory of wheels as a PEP 503 simple index
on 127.0.0.1 (what a private feed such as Azure Artifacts or devpi offers), so a project rendered
with `package_index=<its URL>` resolves `mlops-forge-azure==<version>` from it like from PyPI.
"""

from __future__ import annotations

import functools
import html
import http.server
import re
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_wheel(dest: Path) -> Path:
    """Build this checkout's wheel into `dest` (an isolated build, like a release would)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = dest.glob("mlops_forge_azure-*.whl")
    return wheel


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def write_simple_index(wheels: Path, root: Path) -> Path:
    """Lay out `root/simple/<project>/index.html` linking to each wheel in `wheels`."""
    projects: dict[str, list[Path]] = {}
    for wheel in sorted(wheels.glob("*.whl")):
        projects.setdefault(_normalise(wheel.name.split("-")[0]), []).append(wheel)
    simple = root / "simple"
    for project, files in projects.items():
        folder = simple / project
        folder.mkdir(parents=True, exist_ok=True)
        links = "".join(f'<a href="{html.escape(f.name)}">{html.escape(f.name)}</a>\n' for f in files)
        (folder / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
        for f in files:
            (folder / f.name).write_bytes(f.read_bytes())
    (simple / "index.html").write_text(
        "".join(f'<a href="{p}/">{p}</a>\n' for p in sorted(projects)), encoding="utf-8"
    )
    return simple


class SimpleIndex:
    """A static simple index on 127.0.0.1 in a daemon thread; `url` ends with /simple/."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/simple/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SimpleIndex:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
