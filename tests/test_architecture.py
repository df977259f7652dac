"""The package's shape: layers without cycles, small modules, and a README that maps it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "service" / "anomaly_detector"
MAX_MODULE_LINES = 300
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_the_size_of_one_concern(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(REPO)} has {lines} lines: split it"


def test_the_import_contracts_hold() -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_the_cycle_contract_catches_a_cycle(tmp_path: Path) -> None:
    """The contract would fail on a real cycle: shown on a copy of the package with one."""
    copy = tmp_path / "anomaly_detector"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    # profiling already imports feature_schema; the way back closes a cycle.
    assert "anomaly_detector.data.feature_schema" in (copy / "data" / "profiling.py").read_text()
    with (copy / "data" / "feature_schema.py").open("a") as module:
        module.write("\nfrom anomaly_detector.data import profiling  # noqa: E402,F401\n")
    config = REPO / "pyproject.toml"
    result = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(LINT_IMPORTS.parent)},
    )  # fmt: skip
    assert result.returncode != 0, result.stdout[-2000:]
    assert "No import cycles within any package BROKEN" in result.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    copy = tmp_path / "anomaly_detector"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "detectors" / "leak.py").write_text(
        textwrap.dedent("""\
            from anomaly_detector.serving import metrics  # noqa: F401
        """)
    )
    result = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(LINT_IMPORTS.parent)},
    )  # fmt: skip
    assert result.returncode != 0
    assert "anomaly_detector.detectors.leak -> anomaly_detector.serving.metrics" in result.stdout


def _readme_table() -> dict[str, str]:
    """The README's module table: ``{path: concern}``."""
    text = (REPO / "README.md").read_text()
    section = text.split("The Python package lives in", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `([^`]+)` \| (.+) \|$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_the_readme_module_table_matches_the_layout() -> None:
    table = _readme_table()
    listed = set()
    for entry in table:
        folder, _, modules = entry.rpartition("/")
        if not folder:
            listed.add(entry)  # a top-level module
            continue
        for name in modules.strip("{}").split(", "):
            listed.add(f"{folder}/{name}")
    actual = {
        str(path.relative_to(PACKAGE))
        for path in _modules()
        if path.name not in ("__init__.py", "__main__.py")
    }
    assert listed == actual, (
        f"in the README but not the package: {sorted(listed - actual)}; "
        f"in the package but not the README: {sorted(actual - listed)}"
    )
