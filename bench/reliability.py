"""Reliability report: load with faults, printed as figures (``make reliability``).

Scenarios, each against a real ``anomaly-detector serve`` process:

1. **Swaps under load**: steady concurrent traffic while the model file is
   replaced many times with valid bundles, truncated files, garbage, a bundle
   with another feature schema and a bundle whose model.json hash is wrong.
   Every response must be 200 and carry a version that was valid then; refused
   bundles must never serve.
2. **Overload**: a flood beyond MAX_IN_FLIGHT gets fast 503s, then the service
   serves normally again.

The fuzzing figures come from ``tests/serving/api/test_fuzz.py`` run with many examples
(the Makefile target runs it after this script). ``tests/integration/
test_reliability.py`` runs a shortened version of scenario 1 in ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # reuse the tests' real-process launcher

from anomaly_detector.bundle.io import METADATA_FILENAME, MODEL_FILENAME, save_bundle  # noqa: E402
from anomaly_detector.data.synthetic.traffic import generate_traffic  # noqa: E402
from anomaly_detector.training.train import TrainConfig, train  # noqa: E402
from live import LiveServer, wait_for  # noqa: E402

VECTOR = ["mobile", 14, 42.5, 0.01, 38.0, 95.0, 20480, 512000, 6, 0]
FAULTS = ("truncated", "garbage", "other_schema", "wrong_hash")


@dataclass
class SwapReport:
    requests: int = 0
    failed: int = 0
    swaps: int = 0
    valid_swaps: int = 0
    refused: int = 0
    versions_served: set[str] = field(default_factory=set)
    invalid_versions_served: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)


def _bundle_dir(root: Path, name: str, frame: pd.DataFrame, seed: int) -> Path:
    out = root / name
    bundle = train(
        frame,
        TrainConfig(detector="isolation_forest", params={"n_estimators": 25, "random_state": seed}),
    ).bundle
    save_bundle(bundle, out)
    return out


def _replace(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.incoming")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def _publish(source: Path, models: Path) -> None:
    """Copy a saved bundle in publishing order: model file, then model.json."""
    _replace(models / MODEL_FILENAME, (source / MODEL_FILENAME).read_bytes())
    _replace(models / METADATA_FILENAME, (source / METADATA_FILENAME).read_bytes())


def _version(bundle_dir: Path) -> str:
    import json

    return json.loads((bundle_dir / METADATA_FILENAME).read_text())["version"]


class Traffic:
    """Threads posting /prediction nonstop; every outcome is kept with its time."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.outcomes: list[tuple[float, int, str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self._stop.is_set():
                try:
                    response = http.post("/prediction", json={"feature_vector": VECTOR})
                    version = response.json().get("model_version", "")
                    self.outcomes.append((time.monotonic(), response.status_code, version))
                except (httpx.HTTPError, ValueError) as exc:
                    self.outcomes.append((time.monotonic(), -1, repr(exc)))

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


