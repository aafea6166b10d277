"""`models` and `doctor` against respx-mocked model servers and the practice arena."""

from __future__ import annotations

import io
import json

import httpx
import pytest
import respx

from gambiarra.app import doctor, models
from gambiarra.arena.server import PracticeArena
from gambiarra.config import Settings
from gambiarra.errors import ExitCode, RunnerUnavailable
from tests.conftest import wire
from tests.integration.conftest import LMSTUDIO, OLLAMA, settings_for

pytestmark = pytest.mark.anyio


async def test_models_lists_ollama_models_with_size_and_family() -> None:
    out = io.StringIO()
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
        await models(Settings(ollama_url=OLLAMA), out)
    assert out.getvalue().splitlines() == [
        "llama3.1:8b  4.9 GB  llama",
        "qwen3:0.6b  0.5 GB  qwen3",
    ]


async def test_models_as_json() -> None:
    out = io.StringIO()
    with respx.mock(base_url=LMSTUDIO) as mock:
        mock.get("/v1/models").respond(200, content=wire("openai-models.json"))
        await models(Settings(runner="lmstudio", lmstudio_url=LMSTUDIO, json=True), out)
    assert json.loads(out.getvalue()) == [
        {"name": "qwen2.5-7b-instruct", "size_bytes": None, "family": None},
        {"name": "text-embedding-nomic-embed-text-v1.5", "size_bytes": None, "family": None},
    ]


async def test_models_with_the_server_down_is_a_plain_error() -> None:
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(RunnerUnavailable, match="ollama serve"):
            await models(Settings(ollama_url=OLLAMA), io.StringIO())


def ollama_up(mock: respx.MockRouter, generate: httpx.Response | None = None) -> None:
    mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
    mock.post("/api/generate").mock(
        return_value=generate or httpx.Response(200, content=wire("ollama-generate.ndjson"))
    )


async def run_doctor(settings: Settings) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = await doctor(settings, out)
    return code, out.getvalue().splitlines()


async def test_doctor_all_green(arena: PracticeArena) -> None:
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b")
    with respx.mock(base_url=OLLAMA) as mock:
        ollama_up(mock)
        code, lines = await run_doctor(settings)
    print("\n" + "\n".join(lines))
    assert code == ExitCode.OK
    assert [line[0] for line in lines[:5]] == ["✓"] * 5
    assert "1º token em" in lines[2]
    assert "tokens/s" in lines[2]
    assert "registrado como ana-pc e desconectado" in lines[4]
    assert lines[-1] == "tudo pronto para o evento"
    assert [r["participant_id"] for r in arena.registrations] == ["ana-pc"]
    assert not arena.is_connected("ana-pc")


async def test_doctor_model_server_down(arena: PracticeArena) -> None:
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b", pin="")
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").mock(side_effect=httpx.ConnectError("refused"))
        code, lines = await run_doctor(settings)
    assert code == ExitCode.MODEL_UNAVAILABLE
    assert lines[0].startswith("✗ Ollama não responde")
    assert "ollama serve" in lines[0]
    assert lines[1].startswith("✗")
    assert "não verificado" in lines[1]
    assert lines[3].startswith("✓ a arena responde")
    assert len(lines) == 5  # no PIN given: no PIN line


async def test_doctor_model_not_installed(arena: PracticeArena) -> None:
    settings = settings_for(arena, runner="ollama", model="llama9:70b")
    with respx.mock(base_url=OLLAMA, assert_all_called=False) as mock:
        ollama_up(mock)
        code, lines = await run_doctor(settings)
    assert code == ExitCode.MODEL_UNAVAILABLE
    assert lines[1].startswith("✗")
    assert "ollama pull llama9:70b" in lines[1]
    assert lines[2].startswith("✗")
    assert "não verificado" in lines[2]


async def test_doctor_model_fails_to_answer(arena: PracticeArena) -> None:
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b")
    with respx.mock(base_url=OLLAMA) as mock:
        ollama_up(mock, httpx.Response(500, json={"error": "out of memory"}))
        code, lines = await run_doctor(settings)
    assert code == ExitCode.MODEL_UNAVAILABLE
    assert lines[2].startswith("✗ o modelo falhou ao responder")
    assert "out of memory" in lines[2]


async def test_doctor_arena_unreachable() -> None:
    settings = Settings(runner="mock", model="mock", url="ws://127.0.0.1:9/ws", pin="1")
    code, lines = await run_doctor(settings)
    assert code == ExitCode.ARENA_UNREACHABLE
    assert lines[3].startswith("✗ nenhuma arena respondeu em ws://127.0.0.1:9/ws")
    assert lines[4].startswith("✗ o PIN é aceito: não verificado")


async def test_doctor_wrong_pin(arena: PracticeArena) -> None:
    settings = settings_for(arena, pin="0000", participant_id="")
    code, lines = await run_doctor(settings)
    assert code == ExitCode.REJECTED
    assert lines[4].startswith("✗ a arena recusou o PIN")
    assert arena.register_attempts == 1
