"""Series detectors: causal to the bit, live equal to backtest, sane forecasts and bands."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_detector.detectors import registry
from anomaly_detector.detectors.series.base import SeriesDetector

SERIES_DETECTORS = registry.trainable("timeseries")
STEP = 300.0


def seasonal_series(n: int = 4000, seed: int = 0, spike_at: int | None = 3000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    times = 1_760_000_000.0 + STEP * np.arange(n)
    values = 100 + 30 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 5, n)
    if spike_at is not None:
        values[spike_at : spike_at + 3] += 80
    values[1500:1510] = np.nan  # a gap
    return np.column_stack([times, values])


def test_every_series_detector_is_registered_with_the_timeseries_task() -> None:
    assert set(SERIES_DETECTORS) == {
        "forecaster", "seasonal_mad", "seasonal_naive", "windowed_gaussian", "series_ensemble"
    }  # fmt: skip
    assert registry.DEFAULT_SERIES_DETECTOR == "series_ensemble"
    assert registry.DEFAULT_SERIES_FORECASTER == "forecaster"
    assert not set(SERIES_DETECTORS) & set(registry.trainable())  # not tabular detectors


@pytest.mark.parametrize("transform", ["none", "log"])
@pytest.mark.parametrize("name", SERIES_DETECTORS)
def test_scores_of_a_prefix_equal_the_full_series_scores_on_it(name: str, transform: str) -> None:
    inputs = seasonal_series()
    full = registry.build_detector(name, transform=transform).run(inputs)
    for cut in (700, 2999, 3001):
        prefix = registry.build_detector(name, transform=transform).run(inputs[:cut])
        for field in ("anomaly_score", "forecast", "lower", "upper", "surprise"):
            np.testing.assert_array_equal(
                getattr(prefix, field), getattr(full, field)[:cut], err_msg=field
            )


@pytest.mark.parametrize("name", SERIES_DETECTORS)
def test_one_point_at_a_time_equals_the_backtest(name: str) -> None:
    inputs = seasonal_series()
    full = registry.build_detector(name).run(inputs)
    live = registry.build_detector(name)
    live.fit(inputs[:2900])
    scores = [live.update(inputs[i : i + 1]).anomaly_score[0] for i in range(2900, 3100)]
    np.testing.assert_array_equal(np.array(scores), full.anomaly_score[2900:3100])


def test_score_does_not_change_the_state_and_update_does() -> None:
    inputs = seasonal_series()
    detector = registry.build_detector("forecaster")
    detector.fit(inputs[:3000])
    first = detector.score(inputs[3000:3050])
    np.testing.assert_array_equal(detector.score(inputs[3000:3050]), first)
    np.testing.assert_array_equal(detector.update(inputs[3000:3050]).anomaly_score, first)
    with pytest.raises(ValueError, match="after the last scored one"):
        detector.update(inputs[3000:3001])


def test_a_jump_of_several_windows_is_a_gap_not_an_error() -> None:
    inputs = seasonal_series()
    holed = inputs.copy()
    missing = np.arange(len(inputs)) % 7 == 3
    holed[missing, 1] = np.nan
    full = registry.build_detector("forecaster").run(holed)
    live = registry.build_detector("forecaster")
    live.fit(holed[:2000])
    kept = np.flatnonzero(~missing[2000:2100]) + 2000
    scores = live.update(inputs[kept]).anomaly_score
    np.testing.assert_array_equal(scores, full.anomaly_score[kept])
    assert live.last_time_ == inputs[kept[-1], 0]


@pytest.mark.parametrize("name", SERIES_DETECTORS)
def test_the_spike_is_the_top_scoring_event_and_scores_stay_in_range(name: str) -> None:
    inputs = seasonal_series()
    scores = registry.build_detector(name).run(inputs).anomaly_score
    valid = scores[~np.isnan(scores)]
    assert ((valid >= 0) & (valid < 1)).all()
    after_warmup = np.nan_to_num(scores, nan=0.0)
    after_warmup[:1000] = 0.0
    assert 2995 <= int(np.argmax(after_warmup)) <= 3008
    assert np.isnan(scores[1500:1510]).all()  # missing windows get no score


def test_scores_keep_full_precision_near_one() -> None:
    inputs = seasonal_series(spike_at=None)
    inputs[3000:3006, 1] += np.array([60, 90, 120, 150, 180, 210])
    scores = registry.build_detector("forecaster", scoring="pointwise").run(inputs).anomaly_score
    top = scores[3000:3006]
    assert (np.diff(top) > 0).all()  # bigger spikes score strictly higher: no ties at 1.0
    assert (top < 1.0).all()


def test_forecaster_bands_cover_about_their_coverage_and_beat_seasonal_naive() -> None:
    inputs = seasonal_series(n=6000, spike_at=None)
    values = inputs[:, 1]
    results = {}
    for name in ("forecaster", "seasonal_naive"):
        out = registry.build_detector(name).run(inputs)
        keep = slice(2000, None)
        inside = (values[keep] >= out.lower[keep]) & (values[keep] <= out.upper[keep])
        ok = ~np.isnan(values[keep])
        results[name] = (
            np.nanmean(np.abs(values[keep] - out.forecast[keep])),
            inside[ok].mean(),
        )
    assert 0.92 <= results["forecaster"][1] <= 0.98
    assert results["forecaster"][0] < 0.9 * results["seasonal_naive"][0]


def test_ahead_forecasts_follow_the_daily_cycle() -> None:
    inputs = seasonal_series(n=3000, spike_at=None)
    detector = registry.build_detector("forecaster")
    detector.fit(inputs)
    table = detector.ahead(288)
    expected = 100 + 30 * np.sin(2 * np.pi * np.arange(3000, 3288) / 288)
    assert np.abs(table["forecast"].to_numpy() - expected).mean() < 4.0
    width = (table["upper"] - table["lower"]).to_numpy()
    assert (width > 0).all() and width[-1] >= width[0]


def test_bad_parameters_and_inputs_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="period must be auto, none or a duration"):
        registry.build_detector("forecaster", period="daily")
    with pytest.raises(ValueError, match="scoring must be one of"):
        registry.build_detector("forecaster", scoring="zscore")
    detector = registry.build_detector("seasonal_mad")
    assert isinstance(detector, SeriesDetector)
    with pytest.raises(ValueError, match=r"rows of \[timestamp, value\]"):
        detector.fit(np.zeros((10, 3)))
    irregular = seasonal_series(n=100)
    irregular[50, 0] += 17
    with pytest.raises(ValueError, match="regular grid"):
        detector.fit(irregular)


def test_log_transform_makes_a_drop_as_loud_as_a_burst_of_the_same_factor() -> None:
    rng = np.random.default_rng(8)
    n = 4000
    times = 1_700_000_000.0 + 300.0 * np.arange(n)
    level = 200 * (1.5 + np.sin(2 * np.pi * np.arange(n) / 288))
    values = rng.poisson(level).astype(float)
    burst, drop = 3000, 3500
    values[burst : burst + 12] *= 5.0
    values[drop : drop + 12] /= 5.0
    inputs = np.column_stack([times, values])
    peaks = {}
    for transform in ("none", "log"):
        output = registry.build_detector("seasonal_mad", transform=transform).run(inputs)
        score = np.nan_to_num(output.anomaly_score)
        peaks[transform] = score[burst : burst + 15].max(), score[drop : drop + 15].max()
        assert (output.forecast[-288:] > 0).all()  # forecasts are in the values' units
        assert np.nanmedian(np.abs(output.forecast[-288:] - values[-288:])) < 60
    burst_none, drop_none = peaks["none"]
    burst_log, drop_log = peaks["log"]
    assert drop_none < burst_none  # on a linear scale the drop is bounded by 0
    assert drop_log > drop_none and abs(drop_log - burst_log) < abs(drop_none - burst_none)


def test_a_series_source_chooses_the_transform_unless_a_parameter_does() -> None:
    inputs = seasonal_series()
    detector = registry.build_detector("seasonal_mad")
    detector.run(inputs, "log")
    assert detector.transform_ == "log"
    detector = registry.build_detector("seasonal_mad", transform="none")
    detector.run(inputs, "log")
    assert detector.transform_ == "none"
    with pytest.raises(ValueError, match="transform must be one of"):
        registry.build_detector("seasonal_mad", transform="sqrt")
    negative = inputs.copy()
    negative[100, 1] = -1.0
    with pytest.raises(ValueError, match="at least 0"):
        registry.build_detector("seasonal_mad", transform="log").run(negative)


def test_the_ensemble_averages_its_members_evidence_and_shows_the_last_ones_forecast() -> None:
    inputs = seasonal_series()
    ensemble = registry.build_detector("series_ensemble").run(inputs)
    mad = registry.build_detector("seasonal_mad").run(inputs)
    forecaster = registry.build_detector("forecaster").run(inputs)
    np.testing.assert_array_equal(ensemble.forecast, forecaster.forecast)
    np.testing.assert_array_equal(ensemble.upper, forecaster.upper)
    both = ~np.isnan(mad.anomaly_score) & ~np.isnan(forecaster.anomaly_score)
    decades = lambda s: 4 * s / (1 - s)  # noqa: E731
    mean = (decades(mad.anomaly_score) + decades(forecaster.anomaly_score)) / 2
    np.testing.assert_allclose(ensemble.anomaly_score[both], (mean / (mean + 4))[both])
    # Before seasonal_mad has a day of history, the forecaster's score stands alone.
    only = np.isnan(mad.anomaly_score) & ~np.isnan(forecaster.anomaly_score)
    assert only.sum() > 100
    np.testing.assert_allclose(ensemble.anomaly_score[only], forecaster.anomaly_score[only])


def test_ensemble_members_must_be_two_series_detectors() -> None:
    with pytest.raises(ValueError, match="at least two"):
        registry.build_detector("series_ensemble", members="forecaster")
    with pytest.raises(ValueError, match="series detectors"):
        registry.build_detector("series_ensemble", members="forecaster,isolation_forest")
    with pytest.raises(ValueError, match="series detectors"):
        registry.build_detector("series_ensemble", members="forecaster,series_ensemble")


@pytest.mark.parametrize("name", ["forecaster", "series_ensemble", "windowed_gaussian"])
def test_a_series_that_starts_flat_still_flags_a_later_jump(name: str) -> None:
    # Equal first values leave the spread at exactly 0: neither the clipping of later
    # updates nor a 1e-9 stand-in spread may freeze the model or flood the likelihood.
    rng = np.random.default_rng(0)
    times = 60.0 * np.arange(400)
    values = 0.003 + 0.0005 * rng.random(400)
    values[:5] = values[0]
    values[300:] += 0.05
    output = registry.build_detector(name).run(np.column_stack([times, values]))
    assert np.nanmax(output.anomaly_score[300:310]) > 0.9
    assert np.nanmax(output.anomaly_score[50:300]) < 0.7
    assert np.isnan(output.surprise[0])  # nothing to predict from yet
    # The first change after a history that never varied is the most surprising.
    burst = np.zeros(600)
    burst[500:510] = 0.3
    output = registry.build_detector(name).run(np.column_stack([60.0 * np.arange(600), burst]))
    assert output.anomaly_score[500] > 0.9
    # Flat and as predicted is no surprise, even before any spread is known.
    flat = registry.build_detector(name).run(np.column_stack([times, np.zeros(400)]))
    assert np.nanmax(np.abs(flat.surprise)) == 0.0
    assert np.isfinite(flat.anomaly_score).mean() > 0.9
    assert (flat.anomaly_score[~np.isnan(flat.anomaly_score)] < 0.1).all()


def test_a_glitch_does_not_blind_the_detector_to_the_next_incident() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(100.0, 5.0, 3200)
    values[2600:2603] = 200.0  # a real 20-spread incident
    glitched = values.copy()
    glitched[2000] = 1e5  # 600 windows earlier, a glitch of 20,000 spreads
    for scoring in ("pointwise", "likelihood"):
        peaks, widths = [], []
        for series in (values, glitched):
            detector = registry.build_detector("forecaster", period="none", scoring=scoring)
            output = detector.run(np.column_stack([300.0 * np.arange(3200), series]))
            peaks.append(output.anomaly_score[2600:2604].max())
            widths.append(output.upper[2590] - output.lower[2590])
        assert peaks[1] > 0.9 and peaks[1] > peaks[0] - 0.05, (scoring, peaks)
        assert widths[1] < 1.1 * widths[0]  # the band did not blow up


def test_the_most_extreme_surprise_scores_one_not_nan() -> None:
    from anomaly_detector.detectors.series import likelihood

    scores = np.empty(3)
    likelihood.pointwise(np.array([1e200, -np.inf, 3.0]), scores)
    assert scores[0] == 1.0 and scores[1] == 1.0 and 0.3 < scores[2] < 0.5  # 2 Q(3)


def test_an_incident_early_in_a_series_stays_flagged_while_it_lasts() -> None:
    # A watcher on a fresh stack: a minute of 1 s points, then latency climbs for good.
    # The likelihood's young reference must not take the incident in within a few points.
    rng = np.random.default_rng(1)
    values = np.concatenate([
        np.round(0.0035 + 0.0003 * rng.standard_normal(60), 4), np.linspace(0.02, 0.3, 60)
    ])  # fmt: skip
    output = registry.build_detector("series_ensemble").run(
        np.column_stack([np.arange(120.0), values])
    )
    flagged = output.anomaly_score[60:90] >= 0.7
    assert flagged[:12].sum() >= 8 and not (output.anomaly_score[30:60] >= 0.5).any()
