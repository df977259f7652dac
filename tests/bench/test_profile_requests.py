"""bench/profile_requests.py attributes each sampled stack to the innermost known part."""

from profile_requests import OTHER, part_of, shares

LANE = "PredictionFastLane._respond (anomaly_detector/serving/api/fast_lane.py)"
ROOT = "Server.run (uvicorn/server.py);Runner.run (asyncio/runners.py)"


def test_innermost_known_frame_names_the_part():
    # Validation records a domain metric: the sample is the metric's, not validation's.
    stack = [LANE, "predict_one (anomaly_detector/serving/api/routes/prediction.py)",
             "Metrics.observe_score (anomaly_detector/serving/metrics.py)"]  # fmt: skip
    assert part_of(stack) == "metrics"
    assert part_of(stack[:2]) == "validation"
    assert part_of(stack[:1]) == "fast lane (response, JSON encode)"


def test_uvicorn_frames_split_by_function():
    cycle = "RequestResponseCycle.run_asgi (uvicorn/protocols/http/httptools_impl.py)"
    send = "RequestResponseCycle.send (uvicorn/protocols/http/httptools_impl.py)"
    parse = "HttpToolsProtocol.data_received (uvicorn/protocols/http/httptools_impl.py)"
    assert part_of([cycle, LANE, send]) == "uvicorn: response write (send)"
    assert part_of([parse]) == "uvicorn: request parse, task start"
    assert part_of([cycle]) == "uvicorn: ASGI cycle (run_asgi, receive, proxy headers)"
    assert part_of(["<module> (somewhere/else.py)"]) == OTHER


def test_shares_counts_samples_and_skips_threads_off_the_request_path():
    raw = "\n".join([
        f"{ROOT};{LANE};Scorer.predict_one (anomaly_detector/scoring/scorer.py) 7",
        f"{ROOT};{LANE};AccessLog.write (anomaly_detector/serving/logs.py) 3",
        # A resumed coroutine:
        f"{LANE};parse_json_body (anomaly_detector/serving/api/parsing.py) 2",
        "Thread.run (threading.py);_worker (concurrent/futures/thread.py) 50",  # idle pool
        " 9",  # a sample without frames
    ])  # fmt: skip
    counts = shares(raw)
    assert counts == {
        "scoring (jitted encode, preprocess, forest)": 7,
        "access log": 3,
        "JSON parse": 2,
    }
