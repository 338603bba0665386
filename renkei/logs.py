"""Logging, configured once for the whole project.

structlog writes JSON lines when stderr is not a terminal and a readable console otherwise;
correlation ids travel in contextvars (`bind_correlation`). Before anything is rendered, a
redaction processor removes 12-digit numbers (the 個人番号 shape) from every string and drops
the value of every field declared personal, so a careless log call cannot leak a number, a link
code or an attribute value.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"

# Fields whose value is personal whatever it looks like. Extend with `declare_personal`.
_PERSONAL_FIELDS: set[str] = {
    "individual_number",
    "number",
    "new_number",
    "person_id",
    "person_code",
    "principal_code",
    "proxy_code",
    "related_person_code",
    "subject_code",
    "link_code",
    "code",
    "value",
    "values",
    "attribute_values",
    "reply_token",
    "body",
}

# Twelve digits not embedded in a longer run of digits: the individual number's shape.
_NUMBER = re.compile(r"(?<!\d)\d{12}(?!\d)")


def declare_personal(*fields: str) -> None:
    """Declare more field names whose values must never be logged."""
    _PERSONAL_FIELDS.update(fields)


def personal_fields() -> frozenset[str]:
    return frozenset(_PERSONAL_FIELDS)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _NUMBER.sub(REDACTED, value)
    if isinstance(value, bytes | bytearray | memoryview):
        return REDACTED  # opaque bytes in a log are codes or tokens
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) == 12:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: (REDACTED if k in _PERSONAL_FIELDS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    return value


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop personal fields, mask 12-digit numbers everywhere else."""
    for key in list(event_dict):
        if key in _PERSONAL_FIELDS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def _scrub_exception(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Rendered tracebacks can quote values; mask numbers in them too.
    exc = event_dict.get("exception")
    if isinstance(exc, str):
        event_dict["exception"] = _NUMBER.sub(REDACTED, exc)
    return event_dict


def configure(
    *, json: bool | None = None, level: int | str = "INFO", stream: TextIO | None = None
) -> None:
    """Configure structlog and the standard library's logging (aiokafka logs through it)."""
    out = stream or sys.stderr
    as_json = json if json is not None else not out.isatty()
    numeric_level = logging.getLevelName(level) if isinstance(level, str) else level
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any
    if as_json:
        final: list[Any] = [
            structlog.processors.format_exc_info,
            _scrub_exception,
            structlog.processors.JSONRenderer(),
        ]
        renderer = final
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=out.isatty())]
    structlog.configure(
        processors=[*shared, *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries log through `logging`; route them through the same redaction.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric_level, logging.WARNING))


def get_logger(name: str | None = None, **initial: Any) -> Any:
    return structlog.get_logger(name, **initial)


def bind_correlation(**ids: str) -> None:
    """Bind correlation ids (request id, message id …) for the current task's log lines."""
    structlog.contextvars.bind_contextvars(**ids)


def clear_correlation(keys: Iterable[str] | None = None) -> None:
    if keys is None:
        structlog.contextvars.clear_contextvars()
    else:
        structlog.contextvars.unbind_contextvars(*keys)
