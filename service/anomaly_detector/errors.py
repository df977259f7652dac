"""The two domain errors every layer may raise; each carries a short ``reason`` label.

``reason`` is what logs and the ``anomaly_detector_rejected_requests_total`` and
``model_reloads_total`` metrics are labelled with, so it is a small fixed vocabulary;
the message is the sentence a person reads: what was expected and what came.
"""

from __future__ import annotations


class InputError(ValueError):
    """Raw input (a row, a CSV, a training option) does not fit what is expected.

    ``feature`` names the one feature at fault when there is one, so a form can show
    the message next to its field.
    """

    def __init__(self, reason: str, message: str, feature: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.feature = feature


class BundleError(ValueError):
    """A file is not a usable model bundle; the message says why.

    ``reason`` is one of ``invalid_bundle``, ``missing_file``, ``outside_models_dir``,
    ``checksum_missing``, ``checksum_mismatch``, ``untrusted_types``,
    ``unknown_detector``, ``schema_change``.
    """

    def __init__(self, message: str, reason: str = "invalid_bundle") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
