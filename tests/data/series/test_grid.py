"""``data.series.grid``: the --window durations as users write them, read and written back."""

from __future__ import annotations

import pandas as pd
import pytest

from anomaly_detector.data.series.grid import parse_step, step_text
from anomaly_detector.errors import InputError


@pytest.mark.parametrize(
    ("window", "text"),
    [("5min", "5min"), ("1min", "1min"), ("60s", "1min"), ("1h", "1h"), ("30s", "30s"),
     ("90s", "90s"), ("1d", "24h"), ("250ms", "250ms")],
)  # fmt: skip
def test_a_step_is_written_as_a_window_that_reads_back_as_itself(window, text):
    step = parse_step(window)
    assert step_text(step) == text
    assert parse_step(step_text(step)) == step == pd.Timedelta(window)


@pytest.mark.parametrize("window", ["five minutes", "0s", "-5min", ""])
def test_a_window_that_is_no_positive_duration_is_a_sentence(window):
    with pytest.raises(InputError, match="window must be a duration such as 1min"):
        parse_step(window)
