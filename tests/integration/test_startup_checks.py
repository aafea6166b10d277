"""Before joining, the model server and the model are checked, with plain answers:
installed, able to generate text, named as a model (not a command or a path)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from gambiarra.adapters.llamacpp import LlamaCppRunner
from gambiarra.adapters.ollama import OllamaRunner
from gambiarra.adapters.openai_compat import OpenAICompatRunner
from gambiarra.app import play
from gambiarra.arena.server import PracticeArena
from gambiarra.config import Settings
from gambiarra.containers import build, resolve, shutdown
from gambiarra.domain.events import GenerationRequest
from gambiarra.errors import ExitCode, RunnerUnavailable
from tests.conftest import wire
from tests.integration.conftest import LMSTUDIO, OLLAMA, settings_for
from tests.integration.model_fakes import lmstudio_up, ollama_up

pytestmark = pytest.mark.anyio


def ollama(model: str) -> OllamaRunner:
    return OllamaRunner(httpx.AsyncClient(base_url=OLLAMA), model)


async def test_installed_ollama_models_pass_with_or_without_tag() -> None:
    with respx.mock(base_url=OLLAMA) as mock:
        ollama_up(mock)
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
        lmstudio_up(mock)
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


def shows(by_model: dict[str, str]):  # type: ignore[no-untyped-def]
    """A respx side effect: ``/api/show`` answers each model with its own sample."""

    def answer(request: httpx.Request) -> httpx.Response:
        model = json.loads(request.content)["model"]
        return httpx.Response(200, content=wire(by_model.get(model, "ollama-show.json")))

    return answer


INSTALLED = {
    "models": [
        {"name": "nomic-embed-text:latest"},
        {"name": "llama3.1:8b"},
        {"name": "qwen3:4b"},
    ]
}


async def test_an_embedding_model_stops_at_startup_naming_the_chat_models(
    arena: PracticeArena,
) -> None:
    """Exit 4 before registering, with the models that can play."""
    settings = settings_for(arena, runner="ollama", model="nomic-embed-text")
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, json=INSTALLED)
        mock.post("/api/show").mock(
            side_effect=shows({"nomic-embed-text": "ollama-show-embedding.json",
                               "nomic-embed-text:latest": "ollama-show-embedding.json"})
        )  # fmt: skip
        with pytest.raises(RunnerUnavailable) as caught:
            await play(settings, build(settings, view="silent"))
    message = str(caught.value)
    assert "não gera texto (é um modelo de embedding)" in message
    assert message.endswith("escolha um destes com --model: llama3.1:8b, qwen3:4b")
    assert caught.value.exit_code == ExitCode.MODEL_UNAVAILABLE
    assert arena.registrations == []


async def test_an_lmstudio_embedding_model_stops_naming_the_chat_models() -> None:
    runner = OpenAICompatRunner(
        httpx.AsyncClient(base_url=LMSTUDIO), "text-embedding-nomic-embed-text-v1.5"
    )
    with respx.mock(base_url=LMSTUDIO) as mock:
        lmstudio_up(mock)
        with pytest.raises(RunnerUnavailable) as caught:
            await runner.check()
    assert str(caught.value).endswith(
        "escolha um destes com --model: qwen2.5-7b-instruct, meta-llama-3.1-8b-instruct"
    )


async def test_an_lmstudio_without_its_own_api_is_checked_by_v1_models_alone() -> None:
    runner = OpenAICompatRunner(httpx.AsyncClient(base_url=LMSTUDIO), "qwen2.5-7b-instruct")
    with respx.mock(base_url=LMSTUDIO) as mock:
        mock.get("/v1/models").respond(200, content=wire("openai-models.json"))
        v0 = mock.get("/api/v0/models").respond(404, json={"error": "Unexpected endpoint"})
        await runner.check()
    assert v0.called


@pytest.mark.parametrize(
    ("model", "hint"),
    [
        ("ollama run smollm2", "parece um comando colado: use --model smollm2"),
        ("ollama run --verbose smollm2:360m", "parece um comando colado: use --model smollm2:360m"),
        ("lms load qwen2.5-7b-instruct", "use --model qwen2.5-7b-instruct"),
        ("/home/ana/modelos/Qwen3-4B-Q4_K_M.gguf",
         "parece um caminho de arquivo: use só o nome do modelo (por exemplo --model "
         "Qwen3-4B-Q4_K_M)"),
        ("C:\\Users\\ana\\phi3.gguf", "(por exemplo --model phi3)"),
        ("llama3.1 8b", "tem espaços"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("kind", ["ollama", "lmstudio", "llamacpp"])
async def test_a_pasted_command_or_path_gets_what_to_type_instead(
    kind: str, model: str, hint: str
) -> None:
    """Told before any request: nothing is asked of the server (respx has no route)."""
    http = httpx.AsyncClient(base_url="http://model.test")
    runner = {
        "ollama": lambda: OllamaRunner(http, model),
        "lmstudio": lambda: OpenAICompatRunner(http, model),
        "llamacpp": lambda: LlamaCppRunner(http, model),
    }[kind]()
    with respx.mock(base_url="http://model.test"), pytest.raises(RunnerUnavailable) as caught:
        await runner.check()
    assert hint in str(caught.value)
    assert caught.value.exit_code == ExitCode.MODEL_UNAVAILABLE


@pytest.mark.parametrize("name", ["llama3.1:8b", "hf.co/bartowski/Qwen3-4B-GGUF:Q4_K_M", "qwen"])
def test_real_model_names_get_no_hint(name: str) -> None:
    from gambiarra.domain.model_names import pasted_model_hint

    assert pasted_model_hint(name) is None


REQUEST = GenerationRequest(round=1, prompt="p", max_tokens=8, temperature=0.0)


@pytest.mark.parametrize(
    ("mode", "think", "show", "expected"),
    [
        ("agent", None, "ollama-show.json", False),  # can think: told not to
        ("agent", True, "ollama-show.json", True),  # --think wins
        ("agent", None, "ollama-tags.json", None),  # no capabilities known: left alone
        ("rounds", None, "ollama-show.json", None),  # rounds: Ollama's own default
    ],
)
async def test_world_mode_turns_thinking_off_unless_asked(
    mode: str, think: bool | None, show: str, expected: bool | None
) -> None:
    """The container's runner, after the startup check, as world mode builds it."""
    settings = Settings(runner="ollama", model="qwen3:4b", ollama_url=OLLAMA, think=think)
    container = build(settings, view="silent", mode=mode)
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, json={"models": [{"name": "qwen3:4b"}]})
        mock.post("/api/show").respond(200, content=wire(show))
        runner = await resolve(container.runner(), OllamaRunner)
        await runner.check()
    await shutdown(container)
    assert runner.body(REQUEST).get("think") == expected
