"""The served model's two files on disk, and whether a publish is under way.

Publishing renames the model file first and ``model.json`` second, so for a
moment the folder holds the new model with the old checksum. A checksum refusal
within ``PUBLISH_GRACE_SECONDS`` of a change of either file is taken as a publish
in progress and retried at the next poll, rather than counted as a failure (or,
without ``REQUIRE_CHECKSUM``, rather than loaded unverified).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from anomaly_detector.bundle.io import METADATA_FILENAME

FileState = tuple[int, int, int]  # (inode, size, mtime_ns)
DiskState = tuple[FileState | None, FileState | None]  # (model file, model.json)

# save_bundle's two renames are milliseconds apart; a copy by hand takes longer.
PUBLISH_GRACE_SECONDS = 5.0


def file_state(path: Path) -> FileState | None:
    """(inode, size, mtime in ns) of ``path``, or None when it does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


class ModelFiles:
    """The model file and the ``model.json`` beside its real path, as polls see them.

    Args:
        path: the model file (maybe a symlink).
        publish_grace_seconds: see the module docstring.
    """

    def __init__(self, path: Path, publish_grace_seconds: float = PUBLISH_GRACE_SECONDS) -> None:
        self.path = Path(path)
        self.publish_grace_seconds = publish_grace_seconds
        self._seen: DiskState | None = None
        self._changed_at: float | None = None

    @property
    def metadata_path(self) -> Path:
        return Path(os.path.realpath(self.path)).with_name(METADATA_FILENAME)

    def state(self) -> DiskState:
        """(model file, model.json) states now."""
        return file_state(self.path), file_state(self.metadata_path)

    def observe(self) -> DiskState:
        """The state now, noting when it last differed from the previous observation."""
        state = self.state()
        if self._seen is not None and state != self._seen:
            self._changed_at = time.monotonic()
        self._seen = state
        return state

    def publish_in_progress(self, state: DiskState) -> bool:
        """Whether either file changed less than ``publish_grace_seconds`` ago.

        A change is what an observation saw change, or a recent mtime: the latter
        covers start-up, when there is no earlier observation to compare with.
        """
        grace = self.publish_grace_seconds
        if self._changed_at is not None and time.monotonic() - self._changed_at < grace:
            return True
        now_ns = time.time_ns()
        return any(one is not None and 0 <= now_ns - one[2] < grace * 1e9 for one in state)
