"""NAB window scoring, checked against hand-computed values and a brute-force sweep."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.timeseries.nab import (
    PROFILES,
    Profile,
    label_windows,
    normalized,
    probation_length,
    raw_score,
    scaled_sigmoid,
    score_file,
)
from anomaly_detector.timeseries.nab_sweep import (
    MAX_CANDIDATES,
    TOP_DISTINCT,
    candidate_thresholds,
    optimize_threshold,
    profile_scores,
    sweep,
)

STANDARD = PROFILES["standard"]
START_REWARD = 2.0 / (1.0 + math.exp(-5.0)) - 1.0  # scaled_sigmoid(-1), about 0.9866


def minutes(n: int) -> np.ndarray:
    return pd.date_range("2024-01-01", periods=n, freq="min").to_numpy()


def point(times: np.ndarray, i: int) -> tuple[np.datetime64, np.datetime64]:
    return (times[i], times[i])


def detect(n: int, *indices: int) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    flags[list(indices)] = True
    return flags


# One file of 1,000 points, one point label at 500: a 100-point window (450, 550);
# probation is the first 150 points.
N = 1000
TIMES = minutes(N)
WINDOWS = [(450, 550)]
PROBATION = 150


def test_the_scaled_sigmoid_has_the_papers_shape():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.0) == pytest.approx(-1.0, abs=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scaled_sigmoid(np.array([-1e6, 1e6])).tolist() == [1.0, -1.0]


def test_a_point_label_gets_a_tenth_of_the_file_centred_on_it():
    assert label_windows(TIMES, [point(TIMES, 500)]) == WINDOWS
    assert label_windows(TIMES, []) == []


def test_a_long_label_stretches_its_window_to_its_end():
    assert label_windows(TIMES, [(TIMES[500], TIMES[600])]) == [(450, 600)]


def test_windows_are_clipped_to_the_series_and_outside_labels_are_dropped():
    after = TIMES[-1] + np.timedelta64(1, "D")
    assert label_windows(TIMES, [point(TIMES, 10), (after, after)]) == [(0, 60)]
    labels = [(pd.Timestamp(TIMES[990]), pd.Timestamp(TIMES[-1]) + pd.Timedelta("1h"))]
    assert label_windows(TIMES, labels) == [(940, 999)]


def test_overlapping_windows_merge():
    # Two labels share the 10%: 50 points each, (475, 525) and (495, 545).
    assert label_windows(TIMES, [point(TIMES, 520), point(TIMES, 500)]) == [(475, 545)]
    assert label_windows(TIMES, [point(TIMES, 200), point(TIMES, 500)]) == [
        (175, 225),
        (475, 525),
    ]


def test_the_probationary_period_is_15_percent_capped_at_750_points():
    assert probation_length(1000) == 150
    assert probation_length(10_000) == 750
    assert probation_length(7) == 1


def test_a_detection_at_the_windows_first_point_scores_perfectly():
    result = score_file(TIMES, detect(N, 450, 451, 500).astype(float), [point(TIMES, 500)], 0.5,
                        STANDARD)  # fmt: skip
    assert result.raw == pytest.approx(START_REWARD)
    assert result.perfect == pytest.approx(START_REWARD)
    assert result.null == -1.0
    assert (result.tp, result.fn, result.fp) == (1, 0, 0)
    assert normalized([result]) == pytest.approx(100.0)


def test_a_detection_at_the_windows_end_earns_almost_nothing():
    reward = raw_score(detect(N, 550), WINDOWS, STANDARD, PROBATION)
    assert reward == pytest.approx(scaled_sigmoid(-1 / 101))
    assert 0.0 < reward < 0.03


def test_missing_every_window_normalises_to_zero():
    scores = np.zeros(N)
    result = score_file(TIMES, scores, [point(TIMES, 300), point(TIMES, 700)], 0.5, STANDARD)
    assert result.raw == result.null == -2.0
    assert (result.tp, result.fn, result.fp) == (0, 2, 0)
    assert normalized([result]) == 0.0


def test_a_false_positive_before_any_window_costs_exactly_fp():
    for profile in (STANDARD, PROFILES["reward_low_fp"]):
        score = raw_score(detect(N, 200, 450), WINDOWS, profile, PROBATION)
        assert score == pytest.approx(START_REWARD - profile.fp, abs=1e-12)


def test_a_false_positive_just_after_a_window_costs_less_than_one_far_away():
    near = raw_score(detect(N, 551), WINDOWS, STANDARD, PROBATION) + 1.0
    far = raw_score(detect(N, 990), WINDOWS, STANDARD, PROBATION) + 1.0
    assert near == pytest.approx(0.11 * scaled_sigmoid(1 / 101))
    assert -0.11 < far < near < 0.0
    assert near > -0.01 and far < -0.10


def test_the_low_fn_profile_punishes_a_miss_twice_as_hard():
    nothing = np.zeros(N, dtype=bool)
    standard = raw_score(nothing, WINDOWS, STANDARD, PROBATION)
    low_fn = raw_score(nothing, WINDOWS, PROFILES["reward_low_fn"], PROBATION)
    assert (standard, low_fn) == (-1.0, -2.0)


def test_detections_in_the_probationary_period_are_ignored():
    early = raw_score(detect(N, 10, 149), WINDOWS, STANDARD, PROBATION)
    assert early == raw_score(np.zeros(N, dtype=bool), WINDOWS, STANDARD, PROBATION) == -1.0
    assert raw_score(detect(N, 150), WINDOWS, STANDARD, PROBATION) == pytest.approx(-1.11)


def test_only_the_first_detection_in_a_window_counts():
    assert raw_score(detect(N, 500, 450, 451), WINDOWS, STANDARD, PROBATION) == pytest.approx(
        START_REWARD
    )


def test_windows_that_overlap_are_refused():
    with pytest.raises(ValueError, match="disjoint"):
        raw_score(detect(N, 1), [(10, 20), (15, 30)], STANDARD, 0)


def test_no_window_anywhere_gives_nan():
    result = score_file(TIMES, np.ones(N), [], 0.5, STANDARD)
    assert math.isnan(normalized([result]))
    assert all(math.isnan(v) for v in optimize_threshold([(TIMES, np.ones(N), [])], STANDARD))


def planted(seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray, list]:
    """Noise in [0, 1) with a spike of 5 at a labelled point."""
    rng = np.random.default_rng(seed)
    times = minutes(n)
    at = int(rng.integers(n // 3, n - 200))
    scores = rng.random(n)
    scores[at] = 5.0
    return times, scores, [point(times, at)]


def test_the_optimiser_separates_a_planted_anomaly_from_noise():
    files = [planted(seed) for seed in range(5)]
    threshold, score = optimize_threshold(files, STANDARD)
    noise = max(np.sort(scores)[-2] for _, scores, _ in files)
    assert noise < threshold <= 5.0
    # Detected at the label, the middle of its window: sigmoid(-0.5) rewards about 0.85.
    assert score > 90.0
    best = normalized([score_file(t, s, lab, threshold, STANDARD) for t, s, lab in files])
    assert score == pytest.approx(best)
    assert set(profile_scores(files)) == set(PROFILES)


def test_exact_ties_matter_rounding_the_scores_worsens_the_optimum():
    times = TIMES
    scores = np.random.default_rng(0).random(N) * 0.5
    scores[450] = 0.9012  # the window's first point
    scores[300] = 0.9008  # a point outside: rounded, it ties with the anomaly
    labels = [point(times, 500)]
    _, exact = optimize_threshold([(times, scores, labels)], STANDARD)
    _, rounded = optimize_threshold([(times, np.round(scores, 2), labels)], STANDARD)
    assert exact == pytest.approx(100.0)
    assert rounded == pytest.approx(100 * (START_REWARD - 0.11 + 1) / (START_REWARD + 1))


def random_files(seed: int) -> list[tuple[np.ndarray, np.ndarray, list]]:
    """Small files with random labels (some in probation), ties, and NaN scores."""
    rng = np.random.default_rng(seed)
    files = []
    for _ in range(int(rng.integers(1, 5))):
        n = int(rng.integers(50, 400))
        times = minutes(n)
        scores = np.round(rng.random(n), int(rng.integers(1, 4)))
        scores[rng.random(n) < 0.05] = np.nan
        labels = []
        for _ in range(int(rng.integers(0, 4))):
            start = int(rng.integers(0, n))
            labels.append((times[start], times[min(n - 1, start + int(rng.integers(0, 20)))]))
        files.append((times, scores, labels))
    return files


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("name", list(PROFILES))
def test_the_sweep_matches_scoring_every_threshold_by_hand(seed, name):
    profile = PROFILES[name]
    files = random_files(seed)
    candidates = candidate_thresholds([scores for _, scores, _ in files])
    brute = np.array(
        [normalized([score_file(t, s, lab, c, profile) for t, s, lab in files]) for c in candidates]
    )
    fast = sweep(files, profile, candidates)
    np.testing.assert_allclose(fast, brute, rtol=0, atol=1e-9, equal_nan=True)
    threshold, score = optimize_threshold(files, profile)
    if np.isnan(brute).all():
        assert math.isnan(score)
    else:
        assert score == pytest.approx(np.nanmax(brute), abs=1e-9)
        assert threshold in candidates


def test_many_distinct_scores_give_quantiles_plus_the_top_values():
    scores = np.random.default_rng(1).random(50_000)
    candidates = candidate_thresholds([scores[:20_000], scores[20_000:]])
    assert MAX_CANDIDATES <= len(candidates) <= MAX_CANDIDATES + TOP_DISTINCT
    assert np.isin(candidates, scores).all()
    assert np.isin(np.sort(scores)[-TOP_DISTINCT:], candidates).all()
    assert candidates.min() == scores.min()


def test_a_custom_profile_is_a_frozen_value():
    profile = Profile(tp=2.0, fp=0.5, fn=1.0, tn=0.0)
    with pytest.raises(AttributeError):
        profile.tp = 1.0  # type: ignore[misc]
    assert raw_score(detect(N, 450), WINDOWS, profile, PROBATION) == pytest.approx(2 * START_REWARD)
