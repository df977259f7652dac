"""A rolling window kept sorted: its quantiles in O(1), one shift of memory per update.

The kernel's conformal band takes a quantile of the last standardized residuals at
every point; sorting the window per point would cost ``n log n`` each time. Here the
sorted copy is updated in place: the value leaving the window is removed and the new
one inserted, each found by binary search. Written here because numpy has no sorted
container and numba compiles neither ``bisect.insort`` nor ``sortedcontainers``.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def quantile(ranked, filled, coverage):
    """Linear-interpolated quantile of the first ``filled`` (sorted) values."""
    position = coverage * (filled - 1)
    low = int(math.floor(position))
    high = min(low + 1, filled - 1)
    return ranked[low] + (position - low) * (ranked[high] - ranked[low])


@numba.njit(cache=True, nogil=True)
def rerank(ranked, filled, removed, added):
    """Keep ``ranked`` the sorted copy of the queue: drop ``removed`` (NaN: none), add ``added``.

    One shift of the array per update instead of a sort per point.
    """
    n = filled
    if not math.isnan(removed):
        at = np.searchsorted(ranked[:n], removed)
        ranked[at : n - 1] = ranked[at + 1 : n].copy()
        n -= 1
    at = np.searchsorted(ranked[:n], added)
    ranked[at + 1 : n + 1] = ranked[at:n].copy()
    ranked[at] = added
