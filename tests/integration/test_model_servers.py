"""Ollama and LM Studio replayed byte for byte (in odd chunk sizes) through full rounds."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx
from anyio.abc import SocketAttribute, SocketStream

from gambiarra.adapters.llamacpp import LlamaCppRunner
from gambiarra.adapters.ollama import OllamaRunner
from gambiarra.adapters.openai_compat import OpenAICompatRunner
from gambiarra.arena.server import PracticeArena
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.metrics import ModelFigures
from gambiarra.errors import RunnerFailed
from tests.conftest import wire
from tests.integration.conftest import (
    CHUNK_SIZES,
    LMSTUDIO,
    OLLAMA,
    ollama_pieces,
    playing,
    replay,
    request_body,
    settings_for,
    sse_text_pieces,
)
from tests.integration.model_fakes import lmstudio_up, ollama_up

pytestmark = pytest.mark.anyio


async def play_one_round(arena: PracticeArena, runner: str, model: str, **challenge: object):  # type: ignore[no-untyped-def]
    async with playing(settings_for(arena, runner=runner, model=model, rounds=1)):
        with anyio.fail_after(5):
            await arena.wait_registered("ana-pc")
        record = await arena.start_round("Era uma vez", **challenge)  # type: ignore[arg-type]
        entry = record.entry("ana-pc")
        with anyio.fail_after(10):
            await entry.done.wait()
    return entry


@pytest.mark.parametrize("size", CHUNK_SIZES)
@pytest.mark.parametrize("sample", ["ollama-generate.ndjson", "ollama-generate-think.ndjson"])
async def test_ollama_round_is_byte_exact(arena: PracticeArena, sample: str, size: int) -> None:
    """Ollama's text arrives byte for byte, one token per piece; the done line is not one."""
    body = wire(sample)
    with respx.mock(base_url=OLLAMA) as mock:
        ollama_up(mock)
        generate = mock.post("/api/generate").mock(side_effect=replay(body, size))
        entry = await play_one_round(
            arena, "ollama", "llama3.1:8b", max_tokens=77, temperature=0, seed=42
        )
    pieces = ollama_pieces(body)
    assert entry.tokens == pieces
    assert entry.text.encode() == "".join(pieces).encode()
    assert entry.complete is not None
    assert entry.complete["tokens"] == len(pieces)
    assert entry.dropped == 0
    sent = request_body(generate.calls)
    assert sent == {
        "model": "llama3.1:8b",
        "prompt": "Era uma vez",
        "stream": True,
        "options": {"num_predict": 77, "temperature": 0, "seed": 42},
    }


async def test_ollama_request_omits_seed_when_the_challenge_has_none(
    arena: PracticeArena,
) -> None:
    with respx.mock(base_url=OLLAMA) as mock:
        ollama_up(mock)
        generate = mock.post("/api/generate").mock(
            side_effect=replay(wire("ollama-generate.ndjson"), 7)
        )
        await play_one_round(arena, "ollama", "llama3.1:8b", seed=None)
    assert "seed" not in request_body(generate.calls)["options"]  # type: ignore[operator]


@pytest.mark.parametrize("size", CHUNK_SIZES)
async def test_lmstudio_round_is_byte_exact(arena: PracticeArena, size: int) -> None:
    body = wire("openai-completions.sse")
    with respx.mock(base_url=LMSTUDIO) as mock:
        lmstudio_up(mock)
        completions = mock.post("/v1/completions").mock(
            side_effect=replay(body, size, content_type="text/event-stream")
        )
        entry = await play_one_round(
            arena, "lmstudio", "qwen2.5-7b-instruct", max_tokens=50, temperature=0.2, seed=1
        )
    pieces = sse_text_pieces(body)
    assert entry.tokens == pieces
    assert entry.complete is not None
    assert entry.complete["tokens"] == len(pieces) == 5
    assert entry.complete["model_info"] == {"name": "qwen2.5-7b-instruct", "runner": "lmstudio"}
    assert request_body(completions.calls) == {
        "model": "qwen2.5-7b-instruct",
        "prompt": "Era uma vez",
        "max_tokens": 50,
        "temperature": 0.2,
        "seed": 1,
        "stream": True,
    }


