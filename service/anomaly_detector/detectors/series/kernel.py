"""The one streaming kernel behind every time-series detector: forecast, band, surprise.

Each point is handled once, in time order, and only from state built by the points
before it, so a backtest over a series and a live watcher fed one point at a time
produce the same numbers (the live path calls this kernel with one-point arrays).

A *candidate* is a way to predict the next value from the history ring:

- ``period == 0``: an exponentially smoothed level (no seasonality);
- ``period > 0``: the centre (median, or mean) of the values ``k * period`` points back
  for ``k = 1..seasons``, each with ``neighbors`` points either side, plus a smoothed,
  damped level of the residuals from that centre (``alpha > 0``).

With several candidates the kernel predicts with the one whose recent one-step errors
are smallest (an exponentially weighted mean absolute error), so seasonality is chosen
online from the past, never from the future, and a series that changes character
switches model.

The spread is either global (a robust EW mean absolute residual) or local to the
seasonal position (the MAD, or the standard deviation, of the same
values the centre came from). Bands come from a conformal quantile of the last
standardized residuals, so their coverage follows the data rather than a normal
assumption. Updates of the levels and spreads clip residuals at ``clip`` spreads, so
an incident neither drags the forecast with it nor widens the band that flags it.

Written here because no library runs seasonal models point by point with state a
caller can hold: statsforecast pins pandas below 3, and statsmodels' ETS, MSTL and
ARIMA are batch fits that estimate one initial state per seasonal position (288
daily, 2016 weekly at 5-minute windows), then forecast from the end of a fitted
window rather than update per point in microseconds.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from anomaly_detector.detectors.series import ranked_window
from anomaly_detector.detectors.series.likelihood import SURPRISE_CAP

# Layout of the ``scalars`` state array.
COUNT, SCALE_SUM, SCALE_WEIGHT, QUEUE_FILLED, QUEUE_POS, STEP_SUM, STEP_WEIGHT = range(7)
N_SCALARS = 7
# Layout of the per-candidate state rows.
LEVEL, LEVEL_SET, ERROR_SUM, ERROR_WEIGHT, ERROR_COUNT = range(5)
N_CANDIDATE = 5
# Mean absolute deviation of a normal variable, in standard deviations.
MAD_TO_SIGMA = 1.2533141373155003
MEDIAN_AD_TO_SIGMA = 1.482602218505602
# Config columns: [period, seasons, neighbors, alpha, centre mode, damping].
PERIOD, SEASONS, NEIGHBORS, ALPHA, CENTRE, DAMPING = range(6)
# Centre and spread modes.
MEDIAN, MEAN = 0, 1
GLOBAL, LOCAL_MAD, LOCAL_STD = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def _centre(history, t, period, seasons, neighbors, mode, scratch, ahead=0):
    """Centre and local spread of the values a seasonal candidate looks back at.

    ``ahead`` points past ``t``, the same positions of earlier seasons are ``ahead``
    points nearer; only values already seen (``back >= 1``) count.
    """
    size = history.shape[0]
    n = 0
    for k in range(1, seasons + 1):
        for j in range(-neighbors, neighbors + 1):
            back = k * period - j - ahead
            if back < 1 or back > t or back > size:
                continue
            value = history[(t - back) % size]
            if not math.isnan(value):
                scratch[n] = value
                n += 1
    if n == 0:
        return math.nan, math.nan, 0
    values = scratch[:n]
    if mode == MEAN:
        centre = values.mean()
        spread = values.std() if n > 1 else math.nan
        return centre, spread, n
    values.sort()
    half = n // 2
    centre = values[half] if n % 2 else 0.5 * (values[half - 1] + values[half])
    deviations = np.abs(values - centre)
    deviations.sort()
    mad = deviations[half] if n % 2 else 0.5 * (deviations[half - 1] + deviations[half])
    return centre, mad * MEDIAN_AD_TO_SIGMA, n


@numba.njit(cache=True, nogil=True)
def _forecast_one(history, t, candidates, config, c, scratch):
    """One-step forecast of candidate ``c`` at point ``t`` and its local spread."""
    period = int(config[c, 0])
    if period == 0:
        if candidates[c, LEVEL_SET] == 0.0:
            return math.nan, math.nan
        return candidates[c, LEVEL], math.nan
    centre, spread, _ = _centre(
        history, t, period, int(config[c, 1]), int(config[c, 2]), int(config[c, 4]), scratch
    )
    level = candidates[c, LEVEL] * config[c, 5] if config[c, 3] > 0.0 else 0.0
    return centre + level, spread


@numba.njit(cache=True, nogil=True)
def _choose(predictions, candidates, min_errors):
    """The candidate that predicts: the smallest recent error among those with a
    prediction (fewer than ``min_errors`` errors count as infinite); -1 if none has."""
    best, best_error = -1, math.inf
    for c in range(predictions.shape[0]):
        if math.isnan(predictions[c]):
            continue
        weight = candidates[c, ERROR_WEIGHT]
        error = candidates[c, ERROR_SUM] / weight if weight > 0.0 else math.inf
        if candidates[c, ERROR_COUNT] < min_errors:
            error = math.inf
        if best < 0 or error < best_error:
            best, best_error = c, error
    return best


@numba.njit(cache=True, nogil=True)
def _scale(scalars):
    """The global spread: the EW mean absolute residual, in standard deviations."""
    if scalars[SCALE_WEIGHT] > 0.0:
        return scalars[SCALE_SUM] / scalars[SCALE_WEIGHT] * MAD_TO_SIGMA
    return math.nan


@numba.njit(cache=True, nogil=True)
def _resolution(scalars, share):
    """``share`` of the EW mean non-zero change between windows; NaN before any change."""
    if scalars[STEP_WEIGHT] > 0.0:
        return share * scalars[STEP_SUM] / scalars[STEP_WEIGHT]
    return math.nan


@numba.njit(cache=True, nogil=True)
def _floored(value, resolution):
    """``value`` floored at the resolution (none yet: ``value`` as it is, NaN included)."""
    return value if math.isnan(resolution) else max(value, resolution)


@numba.njit(cache=True, nogil=True)
def _width(ranked, scalars, coverage):
    """The band's half-width in spreads: the conformal quantile once 20 residuals are in."""
    filled = int(scalars[QUEUE_FILLED])
    return ranked_window.quantile(ranked, filled, coverage) if filled >= 20 else 1.959963984540054


