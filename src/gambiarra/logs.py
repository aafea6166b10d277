"""Diagnostics on stderr, apart from the answer on stdout, through one pipeline.

structlog's own events and the stdlib ``logging`` records of the libraries
(websockets, httpx, httpcore, asyncio) go through the same processors: one
level, one format, and one redaction of the PIN, the API key and a URL's
password, applied to the message, to every value and to the exception text.
Below debug level an exception is shown as one line (its type and message),
never a traceback.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import ExcInfo, Processor

__all__ = ["configure"]

# The handler this module put on the root logger, replaced on reconfiguration.
_handler: logging.Handler | None = None


# The password of a URL's ``user:password@`` (a model server behind basic auth),
# as httpx's own log line of every request prints the URL whole.
_URL_PASSWORD = re.compile(r"(://[^/\s:@]*):[^/\s@]*@")


def _masker(secrets: tuple[str, ...]) -> Callable[[str], str]:
    """A function that masks secrets (the PIN, an API key, a URL's password) with ``***``.

    A secret is masked where it stands as a whole word, so a short PIN does not
    eat the digits of unrelated numbers.
    """
    kept = tuple(secret for secret in secrets if secret)
    if not kept:
        return lambda text: _URL_PASSWORD.sub(r"\1:***@", text)
    pattern = re.compile(
        "|".join(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])" for secret in kept)
    )
    return lambda text: _URL_PASSWORD.sub(r"\1:***@", pattern.sub("***", text))


def _redactor(mask: Callable[[str], str]) -> Processor:
    """Mask secrets in every text value of an event, before it is rendered."""

    def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in event.items():
            if isinstance(value, str):
                event[key] = mask(value)
        return event

    return redact


def _exceptions(full: bool) -> Callable[[TextIO, ExcInfo], None]:
    """How an exception is shown: a traceback at debug level, one line otherwise."""

    def render(out: TextIO, exc_info: ExcInfo) -> None:
        if full:
            out.write("\n" + "".join(traceback.format_exception(*exc_info)).rstrip("\n"))
            return
        error = exc_info[1]
        text = f"{type(error).__name__}: {error}".replace("\n", " ").rstrip(": ")
        out.write(f" exception={text!r}")

    return render


def _renderer(mask: Callable[[str], str], full: bool) -> Processor:
    """The console line, masked once more as a whole (tracebacks, reprs, notes)."""
    console = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=_exceptions(full))

    def render(logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        return mask(console(logger, name, event))

    return render


def configure(level: str = "warning", secrets: tuple[str, ...] = (), cache: bool = True) -> None:
    """Configure structlog and the stdlib ``logging`` of the libraries for the command line.

    Args:
        level: the lowest level shown (debug, info, warning, error), for both.
        secrets: strings that must never be printed, replaced with ``***``.
        cache: cache loggers on first use (fast); tests turn it off so that
            ``structlog.testing.capture_logs`` sees every event.
    """
    global _handler
    number = getattr(logging, level.upper())
    mask = _masker(secrets)
    full = number <= logging.DEBUG
    shared: list[Processor] = [
        _redactor(mask),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="%H:%M:%S"),
    ]
    structlog.configure(
        processors=[*shared, _renderer(mask, full)],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=cache,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _renderer(mask, full),
            ],
        )
    )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    root.setLevel(number)
    _handler = handler
