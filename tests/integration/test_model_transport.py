"""The model transport on real sockets: aiohttp's (the default) and httpx's own (the fallback).

Every test talks to a real HTTP/1.1 server on 127.0.0.1 (``loopback_model``)
through a client made the production way (``containers.http_client``), and
runs once per transport (``GAMBIARRA_MODEL_HTTP``), so the fallback is shown
to behave as the default does: same tokens, same connection reuse, same
runner errors and Portuguese messages, same request bytes on the wire.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
import threading
import warnings
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import certifi
import httpx
import pytest
import respx
import trustme

from gambiarra.adapters import lines
from gambiarra.adapters.llamacpp import LlamaCppRunner
from gambiarra.adapters.model_transport import TRANSPORT_ENV, AiohttpTransport, model_transport
from gambiarra.adapters.ollama import OllamaRunner
from gambiarra.adapters.openai_compat import OpenAICompatRunner
from gambiarra.containers import http_client
from gambiarra.domain.events import GenerationRequest
from gambiarra.errors import RunnerFailed, RunnerUnavailable
from gambiarra.ports import TokenChunk
from tests.conftest import wire
from tests.integration.loopback_model import (
    ModelServer,
    Reply,
    Request,
    Sample,
    chunked,
    fixed,
    serve,
)

pytestmark = pytest.mark.anyio

TRANSPORTS = ["aiohttp", "httpx"]
# Socket writes of these sizes split chunk headers, lines and UTF-8 characters.
SLICES = [1, 7, 13, 4096]
# Room for every piece of the samples: the runner stops at max_tokens itself.
REQUEST = GenerationRequest(round=1, prompt="Era uma vez", max_tokens=400, temperature=0.0)

Runner = OllamaRunner | OpenAICompatRunner | LlamaCppRunner


# name -> (wire sample, the runner that reads it, the path it posts to)
STREAMS: dict[str, tuple[str, Callable[[httpx.AsyncClient], Runner], str]] = {
    "ollama-generate": (
        "ollama-generate.ndjson",
        lambda http: OllamaRunner(http, "llama3.1:8b"),
        "/api/generate",
    ),
    "ollama-think": (
        "ollama-generate-think.ndjson",
        lambda http: OllamaRunner(http, "qwen3:0.6b"),
        "/api/generate",
    ),
    "ollama-chat": (
        "ollama-chat.ndjson",
        lambda http: OllamaRunner(http, "llama3.1:8b", api="chat"),
        "/api/chat",
    ),
    "openai-completions": (
        "openai-completions.sse",
        lambda http: OpenAICompatRunner(http, "qwen2.5-7b-instruct"),
        "/v1/completions",
    ),
    "openai-chat": (
        "openai-chat.sse",
        lambda http: OpenAICompatRunner(http, "qwen2.5-7b-instruct", kind="openai", api="chat"),
        "/v1/chat/completions",
    ),
    "llamacpp": (
        "llamacpp-completion.sse",
        lambda http: LlamaCppRunner(http, "qwen3-4b"),
        "/completion",
    ),
}
# One stream per runner class, for the tests about connections and errors.
KINDS = ["ollama-generate", "openai-completions", "llamacpp"]
# How each names its server in messages, and what it tells the user when nothing answers.
SERVER = {
    "ollama-generate": "o Ollama",
    "openai-completions": "o LM Studio",
    "llamacpp": "o llama.cpp",
}
HINT = {
    "ollama-generate": "inicie o Ollama (ollama serve) ou indique o endereço com --ollama-url",
    "openai-completions": "abra o LM Studio e ligue o servidor local "
    "ou indique o endereço com --lmstudio-url",
    "llamacpp": "inicie o llama-server ou indique o endereço com --llamacpp-url",
}


def use_transport(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    if name == "httpx":
        monkeypatch.setenv(TRANSPORT_ENV, "httpx")
    else:
        monkeypatch.delenv(TRANSPORT_ENV, raising=False)


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with aiohttp's transport, then with httpx's own."""
    name: str = request.param
    use_transport(monkeypatch, name)
    return name


