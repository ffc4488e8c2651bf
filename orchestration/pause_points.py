"""Named points inside ingestion where a test can stop the process, to prove a killed run leaves nothing
behind. Inert unless ``WHOLECHILD_PAUSE_AT`` names the point: then the process writes the file named by
``WHOLECHILD_PAUSE_MARKER`` and waits there to be killed."""

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
    time.sleep(3600)