@pytest.mark.parametrize("size", CHUNK_SIZES)
async def test_failures_report_an_error_and_the_next_round_still_plays(
    arena: PracticeArena, size: int
) -> None:
    """404 for an unknown model, then a mid-stream error, then a good round: one connection."""
    answers = [
        replay(wire("ollama-model-not-found.json"), size, status=404),
        replay(wire("ollama-midstream-error.ndjson"), size),
        replay(wire("ollama-generate.ndjson"), size),
    ]
    with respx.mock(base_url=OLLAMA) as mock:
        ollama_up(mock)
        mock.post("/api/generate").mock(side_effect=list(answers))
        settings = settings_for(arena, runner="ollama", model="llama3.1:8b", rounds=3)
        async with playing(settings):
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
            entries = []
            for _ in answers:
                record = await arena.start_round("Era uma vez")
                entry = record.entry("ana-pc")
                with anyio.fail_after(10):
                    await entry.done.wait()
                entries.append(entry)
    not_found, midstream, good = entries
    assert not_found.complete is None
    assert not_found.errors[0]["message"].startswith("o Ollama respondeu 404: ")
    assert "not found" in not_found.errors[0]["message"]
    assert midstream.tokens == ["Um", " dois"]
    assert midstream.errors[0]["message"].startswith(
        "o Ollama avisou um erro no meio da resposta: "
    )
    assert "unexpected EOF" in midstream.errors[0]["message"]
    assert midstream.errors[0]["code"] == "GENERATION_FAILED"
    assert good.complete is not None
    assert good.text == "".join(ollama_pieces(wire("ollama-generate.ndjson")))
    assert len(arena.registrations) == 1
    assert arena.invalid == []


class BrokenBody(httpx.AsyncByteStream):
    """Two good lines, then the connection breaks (the server process died)."""

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        yield b'{"response":"Um","done":false}\n{"response":" dois","done":false}\n'
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


@pytest.mark.parametrize(
    ("label", "response", "needle"),
    [
        ("HTTP 500", httpx.Response(500, text="internal error"),
         "o Ollama respondeu 500: internal error"),
        ("closed mid-stream", httpx.Response(200, stream=BrokenBody()),
         "o modelo parou no meio da resposta: o Ollama fechou a conexão"),
        ("malformed line", httpx.Response(200, content=b'{"response":"a"\n'),
         "o Ollama mandou uma linha que não é JSON"),
        ("no done line", httpx.Response(200, content=b'{"response":"a","done":false}\n'),
         "o Ollama encerrou a resposta antes do fim"),
    ],
)  # fmt: skip
async def test_broken_model_servers_fail_the_round_not_the_client(
    arena: PracticeArena, label: str, response: httpx.Response, needle: str
) -> None:
    """Each failure is an `error` for its round; the next round on the same link completes."""
    good = replay(wire("ollama-generate.ndjson"), 7)
    settings = settings_for(
        arena, runner="ollama", model="llama3.1:8b", rounds=2, runner_timeout=0.3
    )
    with respx.mock(base_url=OLLAMA) as mock:
        ollama_up(mock)
        mock.post("/api/generate").mock(side_effect=[response, good])
        async with playing(settings):
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
            entries = []
            for _ in range(2):
                record = await arena.start_round("Era uma vez")
                entries.append(record.entry("ana-pc"))
                with anyio.fail_after(5):
                    await entries[-1].done.wait()
    failed, next_round = entries
    assert failed.complete is None, label
    assert failed.errors[0]["message"].startswith(needle)
    assert len(failed.errors[0]["message"]) < 500
    assert next_round.complete is not None
    assert next_round.text == "".join(ollama_pieces(wire("ollama-generate.ndjson")))
    assert len(arena.registrations) == 1


