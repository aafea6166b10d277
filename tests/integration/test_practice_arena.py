"""The practice arena behaves like the real arena server (protocol.md, HTTP side and quirks).

Played with plain ``httpx`` and ``websockets`` clients, not the gambiarra
client, so these tests pin the arena itself.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gambiarra.arena.http_side import iso_ms
from gambiarra.arena.server import PracticeArena
from tests.conftest import shared_file

pytestmark = pytest.mark.anyio

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def sample(name: str) -> dict[str, Any]:
    return json.loads(shared_file("wire", name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


async def get(arena: PracticeArena, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=arena.http_url) as client:
        with anyio.fail_after(5):
            return await client.get(path)


@asynccontextmanager
async def participant(
    arena: PracticeArena, participant_id: str = "ana-pc", nickname: str = "Ana"
) -> AsyncIterator[ClientConnection]:
    """A registered WebSocket participant."""
    with anyio.fail_after(5):
        async with connect(arena.url) as ws:
            await send(ws, type="register", participant_id=participant_id, nickname=nickname,
                       pin=arena.pin, runner="ollama", model="llama3.1:8b")  # fmt: skip
            assert (await receive(ws))["type"] == "registered"
            yield ws


async def send(ws: ClientConnection, **message: object) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    with anyio.fail_after(5):
        return json.loads(await ws.recv())  # type: ignore[no-any-return]


async def token(ws: ClientConnection, round_: int, seq: int, content: str) -> None:
    await send(ws, type="token", round=round_, participant_id="ana-pc", seq=seq, content=content)


async def complete(ws: ClientConnection, round_: int, tokens: int) -> None:
    await send(ws, type="complete", round=round_, participant_id="ana-pc", tokens=tokens,
               duration_ms=10, model_info={"name": "llama3.1:8b", "runner": "ollama"})  # fmt: skip


async def wait_for(arena: PracticeArena, condition: Any) -> None:
    with anyio.fail_after(5):
        await arena.wait_for(condition)


# ------------------------------------------------------------------ HTTP side


async def test_health_is_json_with_the_server_clock_offset() -> None:
    offset = -7 * 60_000  # the server's clock 7 minutes behind the client's
    async with PracticeArena(clock_offset_ms=offset) as arena:
        before = int(time.time() * 1000)
        response = await get(arena, "/health")
        after = int(time.time() * 1000)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == list(sample("arena-health.json"))
    assert body["status"] == "ok"
    assert before + offset <= body["timestamp"] <= after + offset
    assert arena.http_requests["/health"] == 1  # counted per path: one look-up


async def test_current_round_has_the_sample_shape_and_live_tokens_give_the_next_seq() -> None:
    async with PracticeArena(clock_offset_ms=3_600_000) as arena, participant(arena) as ws:
        record = await arena.start_round("Escreva um haicai", max_tokens=40, deadline_ms=30_000)
        challenge = await receive(ws)
        for seq, text in enumerate(["Olá", " 👨‍👩‍👧", " naïve"]):
            await token(ws, challenge["round"], seq, text)
        await token(ws, challenge["round"], 7, " perdido")  # not the next seq: dropped
        await wait_for(arena, lambda: arena.seq_mismatches == 1)
        body = (await get(arena, "/rounds/current")).json()

        assert list(body) == list(sample("arena-rounds-current.json"))
        assert body["id"] == record.id
        assert body["sessionId"] == arena.session_id
        assert body["index"] == challenge["round"] == 1
        assert (body["maxTokens"], body["temperature"], body["deadlineMs"]) == (40, 0.8, 30_000)
        assert body["seed"] is None
        assert body["svgMode"] is False
        assert body["endedAt"] is None
        assert ISO_MS.fullmatch(body["startedAt"])
        assert body["startedAt"] == iso_ms(record.started_at_ms)
        assert abs(record.started_at_ms - (time.time() * 1000 + 3_600_000)) < 60_000
        live = body["liveTokens"]["ana-pc"]
        assert live == ["Olá", " 👨‍👩‍👧", " naïve"]

        await token(ws, challenge["round"], len(live), " ok")  # resume at exactly that seq
        await wait_for(arena, lambda: len(record.entry("ana-pc").tokens) == 4)
    assert arena.seq_mismatches == 1
    (warning,) = arena.warnings
    assert warning.startswith("WS_SEQ_MISMATCH")
    assert "expected=3 got=7" in warning


async def test_no_session_no_round_and_a_stopped_round_answer_404() -> None:
    async with PracticeArena(session_open=False) as arena:
        response = await get(arena, "/rounds/current")
        assert (response.status_code, response.json()) == (404, {"error": "No active session"})
        arena.open_session()
        response = await get(arena, "/rounds/current")
        assert response.status_code == 404
        assert response.json() == sample("arena-rounds-current-none.json")

        record = await arena.start_round("oi", deadline_ms=0)  # past its deadline at once
        assert (await get(arena, "/rounds/current")).json()["id"] == record.id  # still current

        stopped = arena.stop_round()
        assert stopped is record
        response = await get(arena, "/rounds/current")
        assert (response.status_code, response.json()) == (404, {"error": "No active round"})
        assert record.ended_at_ms is not None
    assert arena.http_requests["/rounds/current"] == 4


async def test_starting_a_round_ends_the_previous_one() -> None:
    async with PracticeArena() as arena:
        first = await arena.start_round("um", svg_mode=True)
        second = await arena.start_round("dois")
        body = (await get(arena, "/rounds/current")).json()
    assert body["id"] == second.id
    assert (body["index"], body["svgMode"]) == (2, False)
    assert first.ended_at_ms is not None
    assert first.svg_mode is True


async def test_responses_are_recorded_at_complete_and_a_later_complete_overwrites() -> None:
    async with PracticeArena() as arena, participant(arena) as ws:
        record = await arena.start_round("Escreva um haicai sobre gambiarras")
        index = (await receive(ws))["round"]
        entry = record.entry("ana-pc")
        await token(ws, index, 0, "Olá")
        await token(ws, index, 1, " mundo")
        await complete(ws, index, tokens=2)
        await wait_for(arena, lambda: entry.completes == 1)
        first_at = entry.complete_at
        body = (await get(arena, f"/rounds/{record.id}/responses")).json()

        shape = sample("arena-round-responses.json")
        assert list(body) == list(shape)
        assert [list(r) for r in body["responses"]] == [list(shape["responses"][0])]
        assert body["responses"] == [
            {"participant_id": "ana-pc", "nickname": "Ana", "generated_content": "Olá mundo"}
        ]
        assert (body["prompt"], body["svgMode"]) == (record.prompt, False)

        await token(ws, index, 2, "!")
        await complete(ws, index, tokens=3)  # a needless second complete
        await wait_for(arena, lambda: entry.completes == 2)
        body = (await get(arena, f"/rounds/{record.id}/responses")).json()
    assert [r["generated_content"] for r in body["responses"]] == ["Olá mundo!"]
    assert first_at is not None
    assert entry.complete_at is not None
    assert entry.complete_at > first_at
    measured = record.measured("ana-pc")
    assert measured.tokens == 3
    assert measured.duration_ms == round((entry.complete_at - record.broadcast_at) * 1000)


async def test_responses_of_an_unknown_round_answer_400() -> None:
    async with PracticeArena() as arena:
        response = await get(arena, "/rounds/d941f672-912c-4102-8123-8513bbc712c1/responses")
    assert (response.status_code, response.json()) == (400, {"error": "Round not found"})


async def test_presence_lists_who_is_connected_now() -> None:
    async with PracticeArena() as arena, participant(arena):
        async with participant(arena, "bia-pc", "Bia"):
            body = (await get(arena, "/presence")).json()
            assert body["sessionId"] == arena.session_id
            assert body["connectedCount"] == 2
            first = body["participants"][0]
            assert list(first) == [
                "id", "nickname", "runner", "model", "createdAt", "connected", "lastSeen"
            ]  # fmt: skip
            assert (first["id"], first["nickname"], first["model"]) == ("ana-pc", "Ana",
                                                                        "llama3.1:8b")  # fmt: skip
            assert first["connected"] is True
            assert ISO_MS.fullmatch(first["createdAt"])
            assert ISO_MS.fullmatch(first["lastSeen"])
        await wait_for(arena, lambda: not arena.is_connected("bia-pc"))
        body = (await get(arena, "/presence")).json()
    assert [p["id"] for p in body["participants"]] == ["ana-pc"]
    assert body["connectedCount"] == 1


async def test_unknown_paths_answer_404_json() -> None:
    async with PracticeArena() as arena:
        response = await get(arena, "/rounds?x=1")
    assert response.status_code == 404
    assert response.json()["error"] == "Not Found"
    assert arena.http_requests == {"/rounds": 1}


@pytest.mark.parametrize("path", ["/health", "/rounds/current", "/presence", "/world/state"])
async def test_the_python_server_has_no_http_side(path: str) -> None:
    async with PracticeArena(flavor="python") as arena:
        response = await get(arena, path)
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


# ------------------------------------------------------------------ rounds and links


async def test_a_participant_registering_after_the_round_started_gets_no_challenge() -> None:
    async with PracticeArena() as arena, participant(arena) as early:
        await arena.start_round("oi")
        assert (await receive(early))["type"] == "challenge"
        async with participant(arena, "bia-pc", "Bia") as late:
            await arena.send_raw("bia-pc", '{"type":"marker"}')
            assert (await receive(late))["type"] == "marker"  # nothing came before it


async def test_restart_forgets_buffers_keeps_responses_and_accepts_seq_0_again() -> None:
    async with PracticeArena(pin="4321") as arena:
        session, url = arena.session_id, arena.url
        async with participant(arena) as ws:
            record = await arena.start_round("Era uma vez")
            index = (await receive(ws))["round"]
            await token(ws, index, 0, "Era")
            await complete(ws, index, tokens=1)
            await token(ws, index, 1, " uma")  # after complete: only in memory
            entry = record.entry("ana-pc")
            await wait_for(arena, lambda: len(entry.tokens) == 2)

            await arena.restart()
            with anyio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is None  # no close frame: the process died
        assert (arena.session_id, arena.url, arena.pin) == (session, url, "4321")
        assert not arena.is_connected("ana-pc")

        async with participant(arena) as ws:
            current = (await get(arena, "/rounds/current")).json()
            assert current["id"] == record.id
            assert current["liveTokens"] == {}  # the buffer is gone
            await token(ws, index, 2, " vez")  # carrying on from before: dropped
            await token(ws, index, 0, "Era")  # from the start: accepted
            await wait_for(arena, lambda: entry.tokens == ["Era"])
            current = (await get(arena, "/rounds/current")).json()
            responses = (await get(arena, f"/rounds/{record.id}/responses")).json()
    assert current["liveTokens"] == {"ana-pc": ["Era"]}
    assert [r["generated_content"] for r in responses["responses"]] == ["Era"]
    assert arena.seq_mismatches == 1
    assert arena.restarts == 1


async def test_while_restarting_connections_are_refused_then_accepted_at_the_same_url() -> None:
    async with PracticeArena() as arena:
        url = arena.url
        async with anyio.create_task_group() as tg:
            tg.start_soon(arena.restart, 60.0)
            await wait_for(arena, lambda: arena.restarts == 1)
            with anyio.fail_after(5), pytest.raises(ConnectionRefusedError):
                await connect(url)  # the process is down
            arena.come_back()
        async with participant(arena):  # restart() has returned: listening again
            assert arena.url == url
    assert len(arena.registrations) == 1
    assert len(arena.upgrade_attempts) == 1  # the refused attempt reached no server


async def test_a_second_socket_with_the_same_id_closes_the_first_with_no_status() -> None:
    async with PracticeArena() as arena, participant(arena) as old, participant(arena) as new:
        with anyio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            await old.recv()  # no error frame comes first
        assert old.close_code == 1005
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1005
        await arena.send_raw("ana-pc", '{"type":"marker"}')
        assert (await receive(new))["type"] == "marker"  # the newer socket is kept
    assert len(arena.registrations) == 2
    assert arena.register_attempts == 2


async def test_refused_upgrades_carry_the_status_and_retry_after() -> None:
    async with PracticeArena() as arena:
        arena.refuse_upgrades(429, 2, retry_after=0.5)
        for _ in range(2):
            with anyio.fail_after(5), pytest.raises(InvalidStatus) as refused:
                await connect(arena.url)
            assert refused.value.response.status_code == 429
            assert refused.value.response.headers["Retry-After"] == "0.5"
        async with participant(arena):
            pass
    assert len(arena.upgrade_attempts) == 3
    assert arena.upgrade_attempts == sorted(arena.upgrade_attempts)
    assert arena.http_requests == {}  # upgrades are not counted as HTTP reads


async def test_close_after_register_accepts_then_hangs_up() -> None:
    async with PracticeArena() as arena:
        arena.close_after_register(1, code=1012)
        async with participant(arena) as ws:
            with anyio.fail_after(5), pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1012
        async with participant(arena) as ws:
            await arena.send_raw("ana-pc", '{"type":"marker"}')
            assert (await receive(ws))["type"] == "marker"  # the next one stays open
    assert len(arena.registrations) == 2


async def test_failed_http_reads_answer_the_status_as_json_until_spent() -> None:
    async with PracticeArena() as arena:
        arena.fail_http(429, "/world/state", times=2)
        arena.fail_http(500, "/responses")
        world = [await get(arena, "/world/state") for _ in range(3)]
        record = await arena.start_round("oi")
        responses = await get(arena, f"/rounds/{record.id}/responses")
        health = await get(arena, "/health")
    answers = [(r.status_code, r.json()) for r in world]
    assert answers[:2] == [(429, {"error": "Too Many Requests"})] * 2
    assert answers[2] == (200, {"running": False, "avatars": []})  # the failures are spent
    assert (responses.status_code, responses.json()) == (500, {"error": "Internal Server Error"})
    assert health.status_code == 200
    assert arena.http_requests["/world/state"] == 3  # failed reads are counted too


async def test_a_slow_record_is_not_shown_yet_while_the_socket_reads_on() -> None:
    async with PracticeArena(record_delay=60.0) as arena, participant(arena) as ws:
        record = await arena.start_round("oi")
        index = (await receive(ws))["round"]
        entry = record.entry("ana-pc")
        await token(ws, index, 0, "Olá")
        await complete(ws, index, tokens=1)
        await token(ws, index, 1, "!")  # read while the database is still writing
        await wait_for(arena, lambda: len(entry.tokens) == 2)
        body = (await get(arena, f"/rounds/{record.id}/responses")).json()
    assert (entry.completes, entry.done.is_set()) == (1, True)  # counted on arrival
    assert entry.recorded is None
    assert body["responses"] == []


async def test_a_slow_record_keeps_the_buffer_as_it_was_when_the_complete_arrived() -> None:
    async with PracticeArena(record_delay=0.01) as arena, participant(arena) as ws:
        record = await arena.start_round("oi")
        index = (await receive(ws))["round"]
        entry = record.entry("ana-pc")
        await token(ws, index, 0, "Olá")
        await complete(ws, index, tokens=1)
        await token(ws, index, 1, "!")
        await wait_for(arena, lambda: entry.recorded is not None and len(entry.tokens) == 2)
        body = (await get(arena, f"/rounds/{record.id}/responses")).json()
    assert [r["generated_content"] for r in body["responses"]] == ["Olá"]


# ------------------------------------------------------------------ world


async def test_world_join_starts_a_stopped_world() -> None:
    async with PracticeArena() as arena:
        await arena.start_world()
        arena.stop_world()
        assert (await get(arena, "/world/state")).json() == {"running": False, "avatars": []}
        async with participant(arena) as ws:
            await send(ws, type="world_join", participant_id="ana-pc", emoji="🦊")
            assert (await receive(ws))["type"] == "perception"
            state = (await get(arena, "/world/state")).json()
    assert state["running"] is True
    (avatar,) = state["avatars"]
    assert (avatar["id"], avatar["emoji"], avatar["score"]) == ("ana-pc", "🦊", 0)
    assert {"x", "y"} <= set(avatar)


async def test_an_avatar_and_its_score_leave_when_the_link_drops() -> None:
    async with PracticeArena() as arena:
        world = await arena.start_world()
        async with participant(arena) as ws:
            await send(ws, type="world_join", participant_id="ana-pc")
            assert (await receive(ws))["pulse"] == 1
            first = world.avatars["ana-pc"]
            first.score = 3  # as if it had eaten
            arena.drop("ana-pc")
            await wait_for(arena, lambda: "ana-pc" not in world.avatars)
        async with participant(arena) as ws:
            await send(ws, type="world_join", participant_id="ana-pc")
            perception = await receive(ws)
    assert (perception["pulse"], perception["score"]) == (1, 0)  # a new avatar
    assert world.departed[0] is first
    assert world.departed[0].score == 3


async def test_heartbeats_carry_the_server_clock() -> None:
    offset = 10 * 60_000
    before = int(time.time() * 1000)
    async with (
        PracticeArena(heartbeat_interval=0.02, clock_offset_ms=offset) as arena,
        participant(arena) as ws,
    ):
        beat = await receive(ws)
        after = int(time.time() * 1000)
    assert beat["type"] == "heartbeat"
    assert before + offset <= beat["ts"] <= after + offset
