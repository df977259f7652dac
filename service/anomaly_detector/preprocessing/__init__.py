"""From raw columns to detector inputs: the fitted transformer and its compiled form.

``signed_log1p`` is defined here, at the package root, because saved model files
name it by this import path (``anomaly_detector.preprocessing.signed_log1p``):
version-1 bundles as pickles and skops files alike. It must never move.
"""

from __future__ import annotations

import numpy as np


def signed_log1p(values):
    """``sign(x) * log(1 + |x|)``: compresses heavy tails, defined for every real.

    Used inside the saved pipeline *and* by the compiled scorer, so both see the
    very same floats.
    """
    values = np.asarray(values, dtype=np.float64)
    return np.sign(values) * np.log1p(np.abs(values))
