"""``data.series.grid``: the --window durations as users write them, read and written back."""

from __future__ import annotations

import pandas as pd
import pytest

from anomaly_detector.data.series.grid import duration, parse_step, step_text
from anomaly_detector.errors import InputError

SECOND = pd.Timedelta(seconds=1)


@pytest.mark.parametrize(
    ("window", "text", "seconds"),
    [("5min", "5min", 300), ("1min", "1min", 60), ("60s", "1min", 60), ("1h", "1h", 3600),
     ("30s", "30s", 30), ("90s", "90s", 90), ("1d", "24h", 86400), ("1D", "24h", 86400),
     ("2 d", "48h", 172800), ("1d12h", "36h", 129600), ("250ms", "250ms", 0.25)],
)  # fmt: skip
def test_a_step_is_written_as_a_window_that_reads_back_as_itself(window, text, seconds):
    step = parse_step(window)
    assert step == seconds * SECOND
    assert step_text(step) == text
    assert parse_step(step_text(step)) == step


@pytest.mark.parametrize("window", ["five minutes", "0s", "-5min", ""])
def test_a_window_that_is_no_positive_duration_is_a_sentence(window):
    with pytest.raises(InputError, match="window must be a duration with a unit, such as 1min"):
        parse_step(window)


@pytest.mark.parametrize(
    ("text", "days"), [("1d", 1), ("1w", 7), ("2 d", 2), ("1.5d", 1.5), ("1day", 1), ("2W", 14)]
)
def test_lower_case_days_and_weeks_read_without_pandas_deprecation(text, days, recwarn):
    assert duration(text) == pd.Timedelta(days=days)
    assert not [w for w in recwarn if "deprecated" in str(w.message)]
