"""What the real arena servers accept from a client, checked field by field.

Written from protocol.md, not from the client's codec, so the practice arena
catches what the strict (zod) server would reject: nulls for optional fields,
floats where integers are expected, empty strings that carry meaning.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "SAY_SHOWN",
    "TEMPLATE_MAX",
    "Invalid",
    "parse_client_frame",
    "utf16_len",
    "utf16_prefix",
]

TEMPLATE_MAX = 4000  # agent_prompt.template, in UTF-16 code units
SAY_SHOWN = 60  # the speech bubble shows this many UTF-16 code units of ``say``


class Invalid(ValueError):
    """The frame would fail the real server's validation."""


def utf16_len(text: str) -> int:
    """Length as JavaScript (and so zod) counts it: a character beyond U+FFFF counts 2."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def utf16_prefix(text: str, units: int) -> str:
    """The longest start of ``text`` within ``units`` UTF-16 code units.

    JavaScript's ``slice`` may cut a surrogate pair in half; a Python string
    cannot hold that half usefully, so a character that does not fit whole is left out.
    """
    used = 0
    for end, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return text[:end]
    return text


def _int(obj: dict[str, Any], key: str, *, optional: bool = False) -> None:
    if optional and key not in obj:
        return
    value = obj.get(key)
    if type(value) is not int or value < 0:
        raise Invalid(f"{key} must be a non-negative integer, got {value!r}")


def _text(obj: dict[str, Any], key: str, *, optional: bool = False) -> None:
    if optional and key not in obj:
        return
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise Invalid(f"{key} must be a non-empty string, got {value!r}")


def _content(obj: dict[str, Any]) -> None:
    if not isinstance(obj.get("content"), str):
        raise Invalid(f"content must be a string, got {obj.get('content')!r}")


def _model_info(obj: dict[str, Any]) -> None:
    info = obj.get("model_info")
    if not isinstance(info, dict):
        raise Invalid(f"model_info must be an object, got {info!r}")
    _text(info, "name")
    _text(info, "runner")
    _text(info, "device", optional=True)


_DIRECTIONS = {"N", "NE", "E", "SE", "S", "SW", "W", "NW", "STAY"}


def _direction(obj: dict[str, Any]) -> None:
    if obj.get("direction") not in _DIRECTIONS:
        raise Invalid(
            f"direction must be one of {sorted(_DIRECTIONS)}, got {obj.get('direction')!r}"
        )


def _optional_text(obj: dict[str, Any], key: str) -> None:
    if key in obj and not isinstance(obj[key], str):
        raise Invalid(f"{key} must be a string, got {obj[key]!r}")


def _color(obj: dict[str, Any]) -> None:
    color = obj.get("color")
    if "color" in obj and not (
        isinstance(color, str) and len(color) == 7 and color[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in color[1:])
    ):  # fmt: skip
        raise Invalid(f"color must look like #ff5e5e, got {color!r}")


def _template(obj: dict[str, Any]) -> None:
    template = obj.get("template")
    if not isinstance(template, str) or not 1 <= utf16_len(template) <= TEMPLATE_MAX:
        raise Invalid(f"template must be a string of 1 to {TEMPLATE_MAX} UTF-16 code units")
    if type(obj.get("is_default")) is not bool:
        raise Invalid(f"is_default must be a boolean, got {obj.get('is_default')!r}")


_CHECKS: dict[str, tuple[Any, ...]] = {
    "register": (
        lambda o: _text(o, "participant_id"),
        lambda o: _text(o, "nickname"),
        lambda o: _text(o, "pin"),
        lambda o: _text(o, "runner", optional=True),
        lambda o: _text(o, "model", optional=True),
    ),
    "token": (
        lambda o: _int(o, "round"),
        lambda o: _text(o, "participant_id"),
        lambda o: _int(o, "seq"),
        _content,
    ),
    "complete": (
        lambda o: _int(o, "round"),
        lambda o: _text(o, "participant_id"),
        lambda o: _int(o, "tokens"),
        lambda o: _int(o, "latency_ms_first_token", optional=True),
        lambda o: _int(o, "duration_ms"),
        _model_info,
    ),
    "world_join": (
        lambda o: _text(o, "participant_id"),
        lambda o: _optional_text(o, "emoji"),
        _color,
        lambda o: _optional_text(o, "strategy_summary"),
    ),
    "agent_action": (
        lambda o: _text(o, "participant_id"),
        _direction,
        lambda o: _int(o, "pulse"),
        lambda o: _optional_text(o, "say"),
    ),
    "agent_prompt": (lambda o: _text(o, "participant_id"), _template),
    "error": (
        lambda o: _int(o, "round"),
        lambda o: _text(o, "participant_id"),
        lambda o: _text(o, "code", optional=True),
        lambda o: _text(o, "message"),
    ),
}


def parse_client_frame(frame: str | bytes) -> dict[str, Any]:
    """Parse and validate one client frame.

    Returns:
        The decoded JSON object, for a message type the arena knows.

    Raises:
        Invalid: not JSON, not an object, unknown type or a field that the
            real server's schema rejects.
    """
    if isinstance(frame, bytes):
        raise Invalid("binary frame; the arena expects text frames")
    try:
        obj = json.loads(frame)
    except ValueError as exc:
        raise Invalid(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise Invalid("not a JSON object")
    checks = _CHECKS.get(obj.get("type"))  # type: ignore[arg-type]
    if checks is None:
        raise Invalid(f"unknown message type {obj.get('type')!r}")
    for check in checks:
        check(obj)
    return obj
