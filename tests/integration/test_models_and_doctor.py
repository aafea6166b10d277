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
from tests.integration.model_fakes import FakeOllama

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
    """An Ollama whose model is loaded already (the load-only request answers at once)."""
    mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
    mock.post("/api/show").respond(200, content=wire("ollama-show.json"))
    ps = wire("ollama-ps.json").replace(b"qwen3:4b", b"llama3.1:8b")
    mock.get("/api/ps").respond(200, content=ps)
    load = mock.post("/api/generate", json__prompt="")
    load.respond(200, content=wire("ollama-warmup.json"))
    mock.post("/api/generate").mock(
        return_value=generate or httpx.Response(200, content=wire("ollama-generate.ndjson"))
    )


async def run_doctor(settings: Settings) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = await doctor(settings, out)
    return code, out.getvalue().splitlines()


def line_about(lines: list[str], words: str) -> str:
    """The one checklist line that contains ``words``."""
    (found,) = [line for line in lines if words in line]
    return found


async def test_doctor_all_green(arena: PracticeArena) -> None:
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b")
    with respx.mock(base_url=OLLAMA) as mock:
        ollama_up(mock)
        code, lines = await run_doctor(settings)
    print("\n" + "\n".join(lines))
    assert code == ExitCode.OK
    assert all(line.startswith("✓") for line in lines[:-1])
    answers = line_about(lines, "1º token em")
    assert "1º token em" in answers
    assert "tokens/s" in answers
    assert line_about(lines, "o modelo já estava carregado")
    assert line_about(lines, "o modelo cabe inteiro na memória da GPU")
    assert "registrado como ana-pc e desconectado" in line_about(lines, "o PIN é aceito")
    assert lines[-1] == "tudo pronto para o evento"
    assert len(arena.registrations) == 1
    assert not arena.is_connected("ana-pc")


async def test_doctor_against_a_cold_model_half_on_the_gpu(arena: PracticeArena) -> None:
    """Load time, first token, GPU share and identity; the model is unloaded again after."""
    fake = FakeOllama(load_s=0.3, gpu_share=0.4)
    settings = settings_for(
        arena, runner="ollama", model="llama3.1:8b", no_warm=False, no_device_info=False
    )
    with respx.mock(base_url=OLLAMA) as mock:
        fake.install(mock)
        code, lines = await run_doctor(settings)
    print("\n" + "\n".join(lines))
    assert code == ExitCode.OK  # a warning is not a failure
    loads = line_about(lines, "o modelo carrega em")
    assert loads.startswith("✓")
    assert float(loads.split("carrega em ")[1].split(" s")[0]) >= 0.3
    assert line_about(lines, "1º token em").startswith("✓ o modelo responde")
    assert line_about(lines, "só 40% do modelo cabe na GPU: espere tokens lentos").startswith("⚠")
    identity = line_about(lines, "a arena recebe como descrição: ")
    assert identity.endswith("· 40% GPU")
    assert "qwen3 4.0B Q4_K_M" in identity
    assert fake.loads == 1
    assert not fake.loaded  # it was not loaded before the doctor: unloaded again
    assert fake.bodies[-1] == {"model": "llama3.1:8b", "prompt": "", "stream": False,
                               "keep_alive": 0}  # fmt: skip


async def test_doctor_leaves_a_model_the_participant_had_loaded(arena: PracticeArena) -> None:
    fake = FakeOllama()
    fake.load(keep_alive=300)
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b", pin="")
    with respx.mock(base_url=OLLAMA) as mock:
        fake.install(mock)
        code, lines = await run_doctor(settings)
    assert code == ExitCode.OK
    assert line_about(lines, "o modelo já estava carregado").startswith("✓")
    assert fake.loads == 0
    assert fake.loaded
    assert "keep_alive" not in fake.bodies[-1]  # the server's own expiry again


async def test_doctor_model_server_down(arena: PracticeArena) -> None:
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b", pin="")
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").mock(side_effect=httpx.ConnectError("refused"))
        code, lines = await run_doctor(settings)
    assert code == ExitCode.MODEL_UNAVAILABLE
    assert lines[0].startswith("✗ o Ollama não responde")
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


