"""Map one worker over the fleet: in-process for `--jobs 1`, else in worker processes.

`fleet status` and `fleet update` both run here. Workers are processes, not threads: copier's
update changes the process's working directory. Each worker is its own process group and dies
with the run, taking the git and copier processes it started along:
- Ctrl-C or SIGTERM (`cli.main` raises `KeyboardInterrupt` for both): no new repository
  starts, each worker's process group is killed, the repositories under way are reported
  `cancelled`, and the caller still prints its summary and writes its report. A repository is
  never left half-updated by this: its branch is created in one step at the very end.
- `kill -9` of the run: each worker is told by the kernel (`PR_SET_PDEATHSIG`) and, where that
  does not exist, notices within a second that its parent is gone; either way it kills its
  process group.
- A worker that dies (killed, out of memory) costs only its repository, reported as such; a
  new worker takes over the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

from generator.errors import ExitCode
from generator.fleet.progress import Progress
from generator.fleet.results import Outcome, State, StatusResult, UpdateResult
from generator.fleet.status import status_one
from generator.fleet.targets import Target
from generator.fleet.update import UpdateSettings, update_one
from generator.fleet.workspace import workspace

R = TypeVar("R")
_PR_SET_PDEATHSIG = 1
_GRACE = 5.0  # seconds a stopped worker gets before SIGKILL


@dataclass(frozen=True)
class FleetRun(Generic[R]):
    results: list[R]  # in target order
    stopped: ExitCode | None  # set when Ctrl-C or SIGTERM ended the run early
    seconds: float

    @property
    def interrupted(self) -> bool:
        return self.stopped is not None


CANCELLED = "stopped before this repository finished: run the same command again"


def run_each(
    work: Callable[[Target], R],
    targets: Sequence[Target],
    *,
    jobs: int,
    progress: Progress,
    failed: Callable[[Target, str], R],
    cancelled: Callable[[Target], R],
) -> FleetRun[R]:
    """`work(target)` for each target, in target order.

    `failed(target, reason)` stands in for a repository whose worker died, `cancelled(target)`
    for one a stop left unfinished.
    """
    start = time.monotonic()
    results: list[R | None] = [None] * len(targets)
    try:
        if jobs <= 1 or len(targets) <= 1:
            stopped = _run_inline(work, targets, results, progress)
        else:
            stopped = _Pool(work, targets, results, jobs, progress, failed).run()
    finally:
        progress.close()
    done = [r if r is not None else cancelled(t) for t, r in zip(targets, results, strict=True)]
    return FleetRun(done, stopped, time.monotonic() - start)


def _stop_code(exc: KeyboardInterrupt) -> ExitCode:
    return ExitCode(getattr(exc, "exit_code", ExitCode.INTERRUPTED))


def _run_inline(
    work: Callable[[Target], R], targets: Sequence[Target], results: list[R | None], progress: Progress
) -> ExitCode | None:
    try:
        for index, target in enumerate(targets):
            progress.started(target.shown)
            results[index] = result = work(target)
            progress.finished(result)
    except KeyboardInterrupt as exc:
        return _stop_code(exc)
    return None


# The worker side ---------------------------------------------------------------------------


def _kill_own_group(*_: object) -> None:
    os.killpg(0, signal.SIGKILL)


def _die_with(parent: int) -> None:
    """Make this worker, and everything it starts, end when the run does."""
    os.setpgrp()  # its own process group: one kill reaches the git and copier processes it started
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run decides what Ctrl-C means
    signal.signal(signal.SIGTERM, _kill_own_group)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    def watch() -> None:  # where PDEATHSIG does not exist, and for the race before it was set
        while os.getppid() == parent:
            time.sleep(1.0)
        _kill_own_group()

    threading.Thread(target=watch, daemon=True).start()


def _serve(conn: multiprocessing.connection.Connection, work: Callable[[Target], Any], parent: int) -> None:
    _die_with(parent)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        index, target = job
        conn.send((index, work(target)))


# The run's side ----------------------------------------------------------------------------


class _Worker:
    def __init__(self, context: Any, work: Callable[[Target], Any]) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, work, os.getpid()), daemon=True)
        self.process.start()
        child.close()
        self.index: int | None = None

    def stop(self) -> None:
        """Kill the worker's process group; wait for it a moment, then make sure."""
        if self.process.is_alive() and self.process.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
        self.process.join(_GRACE)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class _Pool(Generic[R]):
    def __init__(
        self,
        work: Callable[[Target], R],
        targets: Sequence[Target],
        results: list[R | None],
        jobs: int,
        progress: Progress,
        failed: Callable[[Target, str], R],
    ) -> None:
        self.work, self.targets, self.results = work, targets, results
        self.jobs, self.progress, self.failed = min(jobs, len(targets)), progress, failed
        self.context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self.queue = iter(range(len(targets)))
        self.workers: list[_Worker] = []

    def _feed(self, worker: _Worker) -> None:
        worker.index = next(self.queue, None)
        if worker.index is not None:
            self.progress.started(self.targets[worker.index].shown)
            worker.conn.send((worker.index, self.targets[worker.index]))

    def _finish(self, index: int, result: R) -> None:
        self.results[index] = result
        self.progress.finished(result)

    def run(self) -> ExitCode | None:
        try:
            for _ in range(self.jobs):
                worker = _Worker(self.context, self.work)
                self.workers.append(worker)
                self._feed(worker)
            while busy := [w for w in self.workers if w.index is not None]:
                ready = multiprocessing.connection.wait(
                    [w.conn for w in busy] + [w.process.sentinel for w in busy]
                )
                for worker in busy:
                    self._collect(worker, ready)
            return None
        except KeyboardInterrupt as exc:
            return _stop_code(exc)
        finally:
            for worker in self.workers:
                if worker.index is None and worker.process.is_alive():
                    with contextlib.suppress(OSError):
                        worker.conn.send(None)
            for worker in self.workers:
                worker.stop()

    def _collect(self, worker: _Worker, ready: list[Any]) -> None:
        index = worker.index
        assert index is not None
        if worker.conn in ready or worker.conn.poll():
            try:
                done, result = worker.conn.recv()
            except (EOFError, OSError):
                pass
            else:
                self._finish(done, result)
                self._feed(worker)
                return
        if worker.process.sentinel in ready or not worker.process.is_alive():
            worker.process.join()
            code = worker.process.exitcode
            reason = f"worker process died ({_death(code)}) while updating this repository; run again"
            self._finish(index, self.failed(self.targets[index], reason))
            worker.stop()
            self.workers.remove(worker)
            replacement = _Worker(self.context, self.work)
            self.workers.append(replacement)
            self._feed(replacement)


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def update_fleet(
    targets: Sequence[Target],
    settings: UpdateSettings,
    *,
    jobs: int,
    workdir: Path | None,
    progress: Progress,
) -> FleetRun[UpdateResult]:
    with workspace(workdir, settings.template, settings.network_timeout) as paths:
        return run_each(
            partial(update_one, settings=settings, paths=paths),
            targets,
            jobs=jobs,
            progress=progress,
            failed=lambda target, reason: UpdateResult(target.shown, Outcome.ERROR, error=reason),
            cancelled=lambda target: UpdateResult(target.shown, Outcome.CANCELLED, error=CANCELLED),
        )


def status_fleet(
    targets: Sequence[Target],
    *,
    template: str | None,
    remote: str,
    jobs: int,
    workdir: Path | None,
    progress: Progress,
    timeout: float | None = None,
) -> FleetRun[StatusResult]:
    with workspace(workdir, template, timeout) as paths:
        return run_each(
            partial(status_one, paths=paths, remote=remote, timeout=timeout),
            targets,
            jobs=jobs,
            progress=progress,
            failed=lambda target, reason: StatusResult(target.shown, State.ERROR, error=reason),
            cancelled=lambda target: StatusResult(target.shown, State.ERROR, error=CANCELLED),
        )
