"""ArenaHttp: the arena's public HTTP side (protocol.md), read only.

The TypeScript arena answers plain HTTP on the WebSocket's host and port; the
Python arena has no such routes. Every read therefore returns ``None`` when
the answer is missing, malformed or slow, and the caller falls back to what
it did before these routes existed. Nothing here raises to the caller.

Reads are few by design (the arena rate-limits HTTP to 500 requests a minute
per address): one or two after a registration, one after a round's complete.
"""

from __future__ import annotations

import datetime
import ssl
from typing import TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import msgspec
import structlog

from gambiarra.domain.rejoin import RoundOnArena

__all__ = ["ArenaHttp", "NoRound", "RecordedAnswer", "http_base"]

log = structlog.get_logger("gambiarra.arena_http")

T = TypeVar("T")
# An arena on the LAN answers in milliseconds; a slow answer is no answer.
TIMEOUT_S = 2.0


class NoRound:
    """The arena answered: no round is running (404), or none recorded."""


class _Absent:
    """The server has no such route (the Python arena, a proxy that passes only /ws)."""


NO_ROUND = NoRound()
_ABSENT = _Absent()


class _Health(msgspec.Struct):
    timestamp: int


class _CurrentRound(msgspec.Struct, rename="camel"):
    id: str
    index: int
    prompt: str
    started_at: str
    session_id: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    deadline_ms: int | None = None
    seed: int | None = None
    svg_mode: bool = False
    live_tokens: dict[str, list[str]] = {}


class RecordedAnswer(msgspec.Struct):
    """One answer as the arena recorded it when our ``complete`` arrived."""

    participant_id: str
    generated_content: str = ""
    nickname: str = ""


class _Responses(msgspec.Struct):
    responses: list[RecordedAnswer] = []


class _PresentParticipant(msgspec.Struct):
    id: str
    connected: bool = True


class _Presence(msgspec.Struct):
    participants: list[_PresentParticipant] = []


class _WorldState(msgspec.Struct):
    running: bool


def http_base(ws_url: str) -> str:
    """``ws://H:P/ws`` -> ``http://H:P``; ``wss`` -> ``https``."""
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, "", "", ""))


class ArenaHttp:
    """Reads the arena's HTTP routes; every method returns None when it cannot tell.

    Args:
        ws_url: the arena's WebSocket URL; the HTTP side is on the same host and port.
        participant_id: whose tokens and answers to look for.
        ssl_context: for ``https`` with the organiser's own CA.
        transport: an httpx transport (tests); None uses the network.
    """

    def __init__(
        self,
        ws_url: str,
        participant_id: str,
        ssl_context: ssl.SSLContext | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = http_base(ws_url)
        self._participant = participant_id
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=TIMEOUT_S,
            verify=ssl_context if ssl_context is not None else True,
            trust_env=False,  # a LAN arena is never behind the user's HTTP proxy
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def server_time_ms(self) -> int | None:
        """The arena's clock (epoch ms), from ``GET /health``."""
        health = await self._get("/health", _Health)
        return health.timestamp if isinstance(health, _Health) else None

    async def current_round(self) -> RoundOnArena | NoRound | None:
        """The running round with what the arena holds for us; ``NO_ROUND`` on 404."""
        found = await self._get("/rounds/current", _CurrentRound)
        if not isinstance(found, _CurrentRound):
            return found if isinstance(found, NoRound) else None
        started = _epoch_ms(found.started_at)
        if started is None:
            return None
        return RoundOnArena(
            round_id=found.id,
            index=found.index,
            prompt=found.prompt,
            started_at_ms=started,
            session_id=found.session_id,
            max_tokens=found.max_tokens,
            temperature=found.temperature,
            deadline_ms=found.deadline_ms,
            seed=found.seed,
            svg_mode=found.svg_mode,
            held=len(found.live_tokens.get(self._participant, ())),
        )

    async def recorded_answer(self, round_id: str) -> RecordedAnswer | NoRound | None:
        """Our answer as recorded for that round; ``NO_ROUND`` when none is recorded."""
        found = await self._get(f"/rounds/{quote(round_id, safe='')}/responses", _Responses)
        if not isinstance(found, _Responses):
            return found if isinstance(found, NoRound) else None
        mine = [r for r in found.responses if r.participant_id == self._participant]
        return mine[-1] if mine else NO_ROUND

    async def connected_ids(self) -> set[str] | None:
        """The participant ids connected right now (``GET /presence``)."""
        found = await self._get("/presence", _Presence)
        if not isinstance(found, _Presence):
            return None
        return {p.id for p in found.participants if p.connected}

    async def world_running(self) -> bool | None:
        """Whether the organiser's 2-D world is running (``GET /world/state``).

        None: the server has no such route, so there is nothing to wait for.
        A look-up that failed counts as "not running": joining would start a
        world the organiser may have stopped (protocol.md), so the caller waits.
        """
        found = await self._get("/world/state", _WorldState)
        if isinstance(found, _WorldState):
            return found.running
        return None if isinstance(found, _Absent) else False

    async def _get(self, path: str, shape: type[T]) -> T | NoRound | _Absent | None:
        try:
            response = await self._client.get(path)
        except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
            log.debug("arena_http_unavailable", path=path, error=type(exc).__name__)
            return None
        if response.status_code in (400, 404):
            # The TypeScript arena says why ("No active round"); a server with
            # no such route at all (the Python arena) says nothing we know.
            return NO_ROUND if _error_text(response.content) in _NOTHING_RUNNING else _ABSENT
        if response.status_code != 200:
            log.debug("arena_http_status", path=path, status=response.status_code)
            return None
        try:
            return msgspec.json.decode(response.content, type=shape)
        except msgspec.DecodeError as exc:
            log.debug("arena_http_malformed", path=path, error=str(exc)[:200])
            return None


_NOTHING_RUNNING = frozenset({"no active round", "no active session", "round not found"})


class _Error(msgspec.Struct):
    error: str = ""


def _error_text(body: bytes) -> str:
    try:
        return msgspec.json.decode(body, type=_Error).error.strip().rstrip(".").lower()
    except msgspec.DecodeError:
        return ""


def _epoch_ms(iso: str) -> int | None:
    try:
        when = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return round(when.timestamp() * 1000)