@numba.njit(cache=True, nogil=True)
def run(
    values, history, candidates, scalars, queue, ranked, config, settings,
    forecast, lower, upper, surprise,
):  # fmt: skip
    """Advance the state over ``values`` (NaN = missing), writing one output per point.

    Args:
        values: the new points, in order, on the series' regular grid.
        history: ring of the last values (NaN where missing); mutated.
        candidates: per-candidate state (``LEVEL``... rows); mutated.
        scalars: global state (``COUNT``...); mutated.
        queue: ring of recent absolute standardized residuals (the conformal set).
        ranked: the same residuals, sorted, for the band's quantile; mutated.
        config: per candidate ``[period, seasons, neighbors, alpha, centre mode, damping]``.
        settings: ``[spread mode, error alpha, scale alpha, clip, coverage, min errors,
            spread floor share, resolution share]``.
        forecast, lower, upper, surprise: outputs (surprise = signed residual in spreads).
    """
    size = history.shape[0]
    scratch = np.empty(64 + 2 * int(config[:, 1].max() * (2 * config[:, 2].max() + 1)))
    spread_mode = int(settings[0])
    error_alpha, scale_alpha, clip = settings[1], settings[2], settings[3]
    coverage, min_errors, floor_share = settings[4], settings[5], settings[6]
    resolution_share = settings[7]
    n_candidates = config.shape[0]
    predictions = np.empty(n_candidates)
    spreads = np.empty(n_candidates)
    for i in range(values.shape[0]):
        t = int(scalars[COUNT])
        for c in range(n_candidates):
            predictions[c], spreads[c] = _forecast_one(history, t, candidates, config, c, scratch)
        best = _choose(predictions, candidates, min_errors)
        scale = _scale(scalars)
        prediction = predictions[best] if best >= 0 else math.nan
        spread = scale
        if spread_mode != GLOBAL and best >= 0 and not math.isnan(spreads[best]):
            floor = floor_share * scale if not math.isnan(scale) else 0.0
            spread = max(spreads[best], floor)
        resolution = _resolution(scalars, resolution_share)
        measured = False  # a spread of 0 (nothing has varied yet) is no spread to score by
        if not math.isnan(spread):
            spread = _floored(spread, resolution)
            measured = spread > 0.0
            spread = max(spread, 1e-9 * max(1.0, abs(prediction)))
        filled = int(scalars[QUEUE_FILLED])
        width = _width(ranked, scalars, coverage)
        forecast[i] = prediction
        lower[i] = prediction - width * spread
        upper[i] = prediction + width * spread
        y = values[i]
        surprise[i] = math.nan
        if not math.isnan(y):
            if not math.isnan(prediction) and not measured:
                # Flat and as predicted is no surprise; the first change ever is as
                # surprising as the likelihood counts anything.
                residual = y - prediction
                surprise[i] = 0.0 if residual == 0.0 else math.copysign(SURPRISE_CAP, residual)
            elif not math.isnan(prediction):
                residual = y - prediction
                surprise[i] = residual / spread
                position = int(scalars[QUEUE_POS])
                added = min(abs(residual) / spread, 1e6)
                removed = queue[position] if filled == queue.shape[0] else math.nan
                ranked_window.rerank(ranked, filled, removed, added)
                queue[position] = added
                scalars[QUEUE_POS] = (position + 1) % queue.shape[0]
                scalars[QUEUE_FILLED] = min(filled + 1, queue.shape[0])
            # Clip at ``clip`` global spreads, floored like the band: a scale that starts
            # at exactly 0 (two equal first values) must not clip every later update to 0.
            clip_scale = _floored(scale, resolution)
            bound = clip * clip_scale if clip_scale > 0.0 else math.inf
            for c in range(n_candidates):
                period, alpha = int(config[c, 0]), config[c, 3]
                if not math.isnan(predictions[c]):
                    error = min(abs(y - predictions[c]), bound)
                    candidates[c, ERROR_SUM] = (1 - error_alpha) * candidates[
                        c, ERROR_SUM
                    ] + error_alpha * error
                    candidates[c, ERROR_WEIGHT] = (1 - error_alpha) * candidates[
                        c, ERROR_WEIGHT
                    ] + error_alpha
                    candidates[c, ERROR_COUNT] += 1
                if period == 0:
                    if candidates[c, LEVEL_SET] == 0.0:
                        candidates[c, LEVEL], candidates[c, LEVEL_SET] = y, 1.0
                    else:
                        step = max(-bound, min(bound, y - candidates[c, LEVEL]))
                        candidates[c, LEVEL] += alpha * step
                elif alpha > 0.0 and not math.isnan(predictions[c]):
                    # Damped level of the residuals: l = phi l + alpha e, e = y - forecast.
                    step = max(-bound, min(bound, y - predictions[c]))
                    candidates[c, LEVEL] = config[c, 5] * candidates[c, LEVEL] + alpha * step
            if not math.isnan(prediction):
                absolute = min(abs(y - prediction), bound)
                scalars[SCALE_SUM] = (1 - scale_alpha) * scalars[SCALE_SUM] + scale_alpha * absolute
                scalars[SCALE_WEIGHT] = (1 - scale_alpha) * scalars[SCALE_WEIGHT] + scale_alpha
            previous = history[(t - 1) % size] if t >= 1 else math.nan
            change = min(abs(y - previous), bound)  # a glitch must not set the resolution
            if change > 0.0:  # NaN compares False: no change across a gap
                scalars[STEP_SUM] = (1 - scale_alpha) * scalars[STEP_SUM] + scale_alpha * change
                scalars[STEP_WEIGHT] = (1 - scale_alpha) * scalars[STEP_WEIGHT] + scale_alpha
        history[t % size] = y
        scalars[COUNT] = t + 1


