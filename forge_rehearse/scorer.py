"""A deployment's scoring script, loaded once and kept serving between `az` calls.

An online deployment in Azure is a container that ran `init()` once and answers `run()` per
request. The double does the same: `az ml online-deployment create` starts this process
(`python -m forge_rehearse.scorer SOCKET CODE ENTRY`), which runs `init()` and then answers
requests on a Unix socket until it is told to stop, its deployment is deleted, or it has been idle
for IDLE_SECONDS. Each request is one JSON document: {"body": "<request text>"} or {"stop": true}.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import sys
import traceback
from pathlib import Path

IDLE_SECONDS = 900


def _read(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def request(path: str, payload: dict, timeout: float = 300) -> dict:
    """Send one request to the scorer at `path` and return its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(path)
        conn.sendall(json.dumps(payload).encode())
        conn.shutdown(socket.SHUT_WR)
        return json.loads(_read(conn) or b"{}")


def serve(path: str, code: str, entry_name: str) -> int:
    extra = [p for p in os.environ.get("FORGE_SCORER_PATH", "").split(os.pathsep) if p]
    sys.path[:0] = [*extra, code]
    entry = importlib.import_module(entry_name)
    entry.init()  # a crash here is a deployment that never becomes ready
    Path(path).unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(4)
        server.settimeout(IDLE_SECONDS)
        while True:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                break
            with conn:
                payload = json.loads(_read(conn) or b"{}")
                if payload.get("stop"):
                    conn.sendall(b'{"stopped": true}')
                    break
                try:
                    answer = {"ok": True, "answer": entry.run(payload.get("body", ""))}
                except Exception:  # the scoring script's own failure is the answer, as a 500 would be
                    answer = {"ok": False, "error": traceback.format_exc(limit=3)}
                conn.sendall(json.dumps(answer, default=str).encode())
    Path(path).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(serve(*sys.argv[1:4]))
