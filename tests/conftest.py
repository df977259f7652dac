"""Shared fixtures: small data frames, a messy CSV and tiny trained bundles in tmp_path."""

from __future__ import annotations

import os

# Under xdist each worker has a core of its own already. A library that also starts a
# thread per core (OpenMP in scikit-learn's gradient boosting, BLAS, torch) oversubscribes
# the machine, and on a busy CI host OpenMP's spinning barriers then made one
# gradient-boosting fit 10x slower (seen: over the 300 s timeout). The variables are read
# when those libraries load, so they are set before anything imports them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")

import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.data.reading import read_csv
from anomaly_detector.data.synthetic.traffic import generate_traffic
from factories import SavedBundle, write_bundle

MESSY_ROWS = 300
# Cells of the text-stored numeric column that are not numbers.
GARBAGE_ROWS = {3: "n/a", 50: "?", 120: "--"}


@pytest.fixture
def traffic_frame() -> pd.DataFrame:
    """2,000 labelled rows of synthetic API traffic, 5% anomalous."""
    return generate_traffic(2000, 0.05, seed=7)


def write_messy_csv(path: Path, rows: int = MESSY_ROWS, seed: int = 0) -> Path:
    """A CSV with every kind of column a user's export tends to have.

    Written with the pandas index, so reading it back yields an ``Unnamed: 0`` column.
    """
    rng = np.random.default_rng(seed)
    is_attack = rng.random(rows) < 0.1
    color = rng.choice(["red", "green", "blue"], rows).astype(object)
    color[rng.choice(rows, 20, replace=False)] = None
    as_text = [f"{value:.3f}" for value in rng.normal(size=rows)]
    for row, garbage in GARBAGE_ROWS.items():
        as_text[row] = garbage
    frame = pd.DataFrame(
        {
            "row_number": np.arange(rows),
            "session_uuid": [
                str(uuid.UUID(int=int(rng.integers(2**63)) << 64 | i)) for i in range(rows)
            ],
            "username": [f"user{i:04d}" for i in range(rows)],
            "seen_at": pd.date_range("2024-01-01", periods=rows, freq="min").strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "constant": 7,
            "all_empty": np.nan,
            "amount_text": as_text,
            "is_mobile": rng.random(rows) < 0.4,
            "color": color,
            "bytes_sent": np.round(rng.lognormal(3, 1.5, rows)).astype(int),
            "temperature": rng.normal(50, 5, rows),
            "balance_change": rng.lognormal(3, 1.5, rows) * rng.choice([-1, 1], rows),
            "label": is_attack,
            "attack_kind": np.where(is_attack, "attack", "none"),
        }
    )
    frame.to_csv(path)
    return path


@pytest.fixture
def messy_csv(tmp_path: Path) -> Path:
    return write_messy_csv(tmp_path / "messy.csv")


@pytest.fixture
def messy_frame(messy_csv: Path) -> pd.DataFrame:
    """The messy CSV as training reads it."""
    return read_csv(messy_csv)


@pytest.fixture
def trained_bundle(tmp_path: Path, traffic_frame: pd.DataFrame) -> Callable[..., SavedBundle]:
    """``factories.write_bundle`` into a fresh folder of tmp_path per call.

    The frame defaults to ``traffic_frame`` without its labels.
    """
    made = 0

    def make(frame: pd.DataFrame | None = None, **options: object) -> SavedBundle:
        nonlocal made
        made += 1
        if frame is None:
            frame = traffic_frame.drop(columns=["is_anomaly", "anomaly_type"])
        return write_bundle(tmp_path / f"bundle-{made}", frame=frame, **options)

    return make
