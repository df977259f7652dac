"""Atomic writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomaly_detector.files import atomic_write


def test_atomic_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "file.txt"
    atomic_write(target, lambda handle: handle.write("first"), mode="w")
    atomic_write(target, lambda handle: handle.write("second"), mode="w")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "model.joblib"
    target.write_bytes(b"old model")

    def failing_writer(handle) -> None:
        handle.write(b"half a new mod")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, failing_writer)
    assert target.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.joblib"]