@pytest.fixture(autouse=True)
async def no_loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Nothing reaches the event loop's exception handler: no task exception left
    unretrieved, no "Unclosed client session" / "Unclosed connector" (aiohttp
    reports those there, from ``__del__``)."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    yield reported
    gc.collect()
    loop.set_exception_handler(previous)
    assert [context.get("message") for context in reported] == []


@asynccontextmanager
async def model_client(
    url: str, transport: str, read_timeout: float = 5.0, api_key: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A model-server client as the container makes it (its Resource wraps
    ``http_client`` the same way), checked to run on the wanted transport."""
    async with asynccontextmanager(http_client)(url, read_timeout, api_key) as client:
        wanted = AiohttpTransport if transport == "aiohttp" else httpx.AsyncHTTPTransport
        assert type(client._transport) is wanted
        yield client


def answering(*replies: Reply) -> Callable[[Request], Reply]:
    """A server script: these replies, one per request, in order."""
    queue: Iterator[Reply] = iter(replies)
    return lambda _request: next(queue)


def said(chunks: list[TokenChunk]) -> list[tuple[str, bool]]:
    return [(chunk.text, chunk.reasoning) for chunk in chunks if chunk.text]


async def generate(runner: Runner, request: GenerationRequest = REQUEST) -> list[TokenChunk]:
    return [chunk async for chunk in runner.stream(request)]


async def generate_into(got: list[TokenChunk], runner: Runner) -> None:
    """Like ``generate``, keeping what arrived before a failure in ``got``."""
    async for chunk in runner.stream(REQUEST):
        got.append(chunk)


def free_port() -> int:
    """A loopback port nothing listens on (the kernel just handed it out and took it back)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# ------------------------------------------------------------------ 1. the tokens


@pytest.mark.parametrize("size", SLICES)
@pytest.mark.parametrize("stream", STREAMS)
async def test_every_runner_streams_the_samples_tokens_in_order(
    transport: str, stream: str, size: int
) -> None:
    name, make, path = STREAMS[stream]
    sample = Sample(wire(name))
    reply = chunked(sample.pieces, size=size, content_type=sample.content_type)
    async with serve(answering(reply)) as server, model_client(server.url, transport) as http:
        with anyio.fail_after(2):
            chunks = await generate(make(http))
    assert said(chunks) == sample.chunks
    # Ollama's done line and llama.cpp's stop event carry the server's figures.
    assert (chunks[-1].figures is not None) == stream.startswith(("ollama", "llamacpp"))
    assert [request.line for request in server.requests] == [f"POST {path} HTTP/1.1"]


@pytest.mark.parametrize("size", [1, 4096])
async def test_a_gzip_answer_is_decoded_once(transport: str, size: int) -> None:
    """A server that compresses anyway: httpx decodes it, the transport hands it over as is."""
    sample = Sample(wire("ollama-generate.ndjson"))
    packer = zlib.compressobj(wbits=31)  # gzip, flushed after each line as a server would
    packed = [packer.compress(piece) + packer.flush(zlib.Z_SYNC_FLUSH) for piece in sample.pieces]
    packed.append(packer.flush())
    gzip = {"content-encoding": "gzip"}
    whole = zlib.compressobj(wbits=31)  # (zlib.compress takes wbits only from 3.11)
    listing = fixed(whole.compress(wire("ollama-tags.json")) + whole.flush(), headers=gzip)
    stream = chunked(packed, size=size, headers=gzip)
    async with (
        serve(answering(listing, stream)) as server,
        model_client(server.url, transport) as http,
    ):
        runner = OllamaRunner(http, "llama3.1:8b")
        with anyio.fail_after(2):
            models = await runner.models()
            chunks = await generate(runner)
    assert "llama3.1:8b" in [model.name for model in models]
    assert said(chunks) == sample.chunks


# ------------------------------------------------------------------ 2. keep-alive


@pytest.mark.parametrize("stream", KINDS)
async def test_generations_read_to_their_end_share_one_connection(
    transport: str, stream: str
) -> None:
    """Three generations, the middle one stopped by max_tokens right before the
    server's closing line (which the runner then reads): one TCP connection."""
    name, make, _ = STREAMS[stream]
    sample = Sample(wire(name))
    reply = chunked(sample.pieces, size=13, content_type=sample.content_type)
    exact = replace(REQUEST, max_tokens=sample.answer_tokens)
    async with serve(lambda _request: reply) as server:
        async with model_client(server.url, transport) as http:
            runner = make(http)
            with anyio.fail_after(2):
                for request in (REQUEST, exact, REQUEST):
                    assert said(await generate(runner, request)) == sample.chunks
            assert len(server.connections) == 1
            assert len(server.connections[0].requests) == 3
            assert not server.connections[0].ended.is_set()
        # Closing the client closes the connection it kept.
        with anyio.fail_after(1):
            await server.connections[0].ended.wait()
    assert server.connections[0].closed_by_client


@pytest.mark.parametrize("after", ["sending", "silent"])
@pytest.mark.parametrize("stream", KINDS)
async def test_a_generation_stopped_early_closes_its_connection(
    transport: str, stream: str, after: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """max_tokens below the sample: the server goes on sending tokens (it ignores
    max_tokens) or says nothing more with the body still open. The runner closes
    that connection; the next generation opens a new one and reads all of it."""
    # How long the runner waits for the closing line: shorter than in production,
    # so the "silent" case takes no quarter of a second.
    monkeypatch.setattr(lines, "FINISH_S", 0.05)
    name, make, _ = STREAMS[stream]
    sample = Sample(wire(name))
    head, head_said = sample.through_token(2)
    first = chunked(
        sample.pieces if after == "sending" else head,
        size=7,
        content_type=sample.content_type,
        end=False,
        then="hold",
    )
    full = chunked(sample.pieces, size=7, content_type=sample.content_type)
    async with serve(answering(first, full)) as server, model_client(server.url, transport) as http:
        runner = make(http)
        with anyio.fail_after(2):
            stopped = await generate(runner, replace(REQUEST, max_tokens=2))
            await server.connections[0].ended.wait()
            complete = await generate(runner)
        assert server.connections[0].closed_by_client
        assert len(server.connections) == 2
        assert len(server.connections[1].requests) == 1
    assert said(stopped) == head_said
    assert said(complete) == sample.chunks


@pytest.mark.parametrize("stream", KINDS)
async def test_a_generation_stopped_early_on_a_body_already_whole(
    transport: str, stream: str
) -> None:
    """The server ignores max_tokens but its whole answer arrived in one write.
    aiohttp's parser had already read the body's end, so its pool keeps the
    connection; httpx's own (h11) had not parsed that far and closes it. The next
    generation works on both."""
    name, make, _ = STREAMS[stream]
    sample = Sample(wire(name))
    reply = chunked(sample.pieces, content_type=sample.content_type)
    async with (
        serve(lambda _request: reply) as server,
        model_client(server.url, transport) as http,
    ):
        runner = make(http)
        with anyio.fail_after(2):
            stopped = await generate(runner, replace(REQUEST, max_tokens=2))
            complete = await generate(runner)
        assert len(server.connections) == (1 if transport == "aiohttp" else 2)
    assert said(stopped) == sample.through_token(2)[1]
    assert said(complete) == sample.chunks


async def test_a_server_that_closes_after_each_answer_gets_a_new_connection_each_time(
    transport: str,
) -> None:
    """The server closes the connection after each whole answer, without saying
    ``Connection: close`` (as one does when its keep-alive time runs out). Each
    generation then opens a new connection and works.

    Between two rounds the event loop turns many times; here one turn stands for
    that: it is when aiohttp's protocol reads the server's FIN and leaves the
    connection out of its pool. (Without it, aiohttp would send on the dead
    connection; httpx's pool polls the socket before reusing it.)"""
    sample = Sample(wire("ollama-generate.ndjson"))
    reply = chunked(sample.pieces, then="close")
    async with (
        serve(lambda _request: reply) as server,
        model_client(server.url, transport) as http,
    ):
        runner = OllamaRunner(http, "llama3.1:8b")
        with anyio.fail_after(2):
            for done in range(1, 4):
                assert said(await generate(runner)) == sample.chunks
                await server.connections[-1].ended.wait()
                await anyio.lowlevel.checkpoint()
                assert len(server.connections) == done
    assert [len(connection.requests) for connection in server.connections] == [1, 1, 1]


@pytest.mark.parametrize("where", ["waiting for the head", "mid-body"])
async def test_a_cancelled_generation_closes_its_connection(transport: str, where: str) -> None:
    """The round ends while the model is still answering (the generation's task is
    cancelled): that connection is closed, the next generation opens a new one."""
    sample = Sample(wire("ollama-generate.ndjson"))
    head, head_said = sample.through_token(2)
    first = (
        Reply(b"", then="hold")
        if where == "waiting for the head"
        else chunked(head, end=False, then="hold")
    )
    replies = iter([first, chunked(sample.pieces)])
    asked = anyio.Event()

    def answer(_request: Request) -> Reply:
        asked.set()
        return next(replies)

    got: list[TokenChunk] = []
    arrived = anyio.Event()  # the tokens the server sent before going quiet
    async with serve(answer) as server, model_client(server.url, transport) as http:
        runner = OllamaRunner(http, "llama3.1:8b")

        async def until_cancelled() -> None:
            async for chunk in runner.stream(REQUEST):
                got.append(chunk)
                if len(said(got)) == len(head_said):
                    arrived.set()

        with anyio.fail_after(2):
            async with anyio.create_task_group() as tg:
                tg.start_soon(until_cancelled)
                await (arrived if where == "mid-body" else asked).wait()
                tg.cancel_scope.cancel()
            await server.connections[0].ended.wait()
            complete = await generate(runner)
        assert server.connections[0].closed_by_client
        assert len(server.connections) == 2
    assert said(got) == (head_said if where == "mid-body" else [])
    assert said(complete) == sample.chunks


# ------------------------------------------------------------------ 3. errors


@pytest.mark.parametrize("stream", KINDS)
async def test_nothing_listening_is_runner_unavailable(transport: str, stream: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with model_client(url, transport) as http:
        with anyio.fail_after(2), pytest.raises(RunnerUnavailable) as failed:
            await generate(STREAMS[stream][1](http))
    assert str(failed.value) == f"{SERVER[stream]} não responde em {url}: {HINT[stream]}"


@pytest.mark.parametrize("where", ["between chunks", "inside a chunk"])
@pytest.mark.parametrize("stream", KINDS)
async def test_the_server_closing_mid_body_fails_the_generation(
    transport: str, stream: str, where: str
) -> None:
    """The tokens before the cut arrive; then "the model stopped mid-answer"."""
    name, make, _ = STREAMS[stream]
    sample = Sample(wire(name))
    head, head_said = sample.through_token(2)
    written = chunked(head, size=7, content_type=sample.content_type, end=False).data
    if where == "inside a chunk":  # half of the next line's chunk
        written += b"%x\r\n%s" % (len(sample.pieces[len(head)]), sample.pieces[len(head)][:20])
    got: list[TokenChunk] = []
    async with (
        serve(answering(Reply(written, 7, "close"))) as server,
        model_client(server.url, transport) as http,
    ):
        with anyio.fail_after(2), pytest.raises(RunnerFailed) as failed:
            await generate_into(got, make(http))
    assert said(got) == head_said
    # The same words on both transports: the library's own go to the debug log.
    assert str(failed.value) == (
        f"o modelo parou no meio da resposta: {SERVER[stream]} fechou a conexão; "
        "confira se o servidor caiu"
    )


TIMEOUT_CASES = [
    ("ollama-generate", "before the head"),
    ("ollama-generate", "after the head"),
    ("ollama-generate", "after two tokens"),
    ("openai-completions", "after the head"),
    ("llamacpp", "after the head"),
]


@pytest.mark.parametrize(("stream", "where"), TIMEOUT_CASES)
async def test_a_silent_server_fails_after_the_read_timeout(
    transport: str, stream: str, where: str
) -> None:
    """No byte for read_timeout: "ficou tempo demais sem mandar nada"; the server
    is left holding a connection the client has closed."""
    name, make, _ = STREAMS[stream]
    sample = Sample(wire(name))
    head, head_said = sample.through_token(2) if where == "after two tokens" else ([], [])
    reply = (
        Reply(b"", then="hold")
        if where == "before the head"
        else chunked(head, content_type=sample.content_type, end=False, then="hold")
    )
    got: list[TokenChunk] = []
    async with (
        serve(answering(reply)) as server,
        model_client(server.url, transport, read_timeout=0.2) as http,
    ):
        with anyio.fail_after(2), pytest.raises(RunnerFailed) as failed:
            await generate_into(got, make(http))
        with anyio.fail_after(1):
            await server.connections[0].ended.wait()
    assert str(failed.value) == (
        f"{SERVER[stream]} ficou tempo demais sem mandar nada: confira se o modelo travou "
        "ou aumente --runner-timeout"
    )
    assert said(got) == head_said
    assert server.connections[0].closed_by_client


ERROR_BODIES = {
    "ollama-generate": b'{"error":"model requires more system memory (9.1 GiB) than is '
    b'available (4.2 GiB)"}',
    "openai-completions": b'{"error":{"message":"model requires more system memory (9.1 GiB) '
    b'than is available (4.2 GiB)","type":"server_error"}}',
    "llamacpp": b'{"error":{"code":500,"message":"model requires more system memory (9.1 GiB) '
    b'than is available (4.2 GiB)","type":"server_error"}}',
}


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("stream", KINDS)
async def test_an_http_500_carries_the_servers_message(
    transport: str, stream: str, framing: str
) -> None:
    """The server's own message; the error body is read to its end, so the
    connection is kept for the next generation, which works."""
    name, make, _ = STREAMS[stream]
    sample = Sample(wire(name))
    body = ERROR_BODIES[stream]
    error = (
        fixed(body, status=500)
        if framing == "content-length"
        else chunked([body[:30], body[30:]], status=500, content_type="application/json", size=7)
    )
    good = chunked(sample.pieces, content_type=sample.content_type)
    async with serve(answering(error, good)) as server, model_client(server.url, transport) as http:
        runner = make(http)
        with anyio.fail_after(2):
            with pytest.raises(RunnerFailed) as failed:
                await generate(runner)
            assert said(await generate(runner)) == sample.chunks
        assert len(server.connections) == 1
    assert str(failed.value) == (
        f"{SERVER[stream]} respondeu 500: "
        "model requires more system memory (9.1 GiB) than is available (4.2 GiB)"
    )


GARBAGE = {
    "ssh banner": b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n",
    "tls alert": b"\x15\x03\x01\x00\x02\x02\x46",
    "binary": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_an_answer_that_is_not_http_fails_the_generation(
    transport: str, garbage: str
) -> None:
    """Bytes that are not HTTP at all, then the server closes: a RunnerFailed with a
    one-line message, nothing for the event loop's exception handler."""
    reply = Reply(GARBAGE[garbage], 13, "close")
    async with serve(answering(reply)) as server, model_client(server.url, transport) as http:
        with anyio.fail_after(2), pytest.raises(RunnerFailed) as failed:
            await generate(OllamaRunner(http, "llama3.1:8b"))
    # Not "the model stopped mid-answer": it never answered as a model server.
    assert str(failed.value) == (
        f"o Ollama não respondeu como um servidor de modelo em {server.url} (fechou a "
        "conexão ou mandou algo que não é HTTP): confira se o endereço é mesmo o dele"
    )


async def test_a_line_that_is_not_http_then_silence_fails_the_generation(transport: str) -> None:
    """An SSH banner, then nothing. aiohttp's parser rejects the status line at
    once; h11 waits for the end of a head that never comes, so httpx's own
    transport fails at the read timeout: a RunnerFailed either way, told differently."""
    reply = Reply(GARBAGE["ssh banner"], 7, "hold")
    async with (
        serve(answering(reply)) as server,
        model_client(server.url, transport, read_timeout=0.2) as http,
    ):
        with anyio.fail_after(2), pytest.raises(RunnerFailed) as failed:
            await generate(OllamaRunner(http, "llama3.1:8b"))
    message = str(failed.value)
    if transport == "aiohttp":
        assert message.startswith("o Ollama não respondeu como um servidor de modelo em")
    else:
        assert message.startswith("o Ollama ficou tempo demais sem mandar nada")


# ------------------------------------------------------------------ 4. the factory


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, AiohttpTransport), ("aiohttp", AiohttpTransport), ("httpx", None), (" HTTPX ", None)],
)
async def test_model_transport_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, expected: type | None
) -> None:
    if setting is None:
        monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    else:
        monkeypatch.setenv(TRANSPORT_ENV, setting)
    made = model_transport()
    try:
        assert made is None if expected is None else type(made) is expected
    finally:
        if made is not None:
            await made.aclose()


