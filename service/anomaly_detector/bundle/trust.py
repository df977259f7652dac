"""Which model files the service is willing to deserialize.

A pickle is code: ``joblib.load`` runs whatever the file names. So before the
service deserializes a model file, ``load_trusted_bundle`` checks that

1. its real path (symlinks resolved) is inside the models directory, the one
   place that only trusted writers can write;
2. the sha256 of its bytes equals the ``sha256`` recorded in the ``model.json``
   beside it. With ``require_checksum`` a file that fails this is refused; without
   it the file still loads and the result says the checksum was not verified (a
   model file copied alone, a plain ``joblib.dump``);

and it deserializes the very bytes it hashed, so the file cannot change between
the check and the load. A checksum proves the bytes are the ones that were
published, not that they are harmless: the directory's permissions do that.

``model.skops`` files are safer still: skops rebuilds only allow-listed types
(``serialization.skops_trusted_types``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from anomaly_detector.bundle.io import METADATA_FILENAME, bundle_from_bytes
from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.errors import BundleError

# The refusals a file without a matching model.json gets.
CHECKSUM_REASONS = frozenset({"checksum_missing", "checksum_mismatch", "checksum_unpublished"})
# What the service writes into a model.json it wrote itself, for a file it loaded
# without a published checksum: such a model.json describes, it never vouches.
SERVICE_WRITTEN = {"sha256_source": "service (not published)"}


@dataclass(frozen=True)
class TrustedBundle:
    """A bundle loaded from checked bytes, with where it came from and their hash.

    ``checksum_problem`` says why the checksum was not verified (None when it was).
    """

    bundle: ModelBundle
    real_path: Path
    sha256: str
    checksum_problem: BundleError | None = None

    @property
    def checksum_verified(self) -> bool:
        return self.checksum_problem is None


def resolve_inside(path: Path, models_dir: Path) -> Path:
    """The real path of ``path``, if it lies inside the real ``models_dir``.

    Raises:
        BundleError: ``outside_models_dir``, naming both real paths.
    """
    real_path = Path(os.path.realpath(path))
    real_dir = Path(os.path.realpath(models_dir))
    if not real_path.is_relative_to(real_dir):
        raise BundleError(
            f"model file {path} resolves to {real_path}, outside the models directory "
            f"{real_dir} (MODELS_DIR); only files there are loaded",
            reason="outside_models_dir",
        )
    return real_path


def _read_bytes(real_path: Path) -> bytes:
    # O_NOFOLLOW: the last component was just resolved; refuse it if it has since
    # been swapped for a symlink.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(real_path, flags)
        with os.fdopen(fd, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise BundleError(f"cannot read {real_path.name}: {exc}") from exc


def recorded_checksum(real_path: Path) -> tuple[str, str | None]:
    """The ``sha256`` and ``file`` a publisher recorded in the ``model.json`` beside ``real_path``.

    Raises:
        BundleError: ``checksum_missing`` when model.json is absent, unreadable or
            has no sha256; ``checksum_unpublished`` when the service wrote it itself.
    """
    name = real_path.name
    try:
        metadata = json.loads(real_path.with_name(METADATA_FILENAME).read_text())
    except FileNotFoundError:
        raise BundleError(
            f"no {METADATA_FILENAME} beside {name}: its checksum cannot be verified",
            reason="checksum_missing",
        ) from None
    except (OSError, ValueError) as exc:
        raise BundleError(
            f"{METADATA_FILENAME} is unreadable ({exc}): the checksum of {name} cannot be verified",
            reason="checksum_missing",
        ) from exc
    sha256 = metadata.get("sha256") if isinstance(metadata, dict) else None
    if (
        isinstance(metadata, dict)
        and metadata.get("sha256_source") == SERVICE_WRITTEN["sha256_source"]
    ):
        raise BundleError(
            f"{METADATA_FILENAME} was written by the service for {name}, which it loaded "
            "without a published checksum; publish with `anomaly-detector train` or "
            "save_bundle to verify it",
            reason="checksum_unpublished",
        )
    if not isinstance(sha256, str):
        raise BundleError(
            f"{METADATA_FILENAME} has no sha256: the checksum of {name} cannot be verified",
            reason="checksum_missing",
        )
    described = metadata.get("file")
    return sha256, described if isinstance(described, str) else None


def load_trusted_bundle(
    path: str | Path, models_dir: str | Path | None = None, require_checksum: bool = True
) -> TrustedBundle:
    """Load a model file only if it is inside ``models_dir`` and matches its model.json.

    Args:
        path: the model file (``model.joblib`` or ``model.skops``), maybe a symlink.
        models_dir: the only folder files are loaded from; default: the folder of ``path``.
        require_checksum: refuse a file whose sha256 does not match model.json. Off,
            any file that lands in the folder is unpickled (the folder is the trust
            boundary); the result then says whether the checksum matched.

    Returns:
        The bundle, its real path, the sha256 of the bytes it was loaded from and,
        if the checksum did not match, why.

    Raises:
        BundleError: with ``reason`` ``missing_file``, ``outside_models_dir``,
            ``checksum_missing`` or ``checksum_mismatch`` (only with
            ``require_checksum``), ``untrusted_types``, ``unknown_detector`` or
            ``invalid_bundle``.
    """
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"model file {path} does not exist", reason="missing_file")
    real_path = resolve_inside(path, Path(models_dir) if models_dir else path.parent)
    data = _read_bytes(real_path)
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        check_recorded_checksum(real_path, sha256)
        problem = None
    except BundleError as error:
        if require_checksum:
            raise
        problem = error
    bundle = bundle_from_bytes(data, real_path.name)
    return TrustedBundle(bundle, real_path, sha256, problem)


def check_recorded_checksum(real_path: Path, sha256: str) -> None:
    """Raise ``checksum_missing`` or ``checksum_mismatch`` unless model.json records ``sha256``."""
    recorded, described = recorded_checksum(real_path)
    if sha256 != recorded:
        # The usual innocent cause: the other format was published into the folder.
        other = f" (it describes {described})" if described not in (None, real_path.name) else ""
        raise BundleError(
            f"sha256 of {real_path.name} is {sha256}, but {METADATA_FILENAME} records "
            f"{recorded}{other}: the file is not the one that was published",
            reason="checksum_mismatch",
        )
