"""Named points inside a run where a test can stop the process, to prove a killed run leaves nothing
behind, or hold it, to prove that other commands wait for it. Inert unless ``WHOLECHILD_PAUSE_AT`` names
the point: then the process writes the file named by ``WHOLECHILD_PAUSE_MARKER`` and waits there to be
killed (or ``WHOLECHILD_PAUSE_SECONDS``, then goes on).

Points: ``receive:copied``, ``load:inserted`` (inside a delivery's load transaction), ``link:scored`` (pairs
scored, person keys not yet written), ``dbt:building`` (dbt's build under way)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def pause_point(name: str) -> None:
    if os.environ.get("WHOLECHILD_PAUSE_AT") != name:
        return
    marker = os.environ.get("WHOLECHILD_PAUSE_MARKER")
    if marker:
        Path(marker).write_text(name, encoding="utf-8")
    time.sleep(float(os.environ.get("WHOLECHILD_PAUSE_SECONDS", 3600)))
