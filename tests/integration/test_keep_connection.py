"""The runners read each answer's body to its end, so the model connection is kept.

httpcore hands a connection back to its pool only when the response was read
to its end; a body left unread closes the connection, and the next round
opens a new one before its first token (the warm-round TTFT regression).
These bodies say whether they were read to their end; the benchmark counts
the connections themselves (``benchmarks/relay.py``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
import respx

from gambiarra.adapters.http_errors import body_chunks, endpoint
from gambiarra.adapters.llamacpp import LlamaCppRunner
from gambiarra.adapters.ollama import OllamaRunner
from gambiarra.adapters.openai_compat import OpenAICompatRunner
from gambiarra.domain.events import GenerationRequest

pytestmark = pytest.mark.anyio

OLLAMA = "http://ollama.test"
LMSTUDIO = "http://lmstudio.test"
LLAMACPP = "http://llamacpp.test"


class Body(httpx.AsyncByteStream):
    """One chunk per line, as the real servers send; remembers how far it was read."""

    def __init__(self, *lines: bytes) -> None:
        self.lines = lines
        self.produced = 0
        self.ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for line in self.lines:
            await anyio.lowlevel.checkpoint()  # a real socket read waits here
            self.produced += 1
            yield line
        self.ended = True


def ollama(text: str = "", done: bool = False) -> bytes:
    line: dict[str, object] = {"model": "m", "response": text, "done": done}
    if done:
        line["eval_count"] = 3
    return json.dumps(line).encode() + b"\n"


def sse(text: str | None, finish: str | None = None) -> bytes:
    event = {"choices": [{"index": 0, "text": text, "finish_reason": finish}]}
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def llamacpp(text: str, stop: bool = False) -> bytes:
    return b"data: " + json.dumps({"content": text, "stop": stop}).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


def request(max_tokens: int) -> GenerationRequest:
    return GenerationRequest(round=1, prompt="Era uma vez", max_tokens=max_tokens, temperature=0)


async def ollama_stream(body: Body, max_tokens: int) -> list[str]:
    with respx.mock(base_url=OLLAMA) as mock:
        route = mock.post("/api/generate").respond(200, stream=body)
        runner = OllamaRunner(httpx.AsyncClient(base_url=OLLAMA), "m")
        with anyio.fail_after(5):
            texts = [chunk.text async for chunk in runner.stream(request(max_tokens))]
    assert route.calls.last.request.headers["accept-encoding"] == "identity"
    return texts


async def sse_stream(kind: str, body: Body, max_tokens: int) -> list[str]:
    base, path = (LMSTUDIO, "/v1/completions") if kind == "lmstudio" else (LLAMACPP, "/completion")
    with respx.mock(base_url=base) as mock:
        mock.post(path).respond(200, stream=body, headers={"content-type": "text/event-stream"})
        http = httpx.AsyncClient(base_url=base)
        runner = OpenAICompatRunner(http, "m") if kind == "lmstudio" else LlamaCppRunner(http, "m")
        with anyio.fail_after(5):
            return [chunk.text async for chunk in runner.stream(request(max_tokens))]


async def test_ollamas_body_is_read_to_its_end_after_the_done_line() -> None:
    body = Body(ollama("Era"), ollama(" uma"), ollama(done=True))
    assert await ollama_stream(body, 400) == ["Era", " uma", ""]
    assert body.ended


async def test_at_max_tokens_ollama_stops_and_reads_the_servers_closing_line() -> None:
    """Ollama stops at num_predict by itself: its done line follows, then the end."""
    body = Body(ollama("Era"), ollama(" uma"), ollama(done=True))
    assert await ollama_stream(body, 2) == ["Era", " uma"]
    assert body.ended


async def test_at_max_tokens_more_text_means_the_connection_is_closed() -> None:
    """A server that ignores max_tokens is not read on: closing tells it to stop."""
    body = Body(*(ollama(f" p{i}") for i in range(50)), ollama(done=True))
    assert await ollama_stream(body, 2) == [" p0", " p1"]
    assert body.produced == 3
    assert not body.ended


@pytest.mark.parametrize("kind", ["lmstudio", "llamacpp"])
async def test_an_sse_body_is_read_to_its_end(kind: str) -> None:
    if kind == "lmstudio":
        body = Body(sse("Era"), sse(" uma"), sse(None, "stop"), DONE)
    else:
        body = Body(llamacpp("Era"), llamacpp(" uma"), llamacpp("", stop=True))
    assert [t for t in await sse_stream(kind, body, 400) if t] == ["Era", " uma"]
    assert body.ended


@pytest.mark.parametrize("kind", ["lmstudio", "llamacpp"])
async def test_at_max_tokens_an_sse_server_closing_line_is_read_too(kind: str) -> None:
    if kind == "lmstudio":
        body = Body(sse("Era"), sse(" uma"), sse("", "length"), DONE)
    else:
        body = Body(llamacpp("Era"), llamacpp(" uma"), llamacpp("", stop=True))
    assert await sse_stream(kind, body, 2) == ["Era", " uma"]
    assert body.ended


async def test_a_compressed_answer_is_still_read() -> None:
    """The runner asks for an uncompressed body; a server that compresses anyway works."""
    data = gzip.compress(ollama("Era") + ollama(done=True))
    with respx.mock(base_url=OLLAMA) as mock:
        mock.post("/api/generate").respond(200, content=data, headers={"content-encoding": "gzip"})
        runner = OllamaRunner(httpx.AsyncClient(base_url=OLLAMA), "m")
        with anyio.fail_after(5):
            texts = [chunk.text async for chunk in runner.stream(request(400))]
    assert texts == ["Era", ""]


@pytest.mark.parametrize("base", ["http://h:1", "http://h:1/", "http://h:1/proxy", "http://h/p/"])
async def test_endpoint_is_the_url_httpx_itself_would_request(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for path in ("/api/generate", "v1/completions"):
            assert endpoint(http, path) == http.build_request("POST", path).url
            assert endpoint(http, path) is endpoint(http, path)  # resolved once
        http.base_url = "http://other:2"  # type: ignore[assignment]
        assert endpoint(http, "/completion") == httpx.URL("http://other:2/completion")


async def test_an_uncompressed_body_is_read_as_the_servers_own_chunks_and_only_once() -> None:
    body = Body(ollama("Era"), ollama(" uma"), ollama(done=True))
    with respx.mock(base_url=OLLAMA) as mock:
        mock.post("/api/generate").respond(200, stream=body)
        async with httpx.AsyncClient(base_url=OLLAMA) as http:
            with anyio.fail_after(5):
                async with http.stream("POST", "/api/generate") as response:
                    chunks = [chunk async for chunk in body_chunks(response)]
                    with pytest.raises(httpx.StreamConsumed):
                        await response.aread()  # marked as read, as aiter_raw would
    assert chunks == list(body.lines)
    assert body.ended
