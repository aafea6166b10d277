"""The arena wire protocol as msgspec tagged unions (see shared protocol.md).

Rules of this module:
- Server messages are decoded leniently: unknown fields are skipped, fields
  that one of the two arena servers omits have defaults, an integral float
  (``10.0``) is taken where an integer is expected, and an unknown ``type``
  decodes to ``None`` so the caller can ignore it. A non-integral float, a
  string or a boolean in an integer field is still refused: msgspec's
  ``strict=False`` is not used because it would also take ``"10"``.
- Client messages are encoded the way the strict (zod) server demands:
  optional fields are UNSET and therefore omitted, never ``null``; every ms
  value is an ``int``.
- Decoding failures become our own ``ProtocolError``; no msgspec exception
  leaves this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, cast

import msgspec
from msgspec import UNSET, UnsetType

from gambiarra.errors import ProtocolError

__all__ = [
    "AgentAction",
    "AgentPrompt",
    "Challenge",
    "ClientMessage",
    "Complete",
    "ErrorReport",
    "Food",
    "Heartbeat",
    "ModelInfo",
    "Perception",
    "Register",
    "Registered",
    "ServerError",
    "ServerMessage",
    "Token",
    "WorldJoin",
    "decode_server",
    "encode_client",
]


class _Wire(msgspec.Struct, tag_field="type", frozen=True):
    """Base of every message: the tag goes in the ``type`` field."""


# ---------------------------------------------------------------- server -> client


class Registered(_Wire, tag="registered", kw_only=True, frozen=True):
    """The arena accepted our ``register``.

    The TypeScript server sends ``session_id``, the Python one ``participant_id``.
    """

    session_id: str | None = None
    participant_id: str | None = None


class Challenge(_Wire, tag="challenge", kw_only=True, frozen=True):
    """A new round. A new challenge also means the previous round is over.

    ``seed`` is absent (TypeScript server) or ``null`` (Python server); the
    generation parameters may be omitted, in which case the client's own
    fallbacks apply. ``round`` counts from 1 or from 0 depending on the server.
    """

    round: int
    prompt: str
    session_id: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    deadline_ms: float | None = None
    seed: int | None = None


class Heartbeat(_Wire, tag="heartbeat", kw_only=True, frozen=True):
    """Sent every 30 s to registered participants; proves the link is alive."""

    ts: float | None = None


class ServerError(_Wire, tag="error", kw_only=True, frozen=True):
    """An error from the arena; ``message`` text varies between servers."""

    message: str = ""
    code: str | None = None


class Food(msgspec.Struct, frozen=True, kw_only=True):
    direction: str = ""
    distance: str = ""  # perto, média or longe


class Perception(_Wire, tag="perception", kw_only=True, frozen=True):
    """A world-mode radar pulse: answer it with one ``agent_action``."""

    pulse: int
    objective: str = ""
    nearest_food: Food | None = None
    walls: str = ""
    position: str = ""
    score: int = 0
    bumped: bool = False
    radar_text: str = ""


ServerMessage = Registered | Challenge | Heartbeat | ServerError | Perception

_KNOWN_SERVER_TYPES = frozenset({"registered", "challenge", "heartbeat", "error", "perception"})


_server_decoder = msgspec.json.Decoder(ServerMessage)


def decode_server(raw: bytes | str) -> ServerMessage | None:
    """Decode one frame from the arena.

    Returns:
        The message, or ``None`` when the frame is a well-formed object of a
        type this client does not know (display screens share the endpoint).

    Raises:
        ProtocolError: the frame is not JSON, not an object, has no ``type``,
            or a known type with fields of the wrong type.
    """
    try:
        return cast(ServerMessage, _server_decoder.decode(raw))
    except msgspec.DecodeError as exc:
        first_error = exc
    # The slow path, only for frames the fast decoder refused. The stdlib parser
    # also takes lone surrogates (\ud800), which JSON allows and msgspec refuses;
    # they are replaced before validating, so such a challenge is not lost.
    # Integral floats become ints there too: a JavaScript server may well
    # send `"max_tokens": 10.0`, and skipping the whole round for it is worse.
    obj = _lenient_json(raw)
    if not isinstance(obj, dict):
        raise ProtocolError(f"bad frame from arena: {first_error}")
    kind = obj.get("type")
    if isinstance(kind, str) and kind not in _KNOWN_SERVER_TYPES:
        return None
    try:
        return cast(ServerMessage, msgspec.convert(obj, ServerMessage))
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"bad {kind!r} frame from arena: {exc}") from None


def _lenient_json(raw: bytes | str) -> Any:
    try:
        return _scrub(json.loads(raw))
    except (ValueError, RecursionError):
        return None


_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64 = 2**63  # beyond it a "number" is junk, and would not encode back


def _scrub(value: Any) -> Any:
    """Replace lone surrogates in every string, and integral floats by ints.

    A float field takes an int unchanged, so only integer fields see a change.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float) and value.is_integer() and abs(value) < _INT64:
        return int(value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- client -> server


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    runner: str
    device: str | UnsetType = UNSET


class Register(_Wire, tag="register", kw_only=True, frozen=True):
    participant_id: str
    nickname: str
    pin: str
    runner: str
    model: str

    def __repr__(self) -> str:
        # The PIN is a secret: keep it out of logs and tracebacks.
        return (
            f"Register(participant_id={self.participant_id!r}, nickname={self.nickname!r}, "
            f"pin='***', runner={self.runner!r}, model={self.model!r})"
        )


class Token(_Wire, tag="token", kw_only=True, frozen=True):
    round: int
    participant_id: str
    seq: int
    content: str


class Complete(_Wire, tag="complete", kw_only=True, frozen=True):
    round: int
    participant_id: str
    tokens: int
    duration_ms: int
    model_info: ModelInfo
    # Omitted, never null, when no token was produced.
    latency_ms_first_token: int | UnsetType = UNSET


class ErrorReport(_Wire, tag="error", kw_only=True, frozen=True):
    round: int
    participant_id: str
    code: str
    message: str

    def __post_init__(self) -> None:
        # The Python server closes the socket on an empty message.
        if not self.message.strip():
            raise ValueError("an error report needs a non-empty message")


class WorldJoin(_Wire, tag="world_join", kw_only=True, frozen=True):
    participant_id: str
    emoji: str | UnsetType = UNSET
    color: str | UnsetType = UNSET
    strategy_summary: str | UnsetType = UNSET


class AgentAction(_Wire, tag="agent_action", kw_only=True, frozen=True):
    participant_id: str
    direction: str  # N NE E SE S SW W NW STAY
    pulse: int
    say: str | UnsetType = UNSET  # shown (60 characters) in a speech bubble


class AgentPrompt(_Wire, tag="agent_prompt", kw_only=True, frozen=True):
    """The participant's prompt template, for the organisers' research log."""

    participant_id: str
    template: str  # 1 to 4000 characters
    is_default: bool


ClientMessage = Register | Token | Complete | ErrorReport | WorldJoin | AgentAction | AgentPrompt

# Encode a client message as one JSON object (UTF-8 bytes). The encoder's own
# method, not a wrapper: it runs for every token.
encode_client: Callable[[ClientMessage], bytes] = msgspec.json.Encoder().encode
