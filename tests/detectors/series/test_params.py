"""``detectors.series.params``: every series detector refuses a value it cannot use."""

from __future__ import annotations

import pytest

from anomaly_detector.detectors import registry


@pytest.mark.parametrize("name", registry.trainable("timeseries"))
def test_defaults_pass_and_each_count_below_its_minimum_is_refused(name):
    cls = registry.detector_class(name)
    cls()  # the defaults are valid
    counts = [p.name for p in cls.params if p.parse is int]
    for count in counts:
        least = 0 if count == "neighbors" else 1
        cls(**{count: least})
        with pytest.raises(ValueError, match=f"{count} must be at least {least}"):
            cls(**{count: least - 1})


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [("damping", 0.0, "above 0.0"), ("damping", 1.01, "at most 1.0"),
     ("level_alpha", -0.1, "above 0.0"), ("clip", 0.0, "above 0.0"),
     ("coverage", 1.0, r"\[0.5, 1\)"), ("scoring", "sum", "scoring must be one of"),
     ("transform", "sqrt", "transform must be one of"), ("period", "5", "period must be"),
     ("period", "-1d", "period must be")],
)  # fmt: skip
def test_out_of_range_values_name_the_range(param, value, message):
    with pytest.raises(ValueError, match=message):
        registry.detector_class("forecaster")(**{param: value})


def test_a_period_in_lower_case_days_is_normalised_not_refused():
    detector = registry.detector_class("seasonal_mad")(period="1D")
    assert detector.hyperparameters["period"] == "1d"
    assert detector.seasonal_points(300.0) == [288]
