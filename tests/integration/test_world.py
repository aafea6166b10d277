"""World mode over real sockets against the practice arena's world."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio
import pytest

from gambiarra.app import play
from gambiarra.arena.server import PracticeArena
from gambiarra.containers import build
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.protocol import AgentAction, ClientMessage, Food, Perception
from gambiarra.domain.world.agent import AgentMachine
from gambiarra.errors import RunnerFailed
from gambiarra.ports import ModelDescription, TokenChunk
from gambiarra.world import WorldPlayer
from tests.fakes import RecordingView
from tests.integration.conftest import faulty_proxy_url, settings_for

pytestmark = pytest.mark.anyio


def agent_container(settings, runner=None):  # type: ignore[no-untyped-def]
    from dependency_injector import providers

    container = build(settings, view="silent", mode="agent")
    if runner is not None:
        container.runner.override(providers.Object(runner))
    return container


async def test_a_world_game_with_the_mock_scores(arena: PracticeArena) -> None:
    """The mock answers MOVE: towards the food; over 15 pulses the avatar eats."""
    world = await arena.start_world(hop_seconds=0.01, stay_seconds=0.05)
    settings = settings_for(arena, pulses=15, emoji="🦊", color="#ff5e5e")
    with anyio.fail_after(20):
        await play(settings, agent_container(settings))
    avatar = world.last_avatar("ana-pc")  # the avatar left the world with the client
    assert avatar is not None
    print(f"\n[world] score {avatar.score} in {avatar.pulse} pulses, {avatar.accepted} accepted")
    assert avatar.score >= 2
    assert avatar.accepted == 15
    assert avatar.emoji == "🦊"
    assert set(avatar.says) == {"indo atrás da comida"}
    (prompt,) = arena.agent_prompts
    assert prompt["is_default"] is True
    assert "{{radar}}" in prompt["template"]
    assert arena.invalid == []


class FlakyRunner:
    """A model that fails every other decision, answering MOVE: otherwise."""

    kind = "fake"
    model = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    async def check(self) -> None:
        pass

    async def models(self) -> list[ModelDescription]:
        return []

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        self.calls += 1
        await anyio.lowlevel.checkpoint()
        if self.calls % 2 == 0:
            raise RunnerFailed("Ollama answered 500: out of memory")
        yield TokenChunk("MOVE: E | à direita")


async def test_model_errors_mid_game_answer_stay_and_play_on(arena: PracticeArena) -> None:
    world = await arena.start_world(hop_seconds=0.01, stay_seconds=0.01)
    settings = settings_for(arena, pulses=8)
    with anyio.fail_after(20):
        await play(settings, agent_container(settings, FlakyRunner()))
    avatar = world.last_avatar("ana-pc")
    assert avatar is not None
    assert avatar.accepted == 8
    assert avatar.says.count("à direita") == 4
    errors = [say for say in avatar.says if say.startswith("erro do modelo")]
    assert len(errors) == 4


async def test_a_round_during_the_world_is_played_and_the_world_goes_on(
    arena: PracticeArena,
) -> None:
    world = await arena.start_world(hop_seconds=0.01, stay_seconds=0.05)
    settings = settings_for(arena, pulses=12)
    async with anyio.create_task_group() as tg:
        tg.start_soon(play, settings, agent_container(settings))
        await arena.wait_for(
            lambda: "ana-pc" in world.avatars and world.avatars["ana-pc"].accepted >= 3
        )
        record = await arena.start_round("Uma rodada no meio do mundo", max_tokens=6)
        with anyio.fail_after(10):
            await record.entry("ana-pc").done.wait()
    assert record.entry("ana-pc").complete is not None
    assert record.entry("ana-pc").complete["tokens"] == 6  # type: ignore[index]
    avatar = world.last_avatar("ana-pc")
    assert avatar is not None
    assert avatar.accepted == 12


async def test_the_agent_rejoins_after_a_reconnect(arena: PracticeArena) -> None:
    """The cut removes the avatar and its score (real arena); the agent joins as a new one."""
    world = await arena.start_world(hop_seconds=0.01, stay_seconds=0.05)
    async with faulty_proxy_url(arena.url) as proxy:
        settings = settings_for(arena, url=proxy.url(), pulses=10)
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(play, settings, agent_container(settings))
                await arena.wait_for(
                    lambda: "ana-pc" in world.avatars and world.avatars["ana-pc"].accepted >= 3
                )
                first = world.avatars["ana-pc"]
                proxy.cut()
    assert len(arena.registrations) == 2
    assert len(arena.agent_prompts) == 2  # the template is reported again on the new link
    second = world.last_avatar("ana-pc")
    assert second is not None
    assert second is not first
    assert first in world.departed
    assert second.accepted >= 1
    assert first.accepted + second.accepted <= 10  # an action in flight at the cut is lost


class GatedRunner:
    """A model slower than the pulses: each decision waits until the test lets it go."""

    kind = "fake"
    model = "gated"

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.started: list[int] = []
        self.cancelled: list[int] = []

    async def check(self) -> None:
        pass

    async def models(self) -> list[ModelDescription]:
        return []

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        self.started.append(request.round)
        try:
            await self.release.wait()
        except BaseException:
            self.cancelled.append(request.round)
            raise
        yield TokenChunk("MOVE: S | finalmente")


def perception(number: int) -> Perception:
    food = Food(direction="S", distance="perto")
    return Perception(pulse=number, nearest_food=food, radar_text=f"RADAR #{number}")


async def test_only_the_newest_pulse_is_answered_when_the_model_is_slower() -> None:
    runner = GatedRunner()
    sent: list[ClientMessage] = []
    player = WorldPlayer(runner, AgentMachine("ana-pc"), RecordingView())
    async with anyio.create_task_group() as tg:
        tg.start_soon(player.run, sent.append, tg.cancel_scope.cancel)
        player.perceive(perception(1))
        while runner.started != [1]:
            await anyio.lowlevel.checkpoint()
        player.perceive(perception(2))  # the model is still on pulse 1
        player.perceive(perception(3))  # and a third pulse comes before it starts
        while runner.started != [1, 3]:
            await anyio.lowlevel.checkpoint()
        runner.release.set()
        while not sent:
            await anyio.lowlevel.checkpoint()
        tg.cancel_scope.cancel()
    assert runner.cancelled == [1]
    assert sent == [AgentAction(participant_id="ana-pc", direction="S", pulse=3, say="finalmente")]


async def test_a_decision_slower_than_the_timeout_still_answers() -> None:
    runner = GatedRunner()  # never released
    sent: list[ClientMessage] = []
    player = WorldPlayer(runner, AgentMachine("ana-pc"), RecordingView(), decision_timeout=0.05)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(player.run, sent.append, tg.cancel_scope.cancel)
            player.perceive(perception(1))
            while not sent:
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
    assert sent == [
        AgentAction(
            participant_id="ana-pc", direction="STAY", pulse=1, say="pensei demais e o tempo acabou"
        )
    ]


async def test_a_stopped_world_is_not_started_by_joining(arena: PracticeArena) -> None:
    """protocol.md: a world_join starts a stopped world; the client waits for the organiser."""
    from dependency_injector import providers

    from tests.integration.test_event_night import WatchingView

    world = await arena.start_world(hop_seconds=0.01, stay_seconds=0.05)
    arena.stop_world()
    settings = settings_for(arena, pulses=3)
    container = agent_container(settings)
    container.arena_client.add_kwargs(world_poll=0.05)
    view = WatchingView()
    container.view.override(providers.Object(view))
    async with anyio.create_task_group() as tg:
        tg.start_soon(play, settings, container)
        with anyio.fail_after(10):
            await view.wait_for("o mundo 2-D está parado")
            polls = arena.http_requests["/world/state"]
            await arena.wait_for(lambda: arena.http_requests["/world/state"] >= polls + 2)
            assert not world.running  # still stopped: the client only looked
            assert "ana-pc" not in world.avatars
            await arena.start_world(hop_seconds=0.01, stay_seconds=0.05)
            await arena.wait_for(
                lambda: arena.world is not None and "ana-pc" in arena.world.avatars
            )
        tg.cancel_scope.cancel()
