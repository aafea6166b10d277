"""Property: whatever the arena or the model server sends, the client survives.

Hypothesis throws arbitrary frames at the client through the practice arena
and an arbitrary body (and status) from the model server; afterwards a valid
round must still complete with the exact text, on the same client.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
import respx
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gambiarra.arena.server import PracticeArena
from gambiarra.domain.arena_errors import ArenaErrorKind, classify
from gambiarra.domain.protocol import ServerError
from tests.conftest import wire
from tests.integration.conftest import (
    OLLAMA,
    fast_container,
    ollama_pieces,
    playing,
    settings_for,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = ("round", "prompt", "max_tokens", "temperature", "deadline_ms", "seed", "message", "code",
          "session_id", "ts")  # fmt: skip
MESSAGE_LIKE = st.builds(
    lambda kind, extra: {"type": kind, **extra},
    st.sampled_from(["challenge", "registered", "heartbeat", "error", "perception", "zzz"]),
    st.dictionaries(st.sampled_from(FIELDS), JSON | st.integers(-5, 5), max_size=5),
)
SURROGATES = st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)
FRAMES = st.one_of(
    st.text(max_size=100),
    st.binary(max_size=100),
    JSON.map(json.dumps),
    MESSAGE_LIKE.map(json.dumps),
    SURROGATES.map(lambda s: json.dumps({"type": "challenge", "round": 9, "prompt": s})),
)


def stops_the_client(frame: str | bytes) -> bool:
    """A forged "Invalid PIN" rightly stops the client; keep it out of the property."""
    try:
        obj: Any = json.loads(frame)
    except ValueError:
        return False
    if not isinstance(obj, dict) or obj.get("type") != "error":
        return False
    message = obj.get("message")
    return isinstance(message, str) and classify(ServerError(message=message)) is (
        ArenaErrorKind.PIN_REJECTED
    )


async def scenario(frames: list[str | bytes], status: int, body: bytes) -> None:
    good = wire("ollama-generate.ndjson")

    def model(request: httpx.Request) -> httpx.Response:
        valid = json.loads(request.content)["prompt"] == "VALID"
        return httpx.Response(200, content=good) if valid else httpx.Response(status, content=body)

    async with PracticeArena(pin="4321") as arena:
        settings_ = settings_for(arena, runner="ollama", model="llama3.1:8b", runner_timeout=2.0)
        with respx.mock(base_url=OLLAMA) as mock, structlog.testing.capture_logs() as logs:
            mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
            mock.post("/api/show").respond(200, content=wire("ollama-show.json"))
            mock.post("/api/generate").mock(side_effect=model)
            async with playing(settings_, fast_container(settings_)) as tg:
                await arena.wait_registered("ana-pc")
                for frame in frames:
                    await arena.send_raw("ana-pc", frame)
                hostile = await arena.start_round("hostile")
                with anyio.fail_after(10):
                    await hostile.entry("ana-pc").done.wait()
                await arena.wait_registered("ana-pc")
                record = await arena.start_round("VALID")
                entry = record.entry("ana-pc")
                with anyio.fail_after(10):
                    await entry.done.wait()
                tg.cancel_scope.cancel()
    assert entry.complete is not None
    assert entry.text == "".join(ollama_pieces(good))
    assert not [e for e in logs if e["event"] == "runner_crashed"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.lists(FRAMES.filter(lambda f: not stops_the_client(f)), max_size=8),
    status=st.sampled_from([200, 404, 500]),
    body=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()),
)
def test_arbitrary_frames_and_model_bodies_never_break_the_client(
    frames: list[str | bytes], status: int, body: bytes
) -> None:
    anyio.run(scenario, frames, status, body, backend="asyncio")


@pytest.mark.anyio
async def test_a_flood_of_junk_frames_is_counted_even_past_the_log_limit(
    arena: PracticeArena,
) -> None:
    """200 bad frames: a few lines, then one count for the rest when the round ends."""
    from tests.fakes import ScriptedRunner

    settings = settings_for(arena, rounds=1)
    container = fast_container(settings, runner=ScriptedRunner("ok"))
    with structlog.testing.capture_logs() as logs:
        async with playing(settings, container):
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                for n in range(200):
                    await arena.send_raw("ana-pc", f"not json {n}")
                record = await arena.start_round("segue", max_tokens=3)
                await record.entry("ana-pc").done.wait()
    shown = [e for e in logs if e["event"] == "arena_frame_ignored"]
    (counted,) = [e for e in logs if e["event"] == "arena_frames_ignored"]
    assert len(shown) + sum(e["suppressed"] for e in shown) + counted["count"] == 200
    assert counted["round"] == record.index
    assert record.entry("ana-pc").text == "ok"
