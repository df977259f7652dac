"""Rendering and the shipped files (serving/ui/pages.py): htmx pinned, licensed, packaged."""

from __future__ import annotations

import hashlib
import re
from fnmatch import fnmatch
from pathlib import Path

import pytest
import tomllib

from anomaly_detector.serving.ui import pages

UI = Path(pages.__file__).parent
REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_htmx_is_the_pinned_version():
    body = (UI / "static" / "htmx.min.js").read_bytes()
    assert re.search(rb'version:"([^"]+)"', body).group(1).decode() == pages.HTMX_VERSION
    assert pages.HTMX_VERSION.startswith("2.0.")
    assert hashlib.sha256(body).hexdigest() == pages.HTMX_SHA256


def test_the_htmx_licence_ships_beside_it():
    licence = (UI / "static" / "htmx.LICENSE.txt").read_text()
    assert "Zero-Clause BSD" in licence and "Permission to use, copy, modify" in licence
    assert "htmx.LICENSE.txt" in (UI / "templates" / "page.html").read_text()


def test_package_data_covers_every_template_and_static_file():
    # `pip install .` (the Docker image) copies only what package-data names.
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["anomaly_detector.serving.ui"]
    files = [p.relative_to(UI).as_posix() for p in UI.rglob("*") if p.is_file()]
    shipped = [f for f in files if not f.endswith(".py") and "__pycache__" not in f]
    assert shipped and all(any(fnmatch(f, pattern) for pattern in patterns) for f in shipped)


def test_every_static_file_is_served_with_its_type():
    served = pages.static_files()
    assert set(served) == {p.name for p in (UI / "static").iterdir()}
    assert served["htmx.min.js"].media_type.startswith("text/javascript")
    assert served["ui.css"].media_type.startswith("text/css")


def test_the_page_script_writes_no_markup_and_evaluates_nothing():
    script = (UI / "static" / "ui.js").read_text()
    for unsafe in ("innerHTML", "outerHTML", "eval(", "new Function", "insertAdjacentHTML"):
        assert unsafe not in script
    assert "X-API-Key" in script and "htmx:configRequest" in script


def test_rendering_escapes_what_it_is_given():
    html = pages.render(
        "batch.html", error=type("E", (), {"detail": "<script>alert(1)</script>"})(), summary=None
    )
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (True, "yes"), (12345, "12,345"), (3.0, "3"), (0.123456, "0.1235"),
     (1.277e8, "127,700,000"), (1.2775e-5, "1.278e-05"), ("mobile", "mobile")],
)  # fmt: skip
def test_numbers_are_shown_as_people_read_them(value, text):
    assert pages.shown(value) == text


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(first: str, second: str) -> float:
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_keep_wcag_aa_contrast_on_their_backgrounds():
    css = (UI / "static" / "ui.css").read_text()
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", css))
    colours["white"] = "#ffffff"
    pairs = [("text", "background"), ("text", "panel"), ("muted", "background"),
             ("muted", "panel"), ("link", "background"), ("link", "panel"),
             ("anomalous", "background"), ("anomalous", "anomalous-soft"),
             ("normal", "background"), ("white", "bar"), ("bar", "background")]  # fmt: skip
    for text, background in pairs:
        ratio = _contrast(colours[text], colours[background])
        assert ratio >= 4.5, f"{text} on {background}: {ratio:.2f}"
    assert ":focus-visible" in css and "outline: 3px solid" in css
