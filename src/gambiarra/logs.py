"""structlog setup: diagnostics go to stderr, apart from the answer on stdout."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["configure"]


def _redactor(secrets: tuple[str, ...]) -> Any:
    """A processor that masks secrets (the PIN, an API key) in every text of an event.

    A secret is masked where it stands as a whole word, so a short PIN does not
    eat the digits of unrelated numbers.
    """
    pattern = re.compile(
        "|".join(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])" for secret in secrets)
    )

    def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in event.items():
            if isinstance(value, str):
                event[key] = pattern.sub("***", value)
        return event

    return redact


def configure(level: str = "warning", secrets: tuple[str, ...] = (), cache: bool = True) -> None:
    """Configure structlog for the command line.

    Args:
        level: the lowest level shown (debug, info, warning, error).
        secrets: strings that must never be printed, replaced with ``***``.
        cache: cache loggers on first use (fast); tests turn it off so that
            ``structlog.testing.capture_logs`` sees every event.
    """
    structlog.configure(
        processors=[
            *([_redactor(kept)] if (kept := tuple(s for s in secrets if s)) else []),
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=cache,
    )
