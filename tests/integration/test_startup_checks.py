"""Before joining, the model server and the model are checked, with plain answers."""

from __future__ import annotations

import httpx
import pytest
import respx

from gambiarra.adapters.ollama import OllamaRunner
from gambiarra.adapters.openai_compat import OpenAICompatRunner
from gambiarra.app import play
from gambiarra.arena.server import PracticeArena
from gambiarra.containers import build
from gambiarra.errors import ExitCode, RunnerUnavailable
from tests.conftest import wire
from tests.integration.conftest import LMSTUDIO, OLLAMA, settings_for

pytestmark = pytest.mark.anyio


def ollama(model: str) -> OllamaRunner:
    return OllamaRunner(httpx.AsyncClient(base_url=OLLAMA), model)


async def test_installed_ollama_models_pass_with_or_without_tag() -> None:
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
        await ollama("llama3.1:8b").check()
        await ollama("qwen3:0.6b").check()
        models = await ollama("x").models()
    assert [(m.name, m.family) for m in models] == [
        ("llama3.1:8b", "llama"),
        ("qwen3:0.6b", "qwen3"),
    ]


async def test_missing_ollama_model_lists_the_installed_ones_and_the_fix() -> None:
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
        with pytest.raises(RunnerUnavailable) as caught:
            await ollama("llama9:70b").check()
    message = str(caught.value)
    assert "llama3.1:8b, qwen3:0.6b" in message
    assert "ollama pull llama9:70b" in message
    assert caught.value.exit_code == ExitCode.MODEL_UNAVAILABLE


async def test_unreachable_ollama_says_how_to_start_it() -> None:
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(RunnerUnavailable, match="ollama serve"):
            await ollama("llama3.1:8b").check()


async def test_something_else_answering_is_not_mistaken_for_ollama() -> None:
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, text="<html>router login</html>")
        with pytest.raises(RunnerUnavailable, match="não parece ser um Ollama"):
            await ollama("llama3.1:8b").check()


async def test_lmstudio_model_check_lists_available_models() -> None:
    runner = OpenAICompatRunner(httpx.AsyncClient(base_url=LMSTUDIO), "llama3.1:8b")
    with respx.mock(base_url=LMSTUDIO) as mock:
        mock.get("/v1/models").respond(200, content=wire("openai-models.json"))
        with pytest.raises(RunnerUnavailable, match=r"qwen2\.5-7b-instruct"):
            await runner.check()
        await OpenAICompatRunner(
            httpx.AsyncClient(base_url=LMSTUDIO), "qwen2.5-7b-instruct"
        ).check()


async def test_play_stops_before_joining_when_the_model_is_missing(arena: PracticeArena) -> None:
    """A participant with no model never appears in the arena half-working."""
    settings = settings_for(arena, runner="ollama", model="llama9:70b")
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
        with pytest.raises(RunnerUnavailable):
            await play(settings, build(settings, view="silent"))
    assert arena.registrations == []
