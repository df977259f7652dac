"""From raw surprise to an anomaly score in [0, 1]: tail probabilities, at full precision.

A raw surprise is a residual in spreads (``kernel.run``). Two ways to turn it into a
probability that a point is this unusual:

- ``pointwise``: the two-sided normal tail of the surprise itself, ``2 Q(|z|)``;
- ``likelihood``: the anomaly likelihood of Numenta's HTM detector (Ahmad et al.,
  2017): the mean of the last ``short_window`` absolute surprises, compared with
  the distribution (mean and deviation) of that same short mean over the last
  ``long_window`` points. A sustained rise scores high even when no single point is
  extreme, and a detector's usual noise level is learned per series.

Either way the anomaly score is ``L / (L + 4)``, with ``L = -log10(p)`` computed in
log space (an asymptotic series past 20 deviations). So the score never saturates:
``0.5`` means ``p = 1e-4``, ``0.75`` means ``p = 1e-12``, and points a threshold
sweep must tell apart stay apart instead of tying at ``1.0``, as rounded or ``erf``
based scores do.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# L (= -log10 p) at which the score is 0.5: a one-in-10,000 surprise.
HALF_SCORE_DECADES = 4.0
LN10 = math.log(10.0)
# Layout of the likelihood state's ``scalars``.
SHORT_POS, SHORT_FILLED, SHORT_SUM, LONG_POS, LONG_FILLED, LONG_SUM, LONG_SQUARES = range(7)
N_SCALARS = 7
# Short means a long window needs before its distribution is trusted.
MIN_LONG = 30
# Absolute surprises enter the likelihood's windows capped here: a glitch of 10^4
# spreads would otherwise inflate the long window's variance and blind the likelihood
# for a week. 30 spreads is still far beyond anything normal.
SURPRISE_CAP = 30.0
LONG_CLIP = 4.0
# Floor of the short means' deviation, in spreads (surprises are standardized): a
# history of near-zero surprises (a series at 0 for hours) must not make the first
# ordinary point a certainty.
DEVIATION_FLOOR = 0.3


@numba.njit(cache=True, nogil=True)
def log_upper_tail(z):
    """``log Q(z)``, the log of the standard normal's upper tail, accurate for large z."""
    if z < 20.0:
        return math.log(0.5 * math.erfc(z / math.sqrt(2.0)))
    inverse = 1.0 / (z * z)
    series = 1.0 - inverse + 3.0 * inverse * inverse - 15.0 * inverse**3
    return -0.5 * z * z - math.log(z) - 0.5 * math.log(2.0 * math.pi) + math.log(series)


@numba.njit(cache=True, nogil=True)
def score_of_log_tail(log_tail):
    """Anomaly score of a natural-log tail probability (see the module docstring)."""
    decades = max(0.0, -log_tail / LN10)
    if math.isinf(decades):  # beyond float64 (z past 1e154): the most anomalous score
        return 1.0
    return decades / (decades + HALF_SCORE_DECADES)


@numba.njit(cache=True, nogil=True)
def mean_evidence(scores, out):
    """Per column of ``scores`` (one row per detector), the score of the mean ``L``.

    ``L`` is recovered from each score (``4 s / (1 - s)``), averaged over the rows
    that are not NaN, and turned back into a score; a column of NaN stays NaN.
    """
    for j in range(scores.shape[1]):
        total, count, infinite = 0.0, 0, False
        for i in range(scores.shape[0]):
            score = scores[i, j]
            if math.isnan(score):
                continue
            count += 1
            if score >= 1.0:
                infinite = True
            else:
                total += HALF_SCORE_DECADES * score / (1.0 - score)
        if count == 0:
            out[j] = math.nan
        elif infinite:
            out[j] = 1.0
        else:
            mean = total / count
            out[j] = mean / (mean + HALF_SCORE_DECADES)


@numba.njit(cache=True, nogil=True)
def pointwise(surprise, scores):
    """Score each surprise by its own two-sided normal tail."""
    for i in range(surprise.shape[0]):
        z = surprise[i]
        if math.isnan(z):
            scores[i] = math.nan
        else:
            scores[i] = score_of_log_tail(min(0.0, math.log(2.0) + log_upper_tail(abs(z))))


@numba.njit(cache=True, nogil=True)
def likelihood(surprise, short, long, scalars, scores):
    """Score each surprise by Numenta's anomaly likelihood, advancing its windows.

    Args:
        surprise: signed surprises in spreads (NaN = no score: missing or warming up).
        short, long: rings of the last absolute surprises and the last short means.
        scalars: positions, fill counts and running sums of both rings; mutated.
        scores: output, NaN where the surprise is NaN.
    """
    for i in range(surprise.shape[0]):
        z = surprise[i]
        if math.isnan(z):
            scores[i] = math.nan
            continue
        value = min(abs(z), SURPRISE_CAP)
        position, filled = int(scalars[SHORT_POS]), int(scalars[SHORT_FILLED])
        if filled == short.shape[0]:
            scalars[SHORT_SUM] -= short[position]
        short[position] = value
        scalars[SHORT_SUM] += value
        scalars[SHORT_POS] = (position + 1) % short.shape[0]
        filled = min(filled + 1, short.shape[0])
        scalars[SHORT_FILLED] = filled
        mean_short = scalars[SHORT_SUM] / filled
        count = int(scalars[LONG_FILLED])
        log_tail = 0.0
        # Before the reference exists, the short means it will start from are capped at
        # LONG_CLIP spreads (surprises are standardized): a detector's warm-up, when its
        # spread is barely known, must not set the reference for a week.
        kept = min(mean_short, LONG_CLIP)
        if count >= MIN_LONG:
            mean = scalars[LONG_SUM] / count
            variance = max(scalars[LONG_SQUARES] / count - mean * mean, 0.0)
            deviation = max(math.sqrt(variance), DEVIATION_FLOOR)
            log_tail = min(0.0, log_upper_tail((mean_short - mean) / deviation))
            # The reference takes an incident in at most LONG_CLIP deviations above its
            # mean, so a sustained one keeps scoring instead of becoming the new normal
            # within a few points of a young window (as the kernel clips its levels).
            kept = min(mean_short, mean + LONG_CLIP * deviation)
        scores[i] = score_of_log_tail(log_tail)
        position = int(scalars[LONG_POS])
        if count == long.shape[0]:
            old = long[position]
            scalars[LONG_SUM] -= old
            scalars[LONG_SQUARES] -= old * old
        long[position] = kept
        scalars[LONG_SUM] += kept
        scalars[LONG_SQUARES] += kept * kept
        scalars[LONG_POS] = (position + 1) % long.shape[0]
        scalars[LONG_FILLED] = min(count + 1, long.shape[0])


def new_state(short_window: int, long_window: int) -> dict[str, np.ndarray]:
    """Empty likelihood windows."""
    return {
        "likelihood_short": np.zeros(short_window),
        "likelihood_long": np.zeros(long_window),
        "likelihood_scalars": np.zeros(N_SCALARS),
    }
