"""Reading users' CSV files, whole or in chunks, with one wording for what goes wrong."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from anomaly_detector.errors import InputError

# What pandas raises for a file that is there but is not readable CSV.
_CSV_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError)


def existing_file(path: str | Path) -> Path:
    """``path`` as a Path, or an ``InputError`` saying it does not exist."""
    path = Path(path)
    if not path.is_file():
        raise InputError("invalid_request", f"data file {path} does not exist")
    return path


@contextmanager
def csv_errors(path: Path) -> Iterator[None]:
    """Turn pandas' parse errors inside the block into ``InputError`` naming ``path``."""
    try:
        yield
    except _CSV_ERRORS as exc:
        raise InputError("invalid_request", f"cannot read {path} as CSV: {exc}") from exc


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a whole CSV for training or scoring.

    Raises:
        InputError: the file does not exist or is not parseable CSV.
    """
    path = existing_file(path)
    with csv_errors(path):
        return pd.read_csv(path, low_memory=False)


def read_csv_chunks(
    path: str | Path, chunk_rows: int, dtype: Mapping[str, type] | None = None
) -> Iterator[pd.DataFrame]:
    """Chunks of ``chunk_rows`` rows, so memory does not grow with the file.

    Args:
        dtype: columns to read with a fixed type (e.g. ``str`` for text categories,
            which pandas would otherwise infer per chunk).

    Raises:
        InputError: as ``read_csv``, also for a bad row found in a later chunk.
    """
    path = existing_file(path)
    with csv_errors(path):
        yield from pd.read_csv(path, chunksize=chunk_rows, low_memory=False, dtype=dtype)
