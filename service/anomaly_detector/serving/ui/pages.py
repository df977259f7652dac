"""Rendering the web page: Jinja2 templates, the shipped static files, the security headers.

htmx ships inside the package (``static/htmx.min.js``, with its Zero-Clause BSD
licence beside it), so the page needs no build step and loads nothing from another
origin. It is ``dist/htmx.min.js`` of ``npm pack htmx.org@HTMX_VERSION``; to update
it, replace the file and both constants (a test holds the file to them).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from starlette.responses import HTMLResponse, Response

HTMX_VERSION = "2.0.11"
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"

# Scripts, styles and requests from this origin only; no inline script or style
# (the page's behaviour is static/ui.js, its look static/ui.css; the bars are SVG
# attributes, which are not styles).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
}


def shown(value: Any, digits: int = 4) -> str:
    """A number as people read it (4 significant digits), text as it is, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.{digits}g}"
    return str(value)


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("anomaly_detector.serving.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["shown"] = shown
    environment.filters["percent"] = percent
    environment.globals["htmx_version"] = HTMX_VERSION
    return environment


def render(template: str, **context: Any) -> str:
    """The template's HTML, every value escaped."""
    return _environment().get_template(template).render(**context)


def html_response(
    template: str, status_code: int = 200, headers: dict | None = None, **context: Any
) -> Response:
    """``render`` as a response with the page's security headers."""
    return HTMLResponse(
        render(template, **context),
        status_code=status_code,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


@cache
def static_files() -> dict[str, StaticFile]:
    """The shipped files by name, read once."""
    folder = resources.files("anomaly_detector.serving.ui") / "static"
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in _MEDIA_TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            files[entry.name] = StaticFile(body, _MEDIA_TYPES[suffix], etag)
    return files


def static_response(name: str, if_none_match: str | None) -> Response | None:
    """A shipped file (304 when the browser has it), or None for an unknown name."""
    file = static_files().get(name)
    if file is None:
        return None
    headers = {"ETag": file.etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if if_none_match == file.etag:
        return Response(status_code=304, headers=headers)
    return Response(file.body, media_type=file.media_type, headers=headers)
