"""Batch benchmarks: HTTP batches, CSV scoring with peak memory, training time and memory.

Each measured command runs in its own process so that its peak resident memory
(``ru_maxrss``) is its own. Prints a Markdown section (``make bench`` appends it to
``bench/results.md``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # reuse the tests' real-process launcher

from live import LiveServer  # noqa: E402

VECTOR = ["mobile", 14, 42.5, 0.01, 38.0, 95.0, 20480, 512000, 6, 0]

# Plain scikit-learn CSV scoring, the usual way: read it all, score it all, write it all.
# Its model is the same bundle exported as a plain scikit-learn pipeline.
SKLEARN_SCORE = """
import sys, joblib, pandas as pd
plain = joblib.load(sys.argv[1])
frame = pd.read_csv(sys.argv[2])
inputs = frame[plain["names"]].copy()
inputs["client_type"] = inputs["client_type"].astype(object)
frame["anomaly_score"] = -plain["pipeline"].score_samples(inputs)
frame["is_inlier"] = plain["pipeline"].predict(inputs) == 1
frame.to_csv(sys.argv[3], index=False)
"""


def plain_pipeline(model: Path, out: Path) -> Path:
    """The bundle at ``model`` exported for the plain scikit-learn baseline."""
    import joblib

    from anomaly_detector.bundle.export import sklearn_pipeline
    from anomaly_detector.bundle.io import load_bundle

    bundle = load_bundle(model)
    joblib.dump({"pipeline": sklearn_pipeline(bundle), "names": bundle.schema.names}, out)
    return out


# ru_maxrss survives exec, so a child forked from this (large) process would report
# our own peak. A tiny wrapper process runs the command and reports its child's peak.
_PEAK = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def measured(command: list[str]) -> tuple[float, float]:
    """(seconds, peak resident MiB) of a command run in its own process."""
    output = subprocess.run(
        ["/usr/bin/env", "python3", "-S", "-c", _PEAK, *command],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": ""},
    ).stdout  # fmt: skip
    seconds, peak_kib = output.split()
    return float(seconds), int(peak_kib) / 1024


def write_csv(path: Path, rows: int) -> None:
    from anomaly_detector.data.synthetic.traffic import generate_traffic

    frame = generate_traffic(rows, 0.03, seed=rows)
    frame.drop(columns=["is_anomaly", "anomaly_type"]).to_csv(path, index=False)


def http_batches(model_path: Path, workdir: Path) -> list[str]:
    lines = []
    with LiveServer(model_path, workdir / "serve.log", env={"LOG_REQUESTS": "true"}) as server:
        for rows in (1_000, 10_000):
            body = orjson.dumps({"feature_vectors": [VECTOR] * rows, "score": True})
            headers = {"Content-Type": "application/json"}
            with httpx.Client(base_url=server.url, timeout=60) as client:
                client.post("/predictions", content=body, headers=headers)
                started, sent = time.perf_counter(), 0
                while time.perf_counter() - started < 5:
                    response = client.post("/predictions", content=body, headers=headers)
                    assert response.status_code == 200
                    sent += rows
                rate = sent / (time.perf_counter() - started)
            lines.append(
                f"| `POST /predictions`, {rows:,} rows per request | {rate:,.0f} rows/s | |"
            )
        rss = _rss_mib(server.process.pid)
        lines.append(f"| resident memory of one serving worker | {rss:,.0f} MiB | |")
    return lines


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    cli = [sys.executable, "-m", "anomaly_detector.cli"]
    lines = [
        "",
        "# Batch, training and memory",
        "",
        "| what | ours | plain scikit-learn |",
        "|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        csvs = {}
        for rows in (10_000, 100_000, 1_000_000):
            csvs[rows] = workdir / f"traffic-{rows}.csv"
            write_csv(csvs[rows], rows)
        for rows, path in csvs.items():
            out = str(workdir / f"model-{rows}")
            train = [*cli, "train", "--data", str(path), "--out", out, "--contamination", "0.03"]
            seconds, peak = measured(train)
            lines.append(f"| train on {rows:,} rows x 10 features | {seconds:.1f} s, "
                         f"peak {peak:,.0f} MiB | |")  # fmt: skip
        model = workdir / "model-10000" / "model.joblib"
        plain_model = plain_pipeline(model, workdir / "plain.joblib")
        for rows in (100_000, 1_000_000):
            ours = measured([*cli, "score", "--data", str(csvs[rows]), "--out",
                             str(workdir / "ours.csv"), "--model", str(model)])  # fmt: skip
            plain = measured([sys.executable, "-c", SKLEARN_SCORE, str(plain_model),
                              str(csvs[rows]), str(workdir / "plain.csv")])  # fmt: skip
            lines.append(
                f"| `anomaly-detector score`, {rows:,}-row CSV | {rows / ours[0]:,.0f} rows/s, "
                f"peak {ours[1]:,.0f} MiB | {rows / plain[0]:,.0f} rows/s, "
                f"peak {plain[1]:,.0f} MiB |"
            )
        lines += http_batches(model, workdir)
    text = "\n".join(lines)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