async def test_model_transport_outside_an_event_loop_is_httpxs_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Called where no event loop runs (here a worker thread): httpx's own transport."""
    monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    assert await anyio.to_thread.run_sync(model_transport) is None


async def test_closing_the_client_closes_the_aiohttp_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The container's shutdown closes the session, its connector and its socket:
    no ResourceWarning, nothing for the loop's exception handler."""
    use_transport(monkeypatch, "aiohttp")
    sample = Sample(wire("ollama-generate.ndjson"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with serve(answering(chunked(sample.pieces))) as server:
            async with model_client(server.url, "aiohttp") as http:
                transport = http._transport
                assert isinstance(transport, AiohttpTransport)
                with anyio.fail_after(2):
                    await generate(OllamaRunner(http, "llama3.1:8b"))
                session = transport._session
                assert session is not None
                connector = session.connector
                assert connector is not None
                assert not session.closed
            assert session.closed
            assert connector.closed
            assert transport._session is None
            with anyio.fail_after(1):
                await server.connections[0].ended.wait()
            assert server.connections[0].closed_by_client
        del session, connector, transport, http
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_a_leaked_session_would_be_caught(no_loop_errors: list[dict[str, Any]]) -> None:
    """The check above can fail: a transport dropped without ``aclose()`` warns."""
    transport = AiohttpTransport()
    transport._opened()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del transport
        gc.collect()
    assert any("Unclosed client session" in str(w.message) for w in caught)
    assert any("Unclosed client session" in c.get("message", "") for c in no_loop_errors)
    no_loop_errors.clear()


# ------------------------------------------------------------------ 5. the request


PROMPT = "Conte uma história 🎉 ação"
# The bodies the runners send, byte for byte (shared/wire/README.md).
BODIES = {
    "ollama-generate": '{"model":"llama3.1:8b","prompt":"Conte uma história 🎉 ação",'
    '"stream":true,"options":{"num_predict":50,"temperature":0.7,"seed":42}}',
    "openai-completions": '{"model":"qwen2.5-7b-instruct","prompt":"Conte uma história 🎉 ação",'
    '"max_tokens":50,"temperature":0.7,"seed":42,"stream":true}',
    "llamacpp": '{"prompt":"Conte uma história 🎉 ação","n_predict":50,"temperature":0.7,'
    '"seed":42,"stream":true}',
}


async def send_one(server: ModelServer, transport: str, stream: str) -> Request:
    """One generation with an API key; the request as the server read it."""
    make = STREAMS[stream][1]
    request = GenerationRequest(round=1, prompt=PROMPT, max_tokens=50, temperature=0.7, seed=42)
    async with model_client(server.url, transport, api_key="sk-local-123") as http:
        with anyio.fail_after(2):
            await generate(make(http), request)
    return server.requests[-1]


@pytest.mark.parametrize("stream", KINDS)
async def test_a_generation_request_arrives_as_httpx_built_it(transport: str, stream: str) -> None:
    name, _, path = STREAMS[stream]
    sample = Sample(wire(name))
    async with serve(lambda _request: chunked(sample.pieces)) as server:
        request = await send_one(server, transport, stream)
    names = [header for header, _ in request.headers]
    assert sorted(set(names)) == sorted(names), "a header sent twice"
    headers = dict(request.headers)
    assert request.line == f"POST {path} HTTP/1.1"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["authorization"] == "Bearer sk-local-123"
    assert headers["content-type"] == "application/json"
    assert headers["accept-encoding"] == "identity"
    assert headers["content-length"] == str(len(request.body))
    assert headers["user-agent"] == f"python-httpx/{httpx.__version__}"
    assert "transfer-encoding" not in headers
    assert request.body == BODIES[stream].encode()


async def test_both_transports_put_the_same_head_on_the_wire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same generation and the same listing, once on each transport: the same
    header lines (name case and order aside) and the same bodies."""
    sample = Sample(wire("ollama-generate.ndjson"))
    tags = fixed(wire("ollama-tags.json"))

    def answer(request: Request) -> Reply:
        return tags if request.line.startswith("GET") else chunked(sample.pieces)

    seen: dict[str, list[Request]] = {}
    async with serve(answer) as server:
        for name in TRANSPORTS:
            use_transport(monkeypatch, name)
            await send_one(server, name, "ollama-generate")
            async with model_client(server.url, name) as http:
                with anyio.fail_after(2):
                    await OllamaRunner(http, "llama3.1:8b").models()
            seen[name] = server.requests[-2:]
    for aiohttp_request, httpx_request in zip(seen["aiohttp"], seen["httpx"], strict=True):
        assert aiohttp_request.line == httpx_request.line
        assert sorted(aiohttp_request.headers) == sorted(httpx_request.headers)
        assert aiohttp_request.body == httpx_request.body


async def streamed_body() -> AsyncIterator[bytes]:
    yield b'{"model":'
    yield b'"llama3.1:8b"}'


async def test_requests_unlike_the_runners_also_leave_as_httpx_built_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requests the runners do not make today: a body without content-type, an
    empty POST, a body of unknown length (httpx sends it chunked), a client that
    dropped its User-Agent and Accept. The same lines reach the server on both."""

    async def requests(http: httpx.AsyncClient) -> None:
        await http.post("/raw", content=b"abc")
        await http.post("/empty")
        await http.post("/streamed", content=streamed_body())
        del http.headers["user-agent"], http.headers["accept"]
        await http.get("/bare")

    seen: dict[str, list[Request]] = {}
    async with serve(lambda _request: fixed(b"{}")) as server:
        for name in TRANSPORTS:
            use_transport(monkeypatch, name)
            async with model_client(server.url, name) as http:
                with anyio.fail_after(2):
                    await requests(http)
            seen[name] = server.requests[-4:]
    streamed = seen["httpx"][2]
    assert streamed.values("transfer-encoding") == ["chunked"]
    assert streamed.values("content-length") == []
    assert streamed.body == b'{"model":"llama3.1:8b"}'
    for aiohttp_request, httpx_request in zip(seen["aiohttp"], seen["httpx"], strict=True):
        assert aiohttp_request.line == httpx_request.line
        assert sorted(aiohttp_request.headers) == sorted(httpx_request.headers)
        assert aiohttp_request.body == httpx_request.body


# ------------------------------------------------------------------ 6. https model servers


@pytest.fixture
def model_ca() -> trustme.CA:
    return trustme.CA()


def tls_server(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


async def test_an_https_model_server_is_trusted_as_httpx_trusts_it(
    transport: str, model_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both transports trust certifi's certificates, not the system's: a server
    whose CA is in that bundle (this test's CA, put there) is played."""
    bundle = tmp_path / "bundle.pem"
    model_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setattr(certifi, "where", lambda: str(bundle))
    sample = Sample(wire("ollama-generate.ndjson"))
    reply = chunked(sample.pieces, size=13, content_type=sample.content_type)
    async with (
        serve(answering(reply), tls=tls_server(model_ca)) as server,
        model_client(server.url, transport) as http,
    ):
        assert server.url.startswith("https://")
        with anyio.fail_after(5):
            chunks = await generate(OllamaRunner(http, "llama3.1:8b"))
    assert said(chunks) == sample.chunks


async def test_an_https_model_server_with_an_unknown_ca_is_refused(
    transport: str, model_ca: trustme.CA
) -> None:
    """Not in certifi's bundle: refused before any request, on both transports alike."""
    async with (
        serve(answering(), tls=tls_server(model_ca)) as server,
        model_client(server.url, transport) as http,
    ):
        with anyio.fail_after(5), pytest.raises(RunnerUnavailable) as refused:
            await generate(OllamaRunner(http, "llama3.1:8b"))
    assert str(refused.value).startswith(f"o Ollama não responde em {server.url}")
    assert server.requests == []


# ------------------------------------------------------------------ 7. what the review found


async def test_a_url_with_user_and_password_plays_and_never_shows_the_password(
    transport: str,
) -> None:
    """httpx sends the URL's user:password as an Authorization header; the
    transport must not hand them to aiohttp a second time, and no message shows them."""
    sample = Sample(wire("ollama-generate.ndjson"))
    reply = chunked(sample.pieces, size=13, content_type=sample.content_type)
    async with serve(answering(reply)) as server:
        with_user = server.url.replace("http://", "http://ana:s3nha@", 1)
        async with model_client(with_user, transport) as http:
            with anyio.fail_after(2):
                chunks = await generate(OllamaRunner(http, "llama3.1:8b"))
    assert said(chunks) == sample.chunks
    assert ("authorization", "Basic YW5hOnMzbmhh") in server.requests[0].headers
    nobody = f"http://ana:s3nha@127.0.0.1:{free_port()}"
    async with model_client(nobody, transport) as http:
        with anyio.fail_after(5), pytest.raises(RunnerUnavailable) as refused:
            await generate(OllamaRunner(http, "llama3.1:8b"))
    assert "s3nha" not in str(refused.value)
    assert "ana@" not in str(refused.value)
    assert "não responde em http://127.0.0.1:" in str(refused.value)


async def test_a_big_response_head_is_read_as_httpx_reads_it(transport: str) -> None:
    """A proxy in front of the model may send a 12 KB header, or 150 of them."""
    sample = Sample(wire("ollama-generate.ndjson"))
    many = {f"x-proxy-{i}": "1" for i in range(150)}
    replies = (
        chunked(sample.pieces, content_type=sample.content_type, headers={"x-csp": "a" * 12_000}),
        chunked(sample.pieces, content_type=sample.content_type, headers=many),
    )
    async with serve(answering(*replies)) as server, model_client(server.url, transport) as http:
        runner = OllamaRunner(http, "llama3.1:8b")
        with anyio.fail_after(2):
            assert said(await generate(runner)) == sample.chunks
            assert said(await generate(runner)) == sample.chunks


async def test_cookies_and_query_parameters_reach_every_generation(transport: str) -> None:
    """Generation requests are prepared once per client, but not for a client whose
    cookie jar (a proxy's sticky session) or query parameters can change."""
    sample = Sample(wire("ollama-generate.ndjson"))
    first = chunked(
        sample.pieces, content_type=sample.content_type, headers={"set-cookie": "sid=7"}
    )
    second = chunked(sample.pieces, content_type=sample.content_type)
    async with (
        serve(answering(first, second)) as server,
        model_client(server.url, transport) as http,
    ):
        http.params = httpx.QueryParams({"tenant": "ana"})
        runner = OllamaRunner(http, "llama3.1:8b")
        with anyio.fail_after(2):
            await generate(runner)
            await generate(runner)
    lines = [request.line for request in server.requests]
    assert lines == ["POST /api/generate?tenant=ana HTTP/1.1"] * 2
    assert ("cookie", "sid=7") in server.requests[1].headers


async def test_a_name_lookup_that_hangs_is_bounded_by_the_connect_timeout(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connect timeout covers the name lookup on both transports (aiohttp's
    ``sock_connect`` alone would not), so a broken DNS fails the round in time."""
    released = threading.Event()
    real = socket.getaddrinfo

    def hanging(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("model.hangs.test", b"model.hangs.test"):  # anyio passes bytes
            released.wait(10)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    client = httpx.AsyncClient(
        base_url="http://model.hangs.test:11434",
        timeout=httpx.Timeout(5.0, connect=0.2),
        transport=model_transport(),
    )
    try:
        with respx.mock(assert_all_called=False) as real_network:
            real_network.route(host="model.hangs.test").pass_through()
            async with client:
                with anyio.fail_after(3), pytest.raises(httpx.ConnectTimeout):
                    await client.get("/api/tags")
    finally:
        released.set()  # the lookup's worker thread ends with the test
