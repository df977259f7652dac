"""Where the time of one ``POST /prediction`` goes, under load, by part of the request.

Starts this service as ``bench/serving.py`` does (production settings, all
metrics and the access log on), drives it with wrk at 16 connections, and
samples the worker with py-spy meanwhile. Each sample is attributed to the
innermost frame that belongs to a known part (so the domain metrics that
validation records count as metrics, and the numba kernel counts under the
Python call that enters it). Prints a table of shares and microseconds per
request, appended by ``make bench`` to ``bench/results.md``.

Needs ``wrk`` and ``py-spy`` (``pip install -e ".[bench]"``), and permission to
read another process's memory (root, or ``ptrace_scope`` 0).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx

from serving import (  # serving puts tests/ on the path for live's helpers
    VECTOR,
    free_port,
    our_server,
    prepare,
    run_wrk,
    start_server,
    stop_process,
    wait_for,
)

_ANY = ""  # a function-name prefix every function has

# part -> (path fragment, function name prefix) pairs. Walking a stack from its
# innermost frame outwards, the first frame matching a pair (in this order) names
# the part the sample belongs to; general fragments come after specific ones.
PARTS: dict[str, list[tuple[str, str]]] = {
    "access log": [("anomaly_detector/serving/logs.py", _ANY)],
    "metrics": [
        ("prometheus_client/", _ANY),
        ("anomaly_detector/serving/metrics.py", _ANY),
        ("anomaly_detector/serving/api/recorder.py", _ANY),
    ],
    "scoring (jitted encode, preprocess, forest)": [
        ("anomaly_detector/scoring/", _ANY),
        ("anomaly_detector/preprocessing/compiled.py", _ANY),
        ("anomaly_detector/detectors/", _ANY),
    ],
    "validation": [
        ("anomaly_detector/data/feature_schema.py", _ANY),
        ("anomaly_detector/serving/api/routes/prediction.py", _ANY),
    ],
    "JSON parse": [("anomaly_detector/serving/api/parsing.py", _ANY)],
    "deadlines, admission (slots, keys, body limit)": [
        ("anomaly_detector/serving/api/deadlines.py", _ANY),
        ("anomaly_detector/serving/api/admission.py", _ANY),
    ],
    "fast lane (response, JSON encode)": [("anomaly_detector/serving/api/fast_lane.py", _ANY)],
    "app entry (lane dispatch)": [("anomaly_detector/serving/api/", _ANY)],
    "uvicorn: response write (send)": [("uvicorn/protocols/http/", "RequestResponseCycle.send")],
    "uvicorn: request parse, task start": [
        ("uvicorn/protocols/http/", "HttpToolsProtocol."),
        ("uvicorn/protocols/http/", "RequestResponseCycle.__init__"),
    ],
    "uvicorn: ASGI cycle (run_asgi, receive, proxy headers)": [("uvicorn/", _ANY)],
    "event loop (uvloop, asyncio)": [("asyncio/", _ANY), ("uvloop/", _ANY)],
}
OTHER = "other"


def part_of(stack: list[str]) -> str:
    """The part a sampled stack (outermost frame first, ``func (path)``) belongs to."""
    for frame in reversed(stack):
        function, _, where = frame.partition(" (")
        for part, matches in PARTS.items():
            if any(
                fragment in where and function.startswith(prefix) for fragment, prefix in matches
            ):
                return part
    return OTHER


def shares(raw: str) -> collections.Counter:
    """Samples per part from py-spy's ``--format raw`` output (collapsed stacks)."""
    counts: collections.Counter = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        # Threads other than the event loop (model watcher, numba pool) are not
        # on a request's path: keep the main thread's stacks only.
        if not any("anomaly_detector" in f or "uvicorn" in f or "uvloop" in f for f in frames):
            continue
        counts[part_of(frames)] += int(count)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="load and sampling duration")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--raw", type=Path, help="also keep py-spy's collapsed stacks here")
    args = parser.parse_args()
    # py-spy comes with the Python package, next to this interpreter.
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    for tool, found in (("wrk", shutil.which("wrk")), ("py-spy", py_spy)):
        if found is None:
            print(f"{tool} is not installed (make bench installs both)", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model_path, script = prepare(workdir)
        command, env = our_server(model_path)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server("profiled", [*command, "--port", str(port)], env, workdir)
        try:
            body = {"feature_vector": VECTOR, "score": True}
            wait_for(lambda: httpx.post(url + "/prediction", json=body, timeout=5).status_code
                     == 200, timeout=60, what="service")  # fmt: skip
            run_wrk(url, args.connections, 2, script)  # warm-up
            raw_path = workdir / "profile.txt"
            load: dict = {}
            driver = threading.Thread(target=lambda: load.update(
                run_wrk(url, args.connections, args.seconds + 2, script)))  # fmt: skip
            driver.start()
            spy = subprocess.run(
                [py_spy, "record", "--pid", str(server.pid), "--duration", str(args.seconds),
                 "--rate", str(args.rate), "--format", "raw", "--nolineno",
                 "--output", str(raw_path)],
                capture_output=True, text=True,
            )  # fmt: skip
            driver.join()
            if spy.returncode != 0:
                print(f"py-spy failed: {spy.stderr.strip()[-500:]}", file=sys.stderr)
                return 1
            counts = shares(raw_path.read_text())
            if args.raw:
                shutil.copy(raw_path, args.raw)
        finally:
            stop_process(server)

    total = sum(counts.values())
    if total == 0:
        print("py-spy recorded no samples of the service", file=sys.stderr)
        return 1
    busy_seconds = total / args.rate
    requests = load["rps"] * args.seconds
    print(f"# Where the time of one request goes ({args.connections} connections)")
    print()
    print(
        f"py-spy, {args.rate} samples/s for {args.seconds} s on the serving process while wrk "
        f"drove {load['rps']:,.0f} requests/s; {total:,} samples of the event-loop thread "
        f"({busy_seconds / args.seconds:.0%} of one core busy), "
        f"{busy_seconds / requests * 1e6:.0f} µs of CPU per request."
    )
    print()
    print("| part | share | µs per request |")
    print("|---|---|---|")
    for part, count in counts.most_common():
        print(f"| {part} | {count / total:.0%} | {count / args.rate / requests * 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
