"""Fast JSON responses (orjson), used by every route."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def json_response(content: Any, status_code: int = 200, headers: dict | None = None) -> Response:
    """Serialize with orjson; numpy arrays and scalars are accepted as they are."""
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")