async def test_doctor_embedding_model(arena: PracticeArena) -> None:
    settings = settings_for(arena, runner="ollama", model="qwen3:0.6b", pin="")
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
        mock.post("/api/show").respond(200, content=wire("ollama-show-embedding.json"))
        code, lines = await run_doctor(settings)
    assert code == ExitCode.MODEL_UNAVAILABLE
    assert lines[1].startswith("✗ o modelo 'qwen3:0.6b' não gera texto")
    assert lines[2].startswith("✗ o modelo responde: não verificado")


async def test_doctor_model_fails_to_answer(arena: PracticeArena) -> None:
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b")
    with respx.mock(base_url=OLLAMA, assert_all_called=False) as mock:
        ollama_up(mock, httpx.Response(500, json={"error": "out of memory"}))
        code, lines = await run_doctor(settings)
    assert code == ExitCode.MODEL_UNAVAILABLE
    failed = line_about(lines, "o modelo falhou ao responder")
    assert failed.startswith("✗")
    assert "out of memory" in failed


async def test_doctor_model_fails_to_load(arena: PracticeArena) -> None:
    settings = settings_for(arena, runner="ollama", model="llama3.1:8b", pin="")
    with respx.mock(base_url=OLLAMA) as mock:
        mock.get("/api/tags").respond(200, content=wire("ollama-tags.json"))
        mock.post("/api/show").respond(200, content=wire("ollama-show.json"))
        mock.get("/api/ps").respond(200, json={"models": []})
        mock.post("/api/generate").respond(
            500, json={"error": "model requires more system memory (9.8 GiB) than is available"}
        )
        code, lines = await run_doctor(settings)
    assert code == ExitCode.MODEL_UNAVAILABLE
    assert lines[2].startswith("✗ o modelo não carregou: o Ollama não conseguiu carregar")
    assert "more system memory" in lines[2]
    assert lines[3] == "✗ o modelo responde: não verificado (o modelo não carregou)"


async def test_doctor_arena_unreachable() -> None:
    settings = Settings(runner="mock", model="mock", url="ws://127.0.0.1:9/ws", pin="1")
    code, lines = await run_doctor(settings)
    assert code == ExitCode.ARENA_UNREACHABLE
    assert line_about(lines, "nenhuma arena respondeu em ws://127.0.0.1:9/ws").startswith("✗")
    assert line_about(lines, "o PIN é aceito: não verificado").startswith("✗")


async def test_doctor_wrong_pin(arena: PracticeArena) -> None:
    settings = settings_for(arena, pin="0000", participant_id="")
    code, lines = await run_doctor(settings)
    assert code == ExitCode.REJECTED
    assert line_about(lines, "a arena recusou o PIN").startswith("✗")
    assert arena.register_attempts == 1


async def test_doctor_never_takes_over_the_id_of_a_client_that_is_playing(
    arena: PracticeArena,
) -> None:
    """The id is connected (a client plays as ana-pc): the PIN is not tested, nobody is dropped."""
    import anyio

    from tests.fakes import ScriptedRunner
    from tests.integration.conftest import fast_container, playing

    settings = settings_for(arena, runner="ollama", model="llama3.1:8b")
    player = settings_for(arena)
    async with playing(player, fast_container(player, runner=ScriptedRunner("x"))) as tg:
        with anyio.fail_after(10):
            await arena.wait_registered("ana-pc")
            with respx.mock(base_url=OLLAMA) as mock:
                ollama_up(mock)
                code, lines = await run_doctor(settings)
            still_playing = arena.is_connected("ana-pc")
        tg.cancel_scope.cancel()
    assert code == ExitCode.OK
    assert line_about(lines, "já está jogando nesta arena") == (
        "✓ o id ana-pc já está jogando nesta arena: o PIN não foi testado para não "
        "derrubar esse cliente"
    )
    assert len(arena.registrations) == 1  # only the player's
    assert still_playing  # nobody was knocked off


async def test_doctor_uses_a_throwaway_id_when_the_arena_cannot_say_who_plays() -> None:
    """The Python arena has no /presence: registering as ana-pc could drop a playing client."""
    async with PracticeArena(pin="4321", flavor="python") as arena:
        settings = settings_for(arena, runner="ollama", model="llama3.1:8b")
        with respx.mock(base_url=OLLAMA) as mock:
            ollama_up(mock)
            code, lines = await run_doctor(settings)
    assert code == ExitCode.OK
    pin_line = line_about(lines, "o PIN é aceito")
    assert "registrado como doctor-" in pin_line
    assert [r["participant_id"] for r in arena.registrations] != ["ana-pc"]
