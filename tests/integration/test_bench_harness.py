"""``make bench``'s HTTP harness runs end to end (tiny durations) and writes its table."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed"),
]

REPO = Path(__file__).resolve().parents[2]


def test_serving_benchmark_writes_one_row_per_server_and_concurrency(tmp_path):
    out = tmp_path / "results.md"
    completed = subprocess.run(
        [sys.executable, str(REPO / "bench" / "serving.py"), "--seconds", "1", "--rounds", "2",
         "--connections", "1,4", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = [
        line for line in out.read_text().splitlines() if line.startswith("| ") and "---" not in line
    ]
    body = [row.split(" | ") for row in rows[1:]]
    assert [(cells[0].lstrip("| "), cells[1]) for cells in body] == [
        (server, conns)
        for server in (
            "anomaly-detector",
            "anomaly-detector, FAST_LANE=false",
            "baseline (sklearn per request)",
            "bare ASGI (ceiling)",
        )
        for conns in ("1", "4")
    ]
    for cells in body:
        assert float(cells[2].replace(",", "")) > 0  # requests/s
        assert cells[6] == "0"  # errors
    ours = [cells for cells in body if cells[0] == "| anomaly-detector"]
    for cells in ours:
        assert re.fullmatch(r"[\d,]+x", cells[7])
        assert re.fullmatch(r"\d+% \(\d+%-\d+%\) \|", cells[8])


def test_request_profile_attributes_samples_to_the_request_path():
    completed = subprocess.run(
        [sys.executable, str(REPO / "bench" / "profile_requests.py"), "--seconds", "2",
         "--connections", "4"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = [
        line.strip("| ").split(" | ")
        for line in completed.stdout.splitlines()
        if line.startswith("| ") and "---" not in line
    ][1:]
    parts = {cells[0]: int(cells[1].rstrip("%")) for cells in rows}
    # Every request is scored and answered, so both must show up in its samples.
    assert parts.get("scoring (jitted encode, preprocess, forest)", 0) > 0, completed.stdout
    assert parts.get("uvicorn: response write (send)", 0) > 0, completed.stdout
    assert 95 <= sum(parts.values()) <= 105  # rounded shares of all samples
