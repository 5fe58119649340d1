"""Helper processes that end when the process that started them is gone.

A batch run killed with SIGKILL (or a terminal closed) left its embedded model server decoding the calls
already queued, at full CPU, for minutes: the server got its parent-death SIGTERM, and uvicorn answers a
SIGTERM by finishing every request in flight first. Its grading worker stayed too. Neither holds anything
worth finishing for a parent that is gone, so each watches its parent and exits at once.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(poll: float = 0.5) -> None:
    """Start a daemon thread that ends this process within `poll` seconds of its parent's death."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
