"""Every runner and API variant, replaying every wire sample in odd chunkings, through
whole rounds against the strict practice arena."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import pytest
import respx

from gambiarra.arena.records import Entry
from gambiarra.arena.server import PracticeArena
from tests.conftest import wire
from tests.integration.conftest import (
    CHUNK_SIZES,
    fast_container,
    playing,
    replay,
    request_body,
    settings_for,
)
from tests.integration.model_fakes import lmstudio_up, ollama_up

pytestmark = pytest.mark.anyio

BASES = {
    "ollama": "http://ollama.test",
    "lmstudio": "http://lmstudio.test",
    "openai": "http://openai.test",
    "llamacpp": "http://llamacpp.test",
}


def ndjson(field_path: tuple[str, ...], thinking: bool = False) -> Callable[[bytes], list[str]]:
    """Pieces of an Ollama NDJSON body: the answer, or the thinking."""

    def pieces(body: bytes) -> list[str]:
        found = []
        for line in body.decode().splitlines():
            obj = json.loads(line)
            for key in field_path[:-1]:
                obj = obj.get(key) or {}
            value = obj.get("thinking" if thinking else field_path[-1])
            if value:
                found.append(value)
        return found

    return pieces


def sse(*path: str) -> Callable[[bytes], list[str]]:
    """Pieces of an SSE body at a JSON path (an int indexes a list)."""

    def pieces(body: bytes) -> list[str]:
        found = []
        for line in body.decode().splitlines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            obj = json.loads(line[6:])
            for key in path:
                obj = obj[int(key)] if key.isdigit() else (obj.get(key) if obj else None)
            if obj:
                found.append(obj)
        return found

    return pieces


@dataclass(frozen=True)
class Case:
    runner: str
    api: str | None
    sample: str
    endpoint: str
    answer: Callable[[bytes], list[str]]
    reasoning: Callable[[bytes], list[str]] = lambda body: []
    model: str = "llama3.1:8b"
    extra: dict[str, object] = field(default_factory=dict)


CASES = [
    Case("ollama", "generate", "ollama-generate.ndjson", "/api/generate", ndjson(("response",))),
    Case("ollama", "generate", "ollama-generate-think.ndjson", "/api/generate",
         ndjson(("response",)), ndjson(("response",), thinking=True), "qwen3:0.6b",
         {"think": True}),
    Case("ollama", "chat", "ollama-chat.ndjson", "/api/chat", ndjson(("message", "content"))),
    Case("lmstudio", "completions", "openai-completions.sse", "/v1/completions",
         sse("choices", "0", "text"), model="qwen2.5-7b-instruct"),
    Case("lmstudio", "chat", "openai-chat.sse", "/v1/chat/completions",
         sse("choices", "0", "delta", "content"), sse("choices", "0", "delta", "reasoning_content"),
         "qwen2.5-7b-instruct"),
    Case("openai", "chat", "openai-chat.sse", "/v1/chat/completions",
         sse("choices", "0", "delta", "content"), sse("choices", "0", "delta", "reasoning_content"),
         "qwen2.5-7b-instruct", {"api_key": "sk-segredo"}),
    Case("openai", "completions", "openai-completions.sse", "/v1/completions",
         sse("choices", "0", "text"), model="qwen2.5-7b-instruct"),
    Case("llamacpp", None, "llamacpp-completion.sse", "/completion", sse("content"),
         model="qwen"),
]  # fmt: skip


def mock_server(mock: respx.MockRouter, case: Case, size: int | None) -> respx.Route:
    if case.runner == "ollama":
        ollama_up(mock)
    elif case.runner == "llamacpp":
        mock.get("/health").respond(200, content=wire("llamacpp-health.json"))
    elif case.runner == "lmstudio":
        lmstudio_up(mock)
    else:
        mock.get("/v1/models").respond(200, content=wire("openai-models.json"))
    kind = "application/x-ndjson" if case.sample.endswith("ndjson") else "text/event-stream"
    return mock.post(case.endpoint).mock(
        side_effect=replay(wire(case.sample), size, content_type=kind)
    )


async def play_case(
    arena: PracticeArena, case: Case, size: int | None
) -> tuple[Entry, respx.Route]:
    settings = settings_for(
        arena,
        runner=case.runner,
        api=case.api,
        model=case.model,
        rounds=1,
        llamacpp_url=BASES["llamacpp"],
        base_url=BASES["openai"] + "/v1",  # the OpenAI SDKs' habit is accepted
        **case.extra,
    )
    with respx.mock(base_url=BASES[case.runner]) as mock:
        route = mock_server(mock, case, size)
        async with playing(settings, fast_container(settings)):
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
            record = await arena.start_round("Olá?", max_tokens=64, temperature=0, seed=7)
            with anyio.fail_after(10):
                await record.entry("ana-pc").done.wait()
    return record.entry("ana-pc"), route


@pytest.mark.parametrize("size", CHUNK_SIZES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.runner}-{c.api}-{c.sample}")
async def test_every_runner_streams_the_answer_and_only_the_answer(
    arena: PracticeArena, case: Case, size: int | None
) -> None:
    body = wire(case.sample)
    entry, route = await play_case(arena, case, size)
    answer = case.answer(body)
    assert answer, "the sample has an answer"
    assert entry.tokens == answer
    assert entry.complete is not None
    assert entry.complete["tokens"] == len(answer)
    assert entry.complete["model_info"] == {"name": case.model, "runner": case.runner}
    for thought in case.reasoning(body):
        assert thought not in entry.text  # reasoning is shown locally, never sent
    sent = request_body(route.calls)
    assert sent["stream"] is True
    if case.extra.get("think"):
        assert sent["think"] is True
    else:
        assert "think" not in sent
    if "api_key" in case.extra:
        assert route.calls[0].request.headers["authorization"] == "Bearer sk-segredo"


async def test_request_bodies_match_each_api(arena: PracticeArena) -> None:
    """The challenge's parameters land where each server expects them."""
    bodies = {}
    for case in CASES:
        _, route = await play_case(arena, case, None)
        bodies[(case.runner, case.api)] = request_body(route.calls)
    assert bodies[("ollama", "generate")]["options"] == {
        "num_predict": 64,
        "temperature": 0,
        "seed": 7,
    }
    assert bodies[("ollama", "chat")]["messages"] == [{"role": "user", "content": "Olá?"}]
    assert bodies[("lmstudio", "completions")] | {"model": "-"} == {
        "model": "-",
        "prompt": "Olá?",
        "max_tokens": 64,
        "temperature": 0,
        "seed": 7,
        "stream": True,
    }
    assert bodies[("openai", "chat")]["messages"] == [{"role": "user", "content": "Olá?"}]
    assert bodies[("llamacpp", None)] == {
        "prompt": "Olá?",
        "n_predict": 64,
        "temperature": 0,
        "seed": 7,
        "stream": True,
    }


