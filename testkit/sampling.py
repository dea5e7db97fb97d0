"""A background thread that samples something at an interval until halted (peak memory of
local worker processes, of compose services): the loop, the halt and the last sample in one
place."""

from __future__ import annotations

import contextlib
import threading


class PeriodicSampler(threading.Thread):
    """Calls ``sample()`` every ``interval`` seconds until ``halt()``; a failing sample is
    skipped (a process or container may be gone between listing and reading it)."""

    final_sample = True  # halt() takes one more sample (cheap samplers only)

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.samples = 0
        self._halt = threading.Event()

    def sample(self) -> None:
        raise NotImplementedError

    def summary(self) -> str:
        raise NotImplementedError

    def _sample(self) -> None:
        with contextlib.suppress(Exception):
            self.sample()
            self.samples += 1

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self._sample()

    def halt(self) -> None:
        self._halt.set()
        if self.final_sample:
            self._sample()