def swaps_under_load(workdir: Path, n_swaps: int, progress=None) -> SwapReport:
    """Replace the served model ``n_swaps`` times under traffic, faults every other swap."""
    workdir.mkdir(parents=True, exist_ok=True)
    frame = generate_traffic(1500, 0.03, seed=0).drop(columns=["is_anomaly", "anomaly_type"])
    n_valid = n_swaps // 2 + 1
    valid = [_bundle_dir(workdir, f"valid-{i}", frame, seed=i) for i in range(n_valid)]
    rng = np.random.default_rng(0)
    other = pd.DataFrame(rng.normal(size=(500, 3)), columns=["x0", "x1", "x2"])
    other_dir = _bundle_dir(workdir, "other-schema", other, seed=99)
    wrong_dir = _bundle_dir(workdir, "wrong-hash", frame, seed=77)
    never_serve = {_version(other_dir), _version(wrong_dir)}
    models = workdir / "models"
    models.mkdir(exist_ok=True)
    _publish(valid[0], models)

    report = SwapReport()
    # Strict checksums: a valid bundle under another file's model.json ("wrong_hash")
    # must be refused; without REQUIRE_CHECKSUM it would be served, as documented.
    env = {"RELOAD_INTERVAL_SECONDS": "0.25", "REQUIRE_CHECKSUM": "true"}
    with LiveServer(models / MODEL_FILENAME, workdir / "server.log", env=env) as server:
        failures_metric = ("anomaly_detector_model_reloads_total", {"result": "failure"})
        with Traffic(server.url) as traffic:
            wait_for(lambda: len(traffic.outcomes) > 100, timeout=30, what="traffic")
            next_valid = 1
            for swap in range(n_swaps):
                fault = FAULTS[(swap // 2) % len(FAULTS)] if swap % 2 else None
                failures_before = server.metric(*failures_metric)
                if fault is None:
                    source = valid[next_valid % len(valid)]
                    next_valid += 1
                    _publish(source, models)
                    expected = _version(source)
                    wait_for(lambda v=expected: httpx.get(server.url + "/readyz").json().get(
                        "model_version") == v, timeout=15, what=f"version {expected}")  # fmt: skip
                    report.valid_swaps += 1
                else:
                    current = (models / MODEL_FILENAME).read_bytes()
                    if fault == "truncated":
                        _replace(models / MODEL_FILENAME, current[: len(current) // 2])
                    elif fault == "garbage":
                        _replace(models / MODEL_FILENAME, rng.bytes(4096))
                    elif fault == "other_schema":
                        _publish(other_dir, models)
                    else:  # a valid bundle whose model.json names another file's hash
                        _replace(models / MODEL_FILENAME, (wrong_dir / MODEL_FILENAME).read_bytes())
                    wait_for(lambda b=failures_before: server.metric(*failures_metric) > b,
                             timeout=20, what=f"{fault} refused")  # fmt: skip
                    report.refused += 1
                    # Put the last valid bundle back, as an operator would.
                    _publish(valid[(next_valid - 1) % len(valid)], models)
                report.swaps += 1
                if progress:
                    progress(f"swap {swap + 1}/{n_swaps}: {fault or 'valid'} ok")
        outcomes = traffic.outcomes
    valid_versions = {_version(v) for v in valid}
    report.requests = len(outcomes)
    report.failures = [f"{status} {version}" for _, status, version in outcomes if status != 200]
    report.failed = len(report.failures)
    report.versions_served = {version for _, status, version in outcomes if status == 200}
    report.invalid_versions_served = report.versions_served - valid_versions
    report.invalid_versions_served |= report.versions_served & never_serve
    return report


async def _flood(url: str, n: int) -> list[tuple[int, float]]:
    # Serialized once: the client must not be the bottleneck it is measuring.
    body = orjson.dumps({"feature_vectors": [VECTOR] * 10_000})
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=n)) as client:  # fmt: skip

        async def one():
            started = time.perf_counter()
            response = await client.post("/predictions", content=body, headers=headers)
            return response.status_code, time.perf_counter() - started

        return await asyncio.gather(*(one() for _ in range(n)))


def overload(workdir: Path) -> dict:
    frame = generate_traffic(1500, 0.03, seed=0).drop(columns=["is_anomaly", "anomaly_type"])
    bundle_dir = _bundle_dir(workdir, "overload", frame, seed=5)
    with LiveServer(bundle_dir / MODEL_FILENAME, workdir / "overload.log",
                    env={"MAX_IN_FLIGHT": "4"}) as server:  # fmt: skip
        results = asyncio.run(_flood(server.url, 64))
        recovered = httpx.post(server.url + "/prediction", json={"feature_vector": VECTOR})
    served = [s for status, s in results if status == 200]
    refused = [s for status, s in results if status == 503]
    return {
        "sent": len(results),
        "served": len(served),
        "refused_503": len(refused),
        "other": len(results) - len(served) - len(refused),
        "median_503_ms": statistics.median(refused) * 1000 if refused else None,
        "median_200_ms": statistics.median(served) * 1000 if served else None,
        "recovered": recovered.status_code == 200,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--swaps", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        swap = swaps_under_load(Path(tmp) / "swaps", args.swaps, progress=print)
        flood = overload(Path(tmp))
        elapsed = time.monotonic() - started
    print("\n## Reliability report")
    print(f"swaps under load: requests sent {swap.requests}, failed {swap.failed}, "
          f"swaps done {swap.swaps} ({swap.valid_swaps} valid), bundles refused {swap.refused}, "
          f"versions served {len(swap.versions_served)}, "
          f"invalid versions served {len(swap.invalid_versions_served)}")  # fmt: skip
    print(f"overload (MAX_IN_FLIGHT=4, 64 concurrent 10k-row batches): served {flood['served']}, "
          f"503 {flood['refused_503']} (median {flood['median_503_ms']:.0f} ms vs "
          f"{flood['median_200_ms']:.0f} ms served), other {flood['other']}, "
          f"recovered {flood['recovered']}")  # fmt: skip
    print(f"elapsed {elapsed:.0f} s")
    ok = (swap.failed == 0 and not swap.invalid_versions_served and flood["other"] == 0
          and flood["recovered"] and swap.swaps >= 20)  # fmt: skip
    if swap.failures:
        print("first failures:", swap.failures[:5])
    shutil.rmtree(Path(tmp), ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