async def test_a_round_spent_thinking_completes_empty(arena: PracticeArena) -> None:
    """All budget on reasoning: a valid complete with 0 tokens and no first-token latency."""
    thinking_only = (
        b'{"response":"","thinking":"Hmm","done":false}\n'
        b'{"response":"","thinking":" deixa eu pensar","done":false}\n'
        b'{"response":"","done":true,"done_reason":"length"}\n'
    )
    settings = settings_for(arena, runner="ollama", model="qwen3:0.6b", rounds=1, think=True)
    with respx.mock(base_url=BASES["ollama"]) as mock:
        ollama_up(mock)
        mock.post("/api/generate").mock(side_effect=replay(thinking_only, 5))
        async with playing(settings, fast_container(settings)):
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
            record = await arena.start_round("Pense muito", max_tokens=2)
            with anyio.fail_after(5):
                await record.entry("ana-pc").done.wait()
    entry = record.entry("ana-pc")
    assert entry.tokens == []
    assert entry.complete is not None
    assert entry.complete["tokens"] == 0
    assert "latency_ms_first_token" not in entry.complete
    assert arena.invalid == []


async def test_llamacpp_still_loading_is_a_plain_answer() -> None:
    import httpx

    from gambiarra.adapters.llamacpp import LlamaCppRunner
    from gambiarra.errors import RunnerUnavailable

    with respx.mock(base_url=BASES["llamacpp"]) as mock:
        mock.get("/health").respond(503, json={"error": {"code": 503, "message": "Loading model"}})
        runner = LlamaCppRunner(httpx.AsyncClient(base_url=BASES["llamacpp"]), "qwen")
        with pytest.raises(RunnerUnavailable, match="carregando o modelo"):
            await runner.check()


