"""Progress of a fleet run on stderr: a live display on a terminal, plain lines otherwise."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Protocol, TextIO


class Finished(Protocol):
    target: str
    seconds: float

    @property
    def label(self) -> str: ...


class Progress:
    """Plain lines: one per finished repository, `[done/total] outcome target (seconds)`."""

    def __init__(self, stream: TextIO, total: int, title: str) -> None:
        self.stream = stream
        self.total = total
        self.title = title
        self.started_at = time.monotonic()
        self.running: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.done = 0

    def started(self, target: str) -> None:
        self.running[target] = time.monotonic()

    def finished(self, result: Finished) -> None:
        self.running.pop(result.target, None)
        self.counts[result.label] += 1
        self.done += 1
        self._line(result)

    def _line(self, result: Finished) -> None:
        width = len(str(self.total))
        print(
            f"[{self.done:>{width}}/{self.total}] {result.label:<15} {result.target} ({result.seconds:.1f}s)",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        pass

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started_at)
        return f"{seconds // 60:02d}:{seconds % 60:02d}"


class LiveProgress(Progress):
    """A block redrawn in place: counts, elapsed time, repositories running and just finished."""

    RECENT = 5
    RUNNING = 10

    def __init__(self, stream: TextIO, total: int, title: str) -> None:
        super().__init__(stream, total, title)
        self.recent: deque[tuple[str, str]] = deque(maxlen=self.RECENT)
        self.drawn = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def _tick(self) -> None:
        while not self.stop.wait(0.5):
            self._draw()

    def started(self, target: str) -> None:
        super().started(target)
        self._draw()

    def _line(self, result: Finished) -> None:
        self.recent.append((result.label, result.target))
        self._draw()

    def _draw(self) -> None:
        with self.lock:
            counts = " · ".join(f"{label} {n}" for label, n in sorted(self.counts.items()))
            lines = [f"{self.title}  {self.done}/{self.total} done  {self.elapsed()}  {counts}".rstrip()]
            now = time.monotonic()
            running = list(self.running.items())
            lines += [f"  {'running':<15} {t} ({now - s:.0f}s)" for t, s in running[: self.RUNNING]]
            if len(running) > self.RUNNING:
                lines.append(f"  … and {len(running) - self.RUNNING} more running")
            lines += [f"  {label:<15} {target}" for label, target in self.recent]
            clear = f"\x1b[{self.drawn}F\x1b[J" if self.drawn else ""
            self.stream.write(clear + "\n".join(lines) + "\n")
            self.stream.flush()
            self.drawn = len(lines)

    def close(self) -> None:
        self.stop.set()
        self.ticker.join()
        self._draw()


def make_progress(stream: TextIO, total: int, title: str) -> Progress:
    return LiveProgress(stream, total, title) if stream.isatty() else Progress(stream, total, title)
