"""The registry: the only place that names the detectors a bundle can hold.

Adding a detector is one module with a ``Detector`` subclass plus one line in
``BUILT_IN`` below. Detectors outside this package register themselves with
``register`` from a module listed in ``DETECTOR_PLUGINS`` (comma-separated import
paths, also read from ``.env``) or exposed as an ``anomaly_detector.detectors``
entry point; they are imported on first use, in the CLI, the service and
notebooks alike. The lookups themselves live in ``catalog``.
"""

from __future__ import annotations

from anomaly_detector.detectors.autoencoder import AutoencoderDetector
from anomaly_detector.detectors.base import Detector
from anomaly_detector.detectors.catalog import (
    ENTRY_POINT_GROUP,
    PLUGINS_VARIABLE,
    adopting_class,
    build_detector,
    detector_class,
    load_plugins,
    register,
    registered,
    score_buckets,
    skops_types,
    trainable,
    unregister,
)
from anomaly_detector.detectors.clustering import DBSCANDetector, KMeansDetector
from anomaly_detector.detectors.ecdf import COPODDetector, ECODDetector
from anomaly_detector.detectors.ensemble import EnsembleDetector
from anomaly_detector.detectors.gradient_boosting import GradientBoostingDetector
from anomaly_detector.detectors.hbos import HBOSDetector
from anomaly_detector.detectors.isolation_forest import IsolationForestDetector
from anomaly_detector.detectors.neighbors import KNNDetector, LOFDetector
from anomaly_detector.detectors.projection import PCADetector
from anomaly_detector.detectors.series.ensemble import SeriesEnsembleDetector
from anomaly_detector.detectors.series.forecaster import ForecasterDetector
from anomaly_detector.detectors.series.seasonal_mad import SeasonalMADDetector
from anomaly_detector.detectors.series.seasonal_naive import SeasonalNaiveDetector
from anomaly_detector.detectors.series.windowed_gaussian import WindowedGaussianDetector
from anomaly_detector.detectors.sklearn_outlier import SklearnOutlierDetector
from anomaly_detector.detectors.svm import OneClassSVMDetector

__all__ = [
    "BUILT_IN", "DEFAULT_DETECTOR", "DEFAULT_SERIES_DETECTOR", "DEFAULT_SERIES_FORECASTER",
    "ENTRY_POINT_GROUP", "PLUGINS_VARIABLE", "adopting_class", "build_detector",
    "detector_class", "load_plugins", "register", "registered",
    "score_buckets", "skops_types", "trainable", "unregister",
]  # fmt: skip

# The best mean ROC-AUC over make bench-quality's suite (bench/results-quality.md).
DEFAULT_DETECTOR = EnsembleDetector.name
BUILT_IN: tuple[type[Detector], ...] = (
    IsolationForestDetector,
    HBOSDetector,
    ECODDetector,
    COPODDetector,
    KNNDetector,
    LOFDetector,
    OneClassSVMDetector,
    AutoencoderDetector,
    PCADetector,
    KMeansDetector,
    DBSCANDetector,
    EnsembleDetector,
    GradientBoostingDetector,
    ForecasterDetector,
    SeasonalMADDetector,
    SeasonalNaiveDetector,
    WindowedGaussianDetector,
    SeriesEnsembleDetector,
    SklearnOutlierDetector,
)
# What ``series detect | evaluate`` and the watcher use unless told otherwise: the best
# NAB score in bench/results-timeseries.md, scoring from the first points. ``series
# forecast`` uses the forecaster, the best MASE there.
DEFAULT_SERIES_DETECTOR = SeriesEnsembleDetector.name
DEFAULT_SERIES_FORECASTER = ForecasterDetector.name
for _detector in BUILT_IN:
    register(_detector)