async def test_save_dir_keeps_each_round_and_its_drawing(arena: PracticeArena, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An SVG round cut off by its token budget still leaves a well-formed drawing on disk."""
    from tests.fakes import ScriptedRunner

    pieces = ("Aqui:", " <svg viewBox='0 0 10 10'>", "<g><circle r='4'/>", "<rect wid")
    settings = settings_for(arena, rounds=1, save_dir=str(tmp_path))
    container = fast_container(settings, runner=ScriptedRunner(*pieces))
    async with playing(settings, container):
        with anyio.fail_after(5):
            await arena.wait_registered("ana-pc")
        record = await arena.start_round("Desenhe um sol em SVG", max_tokens=4)
        with anyio.fail_after(5):
            await record.entry("ana-pc").done.wait()
    (saved,) = tmp_path.glob("*.json")
    kept = json.loads(saved.read_text(encoding="utf-8"))
    assert kept["answer"] == record.entry("ana-pc").text == "".join(pieces)
    assert kept["challenge"]["prompt"] == "Desenhe um sol em SVG"
    assert kept["metrics"]["tokens"] == 4
    assert saved.with_suffix(".svg").read_text() == (
        "<svg viewBox='0 0 10 10'><g><circle r='4'/></g></svg>"
    )


async def test_debug_log_shows_what_was_sent_to_the_model(arena: PracticeArena, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import structlog

    from gambiarra.logs import configure

    configure("debug", cache=False)  # the request is logged at debug level
    template = tmp_path / "t.txt"
    template.write_text("Responda em uma linha: {prompt}", encoding="utf-8")
    case = CASES[0]
    settings = settings_for(
        arena,
        runner="ollama",
        model="llama3.1:8b",
        rounds=1,
        system="Seja gentil.",
        prompt_template=str(template),
    )
    with structlog.testing.capture_logs() as logs, respx.mock(base_url=BASES["ollama"]) as mock:
        route = mock_server(mock, case, 7)
        async with playing(settings, fast_container(settings)):
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
            record = await arena.start_round("Quanto é 2+2?")
            with anyio.fail_after(5):
                await record.entry("ana-pc").done.wait()
    (sent,) = [e for e in logs if e["event"] == "model_request"]
    assert sent["body"]["prompt"] == "Responda em uma linha: Quanto é 2+2?"
    assert sent["body"]["system"] == "Seja gentil."
    assert sent["body"] == request_body(route.calls)


def test_the_mock_model_honours_max_tokens_and_a_negative_one_means_no_limit() -> None:
    from gambiarra.adapters.mock import MockRunner
    from gambiarra.domain.events import GenerationRequest

    runner = MockRunner(length=30)
    limited = GenerationRequest(round=1, prompt="p", max_tokens=3, temperature=0.0, seed=1)
    unlimited = GenerationRequest(round=1, prompt="p", max_tokens=-1, temperature=0.0, seed=1)
    assert len(runner.text(limited)) == 3
    assert len(runner.text(unlimited)) == 30
    assert runner.text(unlimited)[:3] == runner.text(limited)
