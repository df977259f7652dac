"""HTTP benchmark: our service (with and without the fast lane), the baseline and the ceiling.

Starts the four on the same machine with the same model, drives each with wrk
at fixed concurrency levels, and prints one table (also written to
``bench/results.md``): requests/s, p50, p99, p99.9, errors, our/baseline ratio and
our share of the ceiling. Needs ``wrk`` (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))  # reuse the tests' port and wait helpers

from live import free_port, stop_process, wait_for  # noqa: E402

VECTOR = ["mobile", 14, 42.5, 0.01, 38.0, 95.0, 20480, 512000, 6, 0]
OURS = "anomaly-detector"
ROUTED = "anomaly-detector, FAST_LANE=false"
LUA = """
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %%d, "seconds": %%f, "errors": %%d, "non2xx": %%d, '
    .. '"p50": %%f, "p99": %%f, "p999": %%f}\\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"""


def start_server(name: str, command: list[str], env: dict, log_dir: Path) -> subprocess.Popen:
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=HERE,
                            env={**os.environ, **env})  # fmt: skip


def run_wrk(url: str, connections: int, seconds: int, script: Path) -> dict:
    threads = min(2, connections)
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(script), url + "/prediction"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result = json.loads(output.strip().splitlines()[-1])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def _median_run(runs: list[dict]) -> dict:
    """The run with the median requests/s (its latencies are reported with it)."""
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


def prepare(workdir: Path) -> tuple[Path, Path]:
    """The benchmark model (100 trees on 20,000 generated rows) and wrk's POST script."""
    import joblib

    from anomaly_detector.bundle.export import sklearn_pipeline
    from anomaly_detector.bundle.io import save_bundle
    from anomaly_detector.data.synthetic.traffic import generate_traffic
    from anomaly_detector.training.train import TrainConfig, train

    frame = generate_traffic(20_000, 0.03, seed=42).drop(columns=["is_anomaly", "anomaly_type"])
    bundle = train(
        frame,
        TrainConfig(detector="isolation_forest", params={"n_estimators": 100}, contamination=0.03),
    ).bundle
    model_path, _ = save_bundle(bundle, workdir / "models")
    # The baseline serves the same model as a plain scikit-learn pipeline.
    baseline = {"pipeline": sklearn_pipeline(bundle), "names": bundle.schema.names,
                "version": bundle.version}  # fmt: skip
    joblib.dump(baseline, workdir / "baseline.joblib")
    script = workdir / "post.lua"
    script.write_text(LUA % json.dumps({"feature_vector": VECTOR, "score": True}))
    return model_path, script


def our_server(
    model_path: Path, workers: int = 1, fast_lane: bool = True
) -> tuple[list[str], dict]:
    """Command and environment of this service as benchmarked: production settings,
    all metrics and the access log on; ``fast_lane=False`` serves through FastAPI's routing."""
    command = [sys.executable, "-m", "anomaly_detector.cli", "serve", "--model", str(model_path),
               "--workers", str(workers)]  # fmt: skip
    env = {"LOG_LEVEL": "INFO", "LOG_REQUESTS": "true", "FAST_LANE": str(fast_lane).lower()}
    return command, env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per server")
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--out", type=Path, default=HERE / "results.md", help="table written here")
    parser.add_argument(
        "--workers", type=int, default=1, help="anomaly-detector's worker processes (others: 1)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    connections = [int(c) for c in args.connections.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model_path, script = prepare(workdir)
        uvicorn = [sys.executable, "-m", "uvicorn", "--no-access-log", "--log-level", "warning"]
        servers = {
            OURS: our_server(model_path, args.workers),
            ROUTED: our_server(model_path, args.workers, fast_lane=False),
            "baseline (sklearn per request)": ([*uvicorn, "baseline_service:app"],
                                               {"MODEL_PATH": str(workdir / "baseline.joblib")}),
            "bare ASGI (ceiling)": ([*uvicorn, "bare_asgi:app"], {}),
        }  # fmt: skip
        # All three run for the whole benchmark; each is idle while another is
        # driven. Runs are interleaved (ours, baseline, ceiling, ours, ...) so a
        # noisy spell on a shared machine hits all three alike.
        urls, processes = {}, []
        try:
            for name, (command, env) in servers.items():
                port = free_port()
                urls[name] = f"http://127.0.0.1:{port}"
                command = [*command, "--port", str(port)]
                processes.append(start_server(f"server-{len(processes)}", command, env, workdir))
            body = {"feature_vector": VECTOR, "score": True}
            for name, url in urls.items():
                wait_for(lambda u=url, b=body: httpx.post(u + "/prediction", json=b, timeout=5)
                         .status_code == 200, timeout=60, what=name)  # fmt: skip
            runs: dict[str, dict[int, list[dict]]] = {name: {} for name in servers}
            for conns in connections:
                for round_ in range(args.rounds):
                    for name, url in urls.items():
                        result = run_wrk(url, conns, args.seconds, script)
                        runs[name].setdefault(conns, []).append(result)
                        print(f"{name:<32} c={conns:<3} round {round_ + 1}: "
                              f"{result['rps']:>9,.0f} req/s", flush=True)  # fmt: skip
        finally:
            for process in processes:
                stop_process(process)

    base, ceiling = runs["baseline (sklearn per request)"], runs["bare ASGI (ceiling)"]
    workers_note = (
        "one uvicorn worker per server"
        if args.workers == 1
        else f"{args.workers} workers for anomaly-detector, one for the others"
    )
    lines = [
        f"# HTTP benchmark ({datetime.date.today()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; "
        f"{workers_note}; wrk on the same machine, {args.rounds} interleaved "
        f"runs of {args.seconds} s per server and concurrency (median shown); "
        "POST /prediction with the README's vector and `score: true`; all metrics and the "
        "access log on for anomaly-detector, with its `POST /prediction` fast lane and "
        "without it (`FAST_LANE=false`: FastAPI's routing). Share of ceiling: median of the "
        "paired runs (ours / ceiling in the same round), with the range over rounds.",
        "",
        "| server | connections | requests/s | p50 ms | p99 ms | p99.9 ms | errors "
        "| ours / baseline | share of ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name in servers:
        for conns in connections:
            r = _median_run(runs[name][conns])
            errors = sum(run["errors"] + run["non2xx"] for run in runs[name][conns])
            ratio = share = ""
            if name in (OURS, ROUTED):
                ratio = f"{r['rps'] / max(_median_run(base[conns])['rps'], 1e-9):,.0f}x"
                shares = sorted(
                    mine["rps"] / top["rps"]
                    for mine, top in zip(runs[name][conns], ceiling[conns], strict=True)
                )
                share = f"{shares[len(shares) // 2]:.0%} ({shares[0]:.0%}-{shares[-1]:.0%})"
            lines.append(
                f"| {name} | {conns} | {r['rps']:,.0f} | {r['p50'] / 1000:.2f} | "
                f"{r['p99'] / 1000:.2f} | {r['p999'] / 1000:.2f} | {errors} | "
                f"{ratio} | {share} |"
            )
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    args.out.write_text(table)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