@numba.njit(cache=True, nogil=True)
def ahead(history, candidates, scalars, ranked, config, settings, horizon, forecast, spread_out):
    """Forecasts 1..``horizon`` points past the state's last point, and their spreads.

    The candidate is the one ``run`` would use now; seasonal centres take only the
    seasons already observed; the residual level decays by its damping per step, and
    the spread grows as an exponential-smoothing model's does:
    ``sigma_h^2 = sigma^2 (1 + alpha^2 sum_{j<h} phi^2j)``.
    """
    t = int(scalars[COUNT])
    scratch = np.empty(64 + 2 * int(config[:, 1].max() * (2 * config[:, 2].max() + 1)))
    predictions = np.empty(config.shape[0])
    for c in range(config.shape[0]):
        predictions[c], _ = _forecast_one(history, t, candidates, config, c, scratch)
    best = _choose(predictions, candidates, settings[5])
    scale = _floored(_scale(scalars), _resolution(scalars, settings[7]))  # as in ``run``
    width = _width(ranked, scalars, settings[4])
    growth = 0.0
    for h in range(horizon):
        forecast[h], spread_out[h] = math.nan, math.nan
        if best < 0:
            continue
        period, alpha, damping = (
            int(config[best, PERIOD]),
            config[best, ALPHA],
            config[best, DAMPING],
        )
        if period == 0:
            forecast[h] = candidates[best, LEVEL]
        else:
            centre, _, n = _centre(
                history, t, period, int(config[best, SEASONS]), int(config[best, NEIGHBORS]),
                int(config[best, CENTRE]), scratch, h,
            )  # fmt: skip
            if n == 0:
                continue
            level = candidates[best, LEVEL] * damping ** (h + 1) if alpha > 0.0 else 0.0
            forecast[h] = centre + level
        step_alpha = alpha * damping**h if period != 0 else alpha
        spread_out[h] = width * scale * math.sqrt(1.0 + growth)
        growth += step_alpha * step_alpha
