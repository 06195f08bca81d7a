"""Log formats of the server: ``text`` for people, ``json`` for log collectors.

In both, every line written while a request is served carries its request id. In
``json`` each line is one object: ``time`` (UTC, RFC 3339), ``level``, ``logger``,
``message``, ``request_id`` when there is one, ``exception`` with a traceback, and the
fields a line adds, such as those of the access log (``modeldepot.access``), which
replaces uvicorn's access log in that format.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any

from modeldepot.server.requestid import current_request_id

LOG_FORMATS = ("text", "json")
ACCESS_LOGGER = "modeldepot.access"


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` (None outside requests) and ``record.request_tag``
    (`` [id]``, or empty outside requests) for text formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        record.request_id = request_id
        record.request_tag = f" [{request_id}]" if request_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line; extra fields come from ``record.fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str)


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document for uvicorn's and modeldepot's loggers."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
    level = level.upper()
    filters = {"request_id": {"()": RequestIdFilter}}
    if log_format == "json":
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": filters,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {
                "json": {
                    "class": "logging.StreamHandler",
                    "stream": "ext://sys.stderr",
                    "formatter": "json",
                    "filters": ["request_id"],
                }
            },
            "loggers": {
                "uvicorn": {"handlers": ["json"], "level": level, "propagate": False},
                "uvicorn.error": {"level": level},
                # The access log of this format is modeldepot.access, with more fields.
                "uvicorn.access": {"handlers": [], "propagate": False},
                "modeldepot": {"handlers": ["json"], "level": level, "propagate": False},
            },
        }
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = filters
    config["formatters"]["access"]["fmt"] += "%(request_tag)s"
    config["formatters"]["modeldepot"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(name)s: %(message)s%(request_tag)s",
    }
    config["handlers"]["access"]["filters"] = ["request_id"]
    config["handlers"]["modeldepot"] = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "modeldepot",
        "filters": ["request_id"],
    }
    config["loggers"]["modeldepot"] = {
        "handlers": ["modeldepot"],
        "level": level,
        "propagate": False,
    }
    return config
