"""Map one worker over the fleet: in-process for `--jobs 1`, else in parallel.

Updates run in processes (copier changes the process's working directory); status, which only
calls git, in threads. On Ctrl-C no new repository starts; the ones under way finish (worker
processes ignore SIGINT, so a repository is never cut in half by it) and the run returns what it
has, marked interrupted, so the caller can still print its summary.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Generic, TypeVar

from generator.fleet.progress import Progress
from generator.fleet.results import Outcome, State, StatusResult, UpdateResult
from generator.fleet.status import status_one
from generator.fleet.targets import Target
from generator.fleet.update import UpdateSettings, update_one
from generator.fleet.workspace import workspace

R = TypeVar("R")


@dataclass(frozen=True)
class FleetRun(Generic[R]):
    results: list[R]  # in target order
    interrupted: bool
    seconds: float


UNFINISHED = "interrupted before this repository finished: run the same command again"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_each(
    work: Callable[[Target], R],
    targets: Sequence[Target],
    *,
    jobs: int,
    progress: Progress,
    failed: Callable[[Target, str], R],
    processes: bool = True,
) -> FleetRun[R]:
    """`work(target)` for each target, in target order.

    `failed(target, reason)` stands in for a repository whose worker died or that Ctrl-C left
    unfinished.
    """
    start = time.monotonic()
    results: list[R | None] = [None] * len(targets)
    try:
        if jobs <= 1 or len(targets) <= 1:
            interrupted = _run_inline(work, targets, results, progress)
        else:
            interrupted = _run_pool(work, targets, results, jobs, progress, failed, processes)
    finally:
        progress.close()
    done = [r if r is not None else failed(t, UNFINISHED) for t, r in zip(targets, results, strict=True)]
    return FleetRun(done, interrupted, time.monotonic() - start)


def _run_inline(
    work: Callable[[Target], R], targets: Sequence[Target], results: list[R | None], progress: Progress
) -> bool:
    try:
        for index, target in enumerate(targets):
            progress.started(target.spec)
            results[index] = result = work(target)
            progress.finished(result)
    except KeyboardInterrupt:
        return True
    return False


def _run_pool(
    work: Callable[[Target], R],
    targets: Sequence[Target],
    results: list[R | None],
    jobs: int,
    progress: Progress,
    failed: Callable[[Target, str], R],
    processes: bool,
) -> bool:
    """Fill `results` from a pool of `jobs` workers; True when Ctrl-C stopped the run."""
    executor: Executor
    if processes:
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        executor = ProcessPoolExecutor(jobs, mp_context=context, initializer=_ignore_sigint)
    else:
        executor = ThreadPoolExecutor(jobs)
    queue = iter(enumerate(targets))
    interrupted = False
    pending: dict[Future[R], int] = {}

    def submit_next() -> None:
        for index, target in queue:
            progress.started(target.spec)
            try:
                pending[executor.submit(work, target)] = index
            except BrokenExecutor:  # a worker died earlier and took the pool with it
                results[index] = result = failed(target, "not run: a worker process died; run again")
                progress.finished(result)
                continue
            return

    def collect(future: Future[R]) -> None:
        index = pending.pop(future)
        try:
            result = future.result()
        except Exception as exc:  # the worker process died (killed, out of memory): say so
            result = failed(targets[index], f"worker died: {type(exc).__name__}: {exc}")
        results[index] = result
        progress.finished(result)

    try:
        for _ in range(jobs):
            submit_next()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                collect(future)
                submit_next()
    except KeyboardInterrupt:
        interrupted = True
        for future in list(pending):
            if future.cancel():
                pending.pop(future)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                collect(future)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return interrupted


def update_fleet(
    targets: Sequence[Target],
    settings: UpdateSettings,
    *,
    jobs: int,
    workdir: Path | None,
    progress: Progress,
) -> FleetRun[UpdateResult]:
    with workspace(workdir, settings.template) as paths:
        return run_each(
            partial(update_one, settings=settings, paths=paths),
            targets,
            jobs=jobs,
            progress=progress,
            failed=lambda target, reason: UpdateResult(target.spec, Outcome.ERROR, error=reason),
        )


def status_fleet(
    targets: Sequence[Target],
    *,
    template: str | None,
    remote: str,
    jobs: int,
    workdir: Path | None,
    progress: Progress,
) -> FleetRun[StatusResult]:
    with workspace(workdir, template) as paths:
        return run_each(
            partial(status_one, paths=paths, remote=remote),
            targets,
            jobs=jobs,
            progress=progress,
            failed=lambda target, reason: StatusResult(target.spec, State.ERROR, error=reason),
            processes=False,
        )