async def stalling_ollama(stream: SocketStream) -> None:
    """A real HTTP server on loopback: answers /api/tags and /api/show, then stalls
    mid-generation."""
    tags, show = wire("ollama-tags.json"), wire("ollama-show.json")
    async with stream:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                buffer += await stream.receive()
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = int(next((h.split(b":")[1] for h in head.split(b"\r\n")
                               if h.lower().startswith(b"content-length")), b"0"))  # fmt: skip
            while len(buffer) < length:
                buffer += await stream.receive()
            buffer = buffer[length:]
            if head.startswith((b"GET", b"POST /api/show")):
                answer = tags if head.startswith(b"GET") else show
                await stream.send(
                    b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(answer), answer)
                )
                continue
            line = b'{"response":"Um","done":false}\n'
            await stream.send(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n"
                % (len(line), line)
            )
            await anyio.sleep_forever()  # the model server is stuck at full CPU


async def test_a_stalled_model_server_fails_the_round_after_runner_timeout(
    arena: PracticeArena,
) -> None:
    """No byte for --runner-timeout seconds: an error for the round, the client plays on."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(SocketAttribute.local_port)
    settings = settings_for(
        arena, runner="ollama", model="llama3.1:8b", rounds=1, runner_timeout=0.3,
        ollama_url=f"http://127.0.0.1:{port}",
    )  # fmt: skip
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, stalling_ollama)
        async with playing(settings):
            with anyio.fail_after(5):
                await arena.wait_registered("ana-pc")
            record = await arena.start_round("Era uma vez")
            entry = record.entry("ana-pc")
            with anyio.fail_after(5):
                await entry.done.wait()
        tg.cancel_scope.cancel()
    assert entry.tokens == ["Um"]
    assert entry.errors[0]["message"].startswith(
        "o Ollama ficou tempo demais sem mandar nada: confira se o modelo travou"
    )
    assert entry.complete is None


class EndlessBody(httpx.AsyncByteStream):
    """An error page that never ends; counts what the client read of it."""

    def __init__(self) -> None:
        self.read = 0

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        while True:
            await anyio.lowlevel.checkpoint()
            self.read += 4099
            yield b"<html>" + b"x" * 4093


# Room for every piece of the recorded answers: a runner stops at max_tokens itself.
REQUEST = GenerationRequest(round=1, prompt="Era uma vez", max_tokens=400, temperature=0.0)


async def drain(runner: OllamaRunner | OpenAICompatRunner | LlamaCppRunner) -> list[str]:
    return [chunk.text async for chunk in runner.stream(REQUEST)]


async def test_an_endless_error_page_is_cut_short() -> None:
    """A 500 whose body never ends: a short error, read in bounded memory."""
    page = EndlessBody()
    with respx.mock(base_url=OLLAMA) as mock:
        mock.post("/api/generate").respond(500, stream=page)
        runner = OllamaRunner(httpx.AsyncClient(base_url=OLLAMA), "llama3.1:8b")
        with anyio.fail_after(5), pytest.raises(RunnerFailed) as failed:
            await drain(runner)
    message = str(failed.value)
    assert message.startswith("o Ollama respondeu 500: <html>xxx")
    assert len(message) < 500
    assert page.read < 128 * 1024


SSE_RUNNERS = {
    "lmstudio": (LMSTUDIO, "/v1/completions", "o LM Studio"),
    "llamacpp": ("http://llamacpp.test", "/completion", "o llama.cpp"),
}


def sse_runner(kind: str) -> OpenAICompatRunner | LlamaCppRunner:
    http = httpx.AsyncClient(base_url=SSE_RUNNERS[kind][0])
    return OpenAICompatRunner(http, "m") if kind == "lmstudio" else LlamaCppRunner(http, "m")


@pytest.mark.parametrize("kind", SSE_RUNNERS)
@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (500, b'{"error":{"message":"out of memory"}}', "{server} respondeu 500: out of memory"),
        (200, b'data: {"error":{"message":"boom"}}\n\n',
         "{server} avisou um erro no meio da resposta: boom"),
        (200, b"data: {x\n\n", "{server} mandou um evento que não é JSON"),
        (200, b'data: {"choices":[{"text":"a"}],"content":"a"}\n\n',
         "{server} encerrou a resposta"),
    ],
)  # fmt: skip
async def test_sse_runner_failures_are_told_in_portuguese(
    kind: str, status: int, body: bytes, needle: str
) -> None:
    base, path, server = SSE_RUNNERS[kind]
    with respx.mock(base_url=base) as mock:
        mock.post(path).respond(status, content=body)
        with pytest.raises(RunnerFailed) as failed:
            await drain(sse_runner(kind))
    assert str(failed.value).startswith(needle.format(server=server))


async def test_ollamas_own_figures_come_last_and_carry_no_text() -> None:
    """The done line of a cold start: load_duration takes most of the time (ns -> ms)."""
    with respx.mock(base_url=OLLAMA) as mock:
        mock.post("/api/generate").mock(side_effect=replay(wire("ollama-generate-load.ndjson"), 7))
        runner = OllamaRunner(httpx.AsyncClient(base_url=OLLAMA), "llama3.1:8b")
        chunks = [chunk async for chunk in runner.stream(REQUEST)]
    *text, last = chunks
    assert "".join(c.text for c in text) == "Fita crepe e arame: a gambiarra segura."
    assert all(c.figures is None for c in text)
    assert last.text == ""
    assert last.figures == ModelFigures(
        load_ms=6934, prompt_ms=342, prompt_tokens=18, generation_ms=129, generated_tokens=9
    )


async def test_llamacpp_timings_become_the_models_figures() -> None:
    base = SSE_RUNNERS["llamacpp"][0]
    with respx.mock(base_url=base) as mock:
        mock.post("/completion").mock(
            side_effect=replay(wire("llamacpp-completion.sse"), 5, content_type="text/event-stream")
        )
        chunks = [chunk async for chunk in sse_runner("llamacpp").stream(REQUEST)]
    assert chunks[-1].figures == ModelFigures(
        prompt_ms=41, prompt_tokens=9, generation_ms=62, generated_tokens=5
    )
    assert [c.text for c in chunks[:-1]] == ["Era", " uma", " vez", " ç", "ã"]


async def test_llamacpp_describes_its_model_from_the_file_name_only() -> None:
    base = SSE_RUNNERS["llamacpp"][0]
    with respx.mock(base_url=base) as mock:
        props = wire("llamacpp-props.json").replace(b"/models/", b"/home/ana/modelos/")
        mock.get("/props").respond(200, content=props)
        runner = LlamaCppRunner(httpx.AsyncClient(base_url=base), "qwen")
        facts = await runner.describe()
        warmed = await runner.warm()
    assert (facts.parameter_size, facts.quantization) == ("4B", "Q4_K_M")
    assert "ana" not in repr(facts)
    assert warmed.was_loaded is True  # not sleeping: nothing to load


async def test_a_sleeping_llamacpp_is_woken_with_one_token() -> None:
    base = SSE_RUNNERS["llamacpp"][0]
    with respx.mock(base_url=base) as mock:
        props = wire("llamacpp-props.json").replace(b'"is_sleeping":false', b'"is_sleeping":true')
        mock.get("/props").respond(200, content=props)
        completion = mock.post("/completion").respond(200, json={"content": "ok", "stop": True})
        warmed = await LlamaCppRunner(httpx.AsyncClient(base_url=base), "qwen").warm()
    assert warmed.was_loaded is False
    assert request_body(completion.calls)["n_predict"] == 1
