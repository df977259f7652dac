"""Write the lock files the Docker images install from (``make lock``).

pip resolves the package's dependencies without installing anything
(``pip install --dry-run --report``) in a fresh virtual environment, so the pins
are what a clean install gets today on this platform (Linux, the images' Python
minor version). ``service/requirements.lock`` pins the service; the Jupyter
image's ``jupyter/requirements.lock`` adds the ``jupyter`` extra.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCKS = {"service/requirements.lock": "", "jupyter/requirements.lock": "[jupyter]"}


def resolve(python: Path, extras: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
             "--report", str(report), f"{REPO}{extras}"],
            check=True,
        )  # fmt: skip
        installed = json.loads(report.read_text())["install"]
    pins = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in installed}
    pins.pop("anomaly-detector", None)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        venv.create(tmp, with_pip=True)
        python = Path(tmp) / "bin" / "python"
        for path, extras in LOCKS.items():
            pins = resolve(python, extras)
            header = (
                f"# Pinned dependencies of anomaly-detector{extras} for the Docker image.\n"
                f"# Written by `make lock` (.ci/lock.py) with Python {sys.version.split()[0]}; "
                "do not edit by hand.\n"
            )
            (REPO / path).write_text(header + "\n".join(pins) + "\n")
            print(f"wrote {path}: {len(pins)} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
