"""What a run is doing, as it does it: one line per stage, written to the terminal while everything else
(dbt's lines, Dagster's events) goes to the run's log file.

On a terminal the current stage's line counts its steps as they finish and is rewritten in place; when the
output is a file or a pipe, each stage is one plain line when it is done. The lines come from the run's
event log in Dagster's instance, read by a thread every half second.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable

STEP_EVENTS = ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED")


class Progress:
    def __init__(
        self,
        instance,
        run_id: str,
        stages: list[tuple[str, int]],
        stage_of: Callable[[str], str],
        fd: int,
        live: bool,
    ) -> None:
        self.instance, self.run_id, self.stage_of = instance, run_id, stage_of
        self.stages = [(name, total) for name, total in stages if total]
        self.fd, self.live = fd, live
        self.done: dict[str, int] = defaultdict(int)
        self.failed: dict[str, int] = defaultdict(int)
        self.skipped: dict[str, int] = defaultdict(int)
        self.first_start: dict[str, float] = {}
        self.last_end: dict[str, float] = {}
        self.shown = 0  # stages whose final line has been written
        self.cursor = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="progress", daemon=True)
        self.partial = False  # a live line is on screen, not yet ended

    def __enter__(self) -> Progress:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self._read()
        self._show(final=True)

    def _write(self, text: str) -> None:
        os.write(self.fd, text.encode("utf-8", "replace"))

    def _watch(self) -> None:
        while not self.stop.wait(0.5):
            try:
                self._read()
                self._show()
            except Exception:  # the display must never break a run
                return

    def _read(self) -> None:
        while True:
            result = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, limit=1000)
            for record in result.records:
                event = record.event_log_entry.dagster_event
                if event is None or not event.step_key or event.event_type_value not in STEP_EVENTS:
                    continue
                stage = self.stage_of(event.step_key)
                at = record.event_log_entry.timestamp
                if event.event_type_value == "STEP_START":
                    self.first_start.setdefault(stage, at)
                    continue
                self.last_end[stage] = at
                {"STEP_SUCCESS": self.done, "STEP_FAILURE": self.failed, "STEP_SKIPPED": self.skipped}[
                    event.event_type_value
                ][stage] += 1
            self.cursor = result.cursor
            if not result.has_more:
                return

    def _line(self, name: str, total: int) -> str:
        finished = self.done[name] + self.failed[name] + self.skipped[name]
        took = (
            self.last_end.get(name, time.time()) - self.first_start[name] if name in self.first_start else 0.0
        )
        steps = f"{finished}/{total} steps" if finished < total else f"{total} step{'s' if total > 1 else ''}"
        tail = ""
        if self.failed[name]:
            tail = f"  {self.failed[name]} FAILED"
        elif self.skipped[name] == total:
            tail = "  not run (an earlier stage failed)"
        elif self.skipped[name]:
            tail = f"  {self.skipped[name]} not run"
        return f"  {name:<38} {took:6.1f} s  {steps}{tail}"

    def _show(self, final: bool = False) -> None:
        while self.shown < len(self.stages):
            name, total = self.stages[self.shown]
            finished = self.done[name] + self.failed[name] + self.skipped[name]
            if finished < total and not final:
                if self.live and name in self.first_start:
                    self._write("\r" + self._line(name, total) + "\x1b[K")
                    self.partial = True
                return
            if final and name not in self.first_start and finished == 0:
                self._write(("\r" if self.partial else "") + f"  {name:<38}      -    not run\n")
            else:
                self._write(
                    ("\r" if self.partial else "")
                    + self._line(name, total)
                    + ("\x1b[K" if self.live else "")
                    + "\n"
                )
            self.partial = False
            self.shown += 1


__all__ = ["Progress"]


def failure_reason(error) -> str:
    """A failed step's reason in one line: past Dagster's wrapper, the error that caused it."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[-1] if error is not None else "no reason recorded"
