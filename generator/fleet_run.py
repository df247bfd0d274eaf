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

from generator.fleet_progress import Progress
from generator.fleet_results import Outcome, State, StatusResult, UpdateResult
from generator.fleet_status import status_one
from generator.fleet_targets import Target
from generator.fleet_update import UpdateSettings, update_one
from generator.fleet_workspace import workspace

R = TypeVar("R")


@dataclass
class Run(Generic[R]):
    results: list[R | None]  # in target order; None for a repository that never finished
    interrupted: bool = False


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
) -> Run[R]:
    """`work(target)` for each target; `failed(target, reason)` stands in for a worker that died."""
    run: Run[R] = Run([None] * len(targets))
    if jobs <= 1 or len(targets) <= 1:
        try:
            for index, target in enumerate(targets):
                progress.started(target.spec)
                run.results[index] = work(target)
                progress.finished(run.results[index])
        except KeyboardInterrupt:
            run.interrupted = True
        return run
    executor: Executor
    if processes:
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        executor = ProcessPoolExecutor(jobs, mp_context=context, initializer=_ignore_sigint)
    else:
        executor = ThreadPoolExecutor(jobs)
    queue = iter(enumerate(targets))
    pending: dict[Future[R], int] = {}

    def submit_next() -> None:
        for index, target in queue:
            progress.started(target.spec)
            try:
                pending[executor.submit(work, target)] = index
            except BrokenExecutor:  # a worker died earlier and took the pool with it
                run.results[index] = failed(target, "not run: a worker process died; run again")
                progress.finished(run.results[index])
                continue
            return

    def collect(future: Future[R]) -> None:
        index = pending.pop(future)
        try:
            result = future.result()
        except Exception as exc:  # the worker process died (killed, out of memory): say so
            result = failed(targets[index], f"worker died: {type(exc).__name__}: {exc}")
        run.results[index] = result
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
        run.interrupted = True
        for future in list(pending):
            if future.cancel():
                pending.pop(future)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                collect(future)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return run


@dataclass(frozen=True)
class FleetRun(Generic[R]):
    results: list[R]  # in target order
    interrupted: bool
    seconds: float


def update_fleet(
    targets: Sequence[Target],
    settings: UpdateSettings,
    *,
    jobs: int,
    workdir: Path | None,
    progress: Progress,
) -> FleetRun[UpdateResult]:
    """Update every target; a repository left unfinished by Ctrl-C is reported as an error."""
    start = time.monotonic()
    with workspace(workdir, settings.template) as paths:
        run = run_each(
            partial(update_one, settings=settings, paths=paths),
            targets,
            jobs=jobs,
            progress=progress,
            failed=lambda target, reason: UpdateResult(target.spec, Outcome.ERROR, error=reason),
        )
    progress.close()
    unfinished = "interrupted before this repository finished: run the same command again"
    results = [
        result or UpdateResult(target.spec, Outcome.ERROR, error=unfinished)
        for target, result in zip(targets, run.results, strict=True)
    ]
    return FleetRun(results, run.interrupted, time.monotonic() - start)


def status_fleet(
    targets: Sequence[Target],
    *,
    template: str | None,
    remote: str,
    jobs: int,
    workdir: Path | None,
    progress: Progress,
) -> FleetRun[StatusResult]:
    start = time.monotonic()
    with workspace(workdir, template) as paths:
        run = run_each(
            partial(status_one, paths=paths, remote=remote),
            targets,
            jobs=jobs,
            progress=progress,
            failed=lambda target, reason: StatusResult(target.spec, State.ERROR, error=reason),
            processes=False,
        )
    progress.close()
    results = [
        result or StatusResult(target.spec, State.ERROR, error="interrupted")
        for target, result in zip(targets, run.results, strict=True)
    ]
    return FleetRun(results, run.interrupted, time.monotonic() - start)
