"""What every handler of the server extension shares: resolving paths, errors, JSON values.

What belongs here: :class:`BlocksHandler` (paths from the client resolved against the
server's root and refused outside it, ``{"message": ...}`` error replies, query arguments, the
redactor of a notebook's folder) and :func:`to_json`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import tornado.web
from jupyter_server.base.handlers import APIHandler

from jupyter_blocks.history.redact import Redactor


def to_json(value: Any) -> Any:
    """Make a run-store or exporter value JSON-able: datetimes as ISO strings, paths as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_json(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class BlocksHandler(APIHandler):
    """Shared path handling and error replies."""

    root: Path

    def initialize(self, root: Path) -> None:
        """Keep the server's root directory."""
        self.root = root

    def resolve(self, relative: str | None, what: str, *, must_exist: bool = True) -> Path:
        """Resolve a path from the client against the root, refusing anything outside it."""
        if not relative:
            raise tornado.web.HTTPError(400, reason=f"missing `{what}`")
        path = (self.root / relative.lstrip("/")).resolve()
        if path != self.root and self.root not in path.parents:
            reason = f"{what} `{relative}` is outside the server root"
            raise tornado.web.HTTPError(403, reason=reason)
        if must_exist and not path.exists():
            raise tornado.web.HTTPError(404, reason=f"{what} `{relative}` does not exist")
        return path

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Reply with ``{"message": ...}`` so the frontend can show it."""
        exc_info = kwargs.get("exc_info")
        message = self._reason
        if exc_info is not None:
            error = exc_info[1]
            if isinstance(error, tornado.web.HTTPError) and error.reason:
                message = error.reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    def fail(self, status: int, message: str) -> NoReturn:
        """Reply with an error message (one line, safe to show)."""
        raise tornado.web.HTTPError(status, reason=message.splitlines()[0] if message else "")

    def int_argument(self, name: str, default: int, low: int, high: int) -> int:
        """A whole-number query argument, clamped to ``[low, high]``."""
        try:
            value = int(self.get_query_argument(name, str(default)))
        except ValueError:
            self.fail(400, f"`{name}` must be a whole number")
        return max(low, min(value, high))

    def redactor(self, notebook: Path) -> Redactor:
        """The redactor for the secrets known in a notebook's folder."""
        return Redactor.for_directory(notebook.parent)
