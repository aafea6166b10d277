"""The arena's public HTTP side: JSON answers on the WebSocket's own host and port.

Pure views of the arena's state shaped like the real (TypeScript) server's
answers, key for key (``wire/arena-*.json``), and the one function that wraps
a body into a websockets ``Response`` so the same listener serves both.
"""

from __future__ import annotations

import email.utils
import http
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Response

from gambiarra.arena.records import Profile, RoundRecord
from gambiarra.arena.world import World

__all__ = [
    "Answer",
    "current_round",
    "health",
    "iso_ms",
    "json_response",
    "not_found",
    "presence",
    "round_responses",
    "world_state",
]

Answer = tuple[int, dict[str, Any]]


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as JavaScript's ``Date.toJSON()`` writes them: UTC, ms, ``Z``."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{epoch_ms % 1000:03d}Z"


def health(now_ms: int) -> Answer:
    return 200, {"status": "ok", "timestamp": now_ms}


def current_round(session_id: str | None, record: RoundRecord | None) -> Answer:
    """``GET /rounds/current``: the running round and the tokens held for it."""
    if session_id is None:
        return 404, {"error": "No active session"}
    if record is None:
        return 404, {"error": "No active round"}
    challenge = record.challenge
    return 200, {
        "id": record.id,
        "sessionId": record.session_id,
        "index": record.index,
        "prompt": record.prompt,
        "maxTokens": challenge.get("max_tokens"),
        "temperature": challenge.get("temperature"),
        "deadlineMs": challenge.get("deadline_ms"),
        "seed": challenge.get("seed"),
        "svgMode": record.svg_mode,
        "startedAt": iso_ms(record.started_at_ms),
        "endedAt": None if record.ended_at_ms is None else iso_ms(record.ended_at_ms),
        "votingStatus": record.voting_status,
        "revealedCount": record.revealed_count,
        "liveTokens": record.live_tokens(),
    }


def round_responses(record: RoundRecord | None) -> Answer:
    """``GET /rounds/<id>/responses``: what each ``complete`` recorded."""
    if record is None:
        return 400, {"error": "Round not found"}
    responses = [
        {
            "participant_id": entry.participant_id,
            "nickname": entry.recorded.nickname,
            "generated_content": entry.recorded.generated_content,
        }
        for entry in record.entries.values()
        if entry.recorded is not None
    ]
    return 200, {
        "responses": responses,
        "svgMode": record.svg_mode,
        "votingStatus": record.voting_status,
        "prompt": record.prompt,
    }


def presence(session_id: str | None, connected: Iterable[Profile]) -> Answer:
    """``GET /presence``: who has a live socket right now."""
    participants = [
        {
            "id": p.id,
            "nickname": p.nickname,
            "runner": p.runner,
            "model": p.model,
            "createdAt": iso_ms(p.created_at_ms),
            "connected": True,
            "lastSeen": iso_ms(p.last_seen_ms),
        }
        for p in connected
    ]
    return 200, {
        "sessionId": session_id,
        "connectedCount": len(participants),
        "participants": participants,
    }


def world_state(world: World | None) -> Answer:
    """``GET /world/state``: whether the world runs, and its avatars."""
    if world is None:
        return 200, {"running": False, "avatars": []}
    avatars = [
        {"id": a.participant_id, "emoji": a.emoji, "score": a.score, "x": a.x, "y": a.y}
        for a in world.avatars.values()
    ]
    return 200, {"running": world.running, "avatars": avatars}


def not_found(method: str, path: str, *, python: bool = False) -> Answer:
    """The 404 each server framework writes (Fastify's or FastAPI's)."""
    if python:
        return 404, {"detail": "Not Found"}
    return 404, {
        "message": f"Route {method}:{path} not found",
        "error": "Not Found",
        "statusCode": 404,
    }


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """A complete HTTP response; the connection closes after it, as websockets does."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    head = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(data))),
            ("Content-Type", "application/json; charset=utf-8"),
        ]
    )
    for name, value in (headers or {}).items():
        head[name] = value
    return Response(status, http.HTTPStatus(status).phrase, head, data)
