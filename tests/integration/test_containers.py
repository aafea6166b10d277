"""The composition root builds every runner from config, and tests can override it."""

from __future__ import annotations

import anyio
import pytest
from dependency_injector import providers

from gambiarra.adapters.mock import MockRunner
from gambiarra.adapters.ollama import OllamaRunner
from gambiarra.adapters.openai_compat import OpenAICompatRunner
from gambiarra.app import play
from gambiarra.arena.server import PracticeArena
from gambiarra.config import Settings
from gambiarra.containers import build, resolve, shutdown
from gambiarra.ports import ModelRunner
from tests.fakes import ScriptedRunner
from tests.integration.conftest import settings_for

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("ollama", OllamaRunner), ("lmstudio", OpenAICompatRunner), ("mock", MockRunner)],
)
async def test_runner_is_picked_by_name(kind: str, cls: type) -> None:
    container = build(Settings(runner=kind, model="m"))
    runner = await resolve(container.runner(), ModelRunner)  # type: ignore[type-abstract]
    assert isinstance(runner, cls)
    assert (runner.kind, runner.model) == (kind, "m")
    await shutdown(container)


async def test_the_http_pool_is_one_client_for_the_whole_session() -> None:
    container = build(Settings(runner="ollama"))
    first = await container.ollama_http()
    second = await container.ollama_http()
    assert first is second
    await shutdown(container)
    assert first.is_closed


async def test_a_fake_runner_plugs_in_through_an_override(arena: PracticeArena) -> None:
    settings = settings_for(arena, rounds=1)
    container = build(settings, view="silent")
    container.runner.override(providers.Object(ScriptedRunner("fa", "ke")))
    async with anyio.create_task_group() as tg:
        tg.start_soon(play, settings, container)
        await arena.wait_registered("ana-pc")
        record = await arena.start_round("x")
        with anyio.fail_after(5):
            await record.entry("ana-pc").done.wait()
    assert record.entry("ana-pc").text == "fake"
