"""The registry: the one place detectors are named, plugins, and what it merges."""

from __future__ import annotations

import sys
import textwrap

import pytest
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM

from anomaly_detector.detectors import registry
from anomaly_detector.detectors.base import Detector
from anomaly_detector.errors import InputError


def test_build_applies_defaults_and_overrides():
    detector = registry.build_detector("isolation_forest", n_estimators=7)
    assert detector.hyperparameters["n_estimators"] == 7
    assert detector.hyperparameters["max_samples"] == "auto"


def test_an_unknown_name_lists_the_known_ones_and_how_to_add_one():
    with pytest.raises(InputError) as caught:
        registry.build_detector("lofty")
    assert caught.value.reason == "unknown_detector"
    assert "'lofty'" in caught.value.message and "isolation_forest" in caught.value.message
    assert registry.PLUGINS_VARIABLE in caught.value.message


def test_an_unknown_parameter_is_an_input_error():
    with pytest.raises(InputError, match="no parameter"):
        registry.build_detector("isolation_forest", depth=3)


def test_adoption_prefers_the_specific_class_over_the_catch_all():
    assert registry.adopting_class(IsolationForest()).name == "isolation_forest"
    assert registry.adopting_class(OneClassSVM().fit([[0.0], [1.0]])).name == "sklearn_outlier"
    assert registry.adopting_class(object()) is None
    assert "sklearn_outlier" not in registry.trainable()


def test_histogram_buckets_merge_every_detector_sorted_without_duplicates():
    merged = registry.score_buckets()
    assert list(merged) == sorted(set(merged))
    # A negative bound would make prometheus-client drop the histogram's _sum series.
    assert merged[0] >= 0
    for cls in registry.registered().values():
        assert set(cls.score_buckets) <= set(merged)


def test_a_plugin_module_registers_its_detector(tmp_path, monkeypatch):
    (tmp_path / "my_plugin.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from anomaly_detector.detectors.base import Detector
            from anomaly_detector.detectors.registry import register

            @register
            class Constant(Detector):
                name = "constant_for_registry_test"
                default_threshold = 1.0
                def fit(self, inputs):
                    self.n_features_in_ = inputs.shape[1]
                    return np.zeros(len(inputs))
                def score(self, inputs):
                    return np.zeros(len(inputs))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry.load_plugins("my_plugin")
        assert "constant_for_registry_test" in registry.trainable()
        assert issubclass(registry.detector_class("constant_for_registry_test"), Detector)
    finally:
        registry.unregister("constant_for_registry_test")
        sys.modules.pop("my_plugin", None)


def test_plugins_listed_in_dot_env_load_in_the_cli_and_notebooks_too(tmp_path, monkeypatch):
    (tmp_path / "env_plugin.py").write_text(
        "from anomaly_detector.detectors.base import Detector\n"
        "from anomaly_detector.detectors.registry import register\n"
        "@register\n"
        "class FromEnv(Detector):\n"
        "    name = 'from_dot_env_for_registry_test'\n"
        "    def fit(self, inputs): ...\n"
        "    def score(self, inputs): ...\n"
    )
    (tmp_path / ".env").write_text("DETECTOR_PLUGINS=env_plugin\n")
    monkeypatch.delenv("DETECTOR_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry.load_plugins()  # what the CLI commands and notebooks call
        assert "from_dot_env_for_registry_test" in registry.registered()
    finally:
        registry.unregister("from_dot_env_for_registry_test")
        sys.modules.pop("env_plugin", None)


def test_a_plugin_that_cannot_be_imported_is_named():
    with pytest.raises(ImportError, match="'no_such_plugin_module'.*DETECTOR_PLUGINS"):
        registry.load_plugins("no_such_plugin_module")


def test_two_classes_cannot_share_a_name():
    class Impostor(Detector):
        name = "isolation_forest"

        def fit(self, inputs):  # pragma: no cover - never fitted
            raise AssertionError

        def score(self, inputs):  # pragma: no cover - never scored
            raise AssertionError

    with pytest.raises(ValueError, match="taken"):
        registry.register(Impostor)
