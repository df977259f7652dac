"""A shortened `make reliability`: model swaps with faults under steady traffic."""

import pytest

from reliability import swaps_under_load

pytestmark = pytest.mark.integration


def test_swaps_with_faults_under_load_drop_nothing(tmp_path):
    report = swaps_under_load(tmp_path, n_swaps=8)
    assert report.swaps == 8 and report.valid_swaps == 4 and report.refused == 4
    assert report.requests > 200
    assert report.failed == 0, report.failures[:5]
    assert not report.invalid_versions_served
    assert len(report.versions_served) >= 4
