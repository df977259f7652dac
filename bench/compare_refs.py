"""A/B of the service at another commit against this working tree, in one run.

``make bench-compare REF=<commit>`` checks ``REF`` out in a temporary git worktree,
trains a model with *its* CLI (so both versions can read the file: newer code reads
older bundle formats), serves it with both versions side by side (the older one
through ``PYTHONPATH``) and drives them with wrk in interleaved rounds at one
concurrency. Prints each round, the medians and the paired ratio, which is what
"no slower than before" means on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))  # the tests' port and wait helpers

from live import free_port, stop_process, wait_for  # noqa: E402
from serving import LUA, VECTOR, run_wrk  # noqa: E402


def _serve(name: str, model: Path, env: dict, log_dir: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    command = [sys.executable, "-m", "anomaly_detector.cli", "serve", "--model", str(model),
               "--port", str(port)]  # fmt: skip
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        command, cwd=log_dir, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "LOG_LEVEL": "INFO", "LOG_REQUESTS": "true", **env},
    )  # fmt: skip
    return f"http://127.0.0.1:{port}", process


def _ref_cli(env: dict, *arguments: str) -> None:
    """``anomaly-detector ARGUMENTS`` of the compared commit."""
    subprocess.run([sys.executable, "-m", "anomaly_detector.cli", *arguments], check=True,
                   env={**os.environ, **env}, capture_output=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ref", help="commit (or branch, tag) to compare with")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        worktree = work / "ref"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(worktree), args.ref],
                       cwd=REPO, check=True)  # fmt: skip
        try:
            old_env = {"PYTHONPATH": str(worktree / "service")}
            frame = work / "train.csv"
            _ref_cli(old_env, "generate-data", "--out", str(work), "--train-rows", "20000",
                     "--test-rows", "100")  # fmt: skip
            _ref_cli(old_env, "train", "--data", str(frame), "--out", str(work / "models"),
                     "--n-estimators", "100", "--contamination", "0.03")  # fmt: skip
            model = work / "models" / "model.joblib"
            script = work / "post.lua"
            script.write_text(LUA % json.dumps({"feature_vector": VECTOR, "score": True}))
            names = (f"{args.ref}", "working tree")
            servers = [_serve("ref", model, old_env, work), _serve("tree", model, {}, work)]
            try:
                for url, _ in servers:
                    wait_for(lambda u=url: httpx.post(u + "/prediction", json={"feature_vector":
                             VECTOR}, timeout=5).status_code == 200, timeout=60)  # fmt: skip
                runs: dict[str, list[float]] = {name: [] for name in names}
                for round_ in range(args.rounds):
                    for name, (url, _) in zip(names, servers, strict=True):
                        result = run_wrk(url, args.connections, args.seconds, script)
                        runs[name].append(result["rps"])
                        print(f"round {round_ + 1} {name:<14} {result['rps']:>9,.0f} req/s "
                              f"p99 {result['p99'] / 1000:.2f} ms", flush=True)  # fmt: skip
            finally:
                for _, process in servers:
                    stop_process(process)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO)
    print(f"\n{args.connections} connections, {args.rounds} interleaved rounds of {args.seconds} s")
    for name, rps in runs.items():
        print(f"{name:<14} median {statistics.median(rps):,.0f} req/s "
              f"(range {min(rps):,.0f}-{max(rps):,.0f})")  # fmt: skip
    ratios = sorted(b / a for a, b in zip(*runs.values(), strict=True))
    print(f"working tree / {args.ref}, paired rounds: median {statistics.median(ratios):.2f} "
          f"(range {ratios[0]:.2f}-{ratios[-1]:.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
