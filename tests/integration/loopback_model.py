"""A model server on loopback that speaks real HTTP/1.1, for the transport tests.

Unlike the respx fakes, its bytes cross a real socket, so whatever transport
sits under httpx (aiohttp's or httpx's own) parses them. Each request is read
whole (its head, then ``content-length`` bytes of body); the test decides the
answer: a chunked body (one HTTP chunk per NDJSON line or SSE event, as
Ollama, LM Studio and llama-server write them) sent in slices of any size, so
that chunk headers and UTF-8 characters are split between socket writes; a
``content-length`` body; or raw bytes. After the answer the connection is
served again (keep-alive), closed by the server, or held open in silence
until the client closes it. Every accepted connection is recorded, with the
requests it carried and whether the client closed it.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import anyio.lowlevel
from anyio.abc import ByteStream, Listener, SocketAttribute
from anyio.streams.tls import TLSListener

__all__ = ["Connection", "ModelServer", "Reply", "Request", "Sample", "chunked", "fixed", "serve"]

# What the server does once the reply is written: read the next request on the
# same connection, close it, or say nothing more until the client closes it.
Then = Literal["serve", "close", "hold"]


@dataclass(frozen=True)
class Request:
    """One request exactly as it arrived."""

    head: bytes  # the request line and header lines, without the blank line
    body: bytes

    @property
    def line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode("latin-1")

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header line, in order, names lower-cased (repeats kept)."""
        pairs = []
        for raw in self.head.split(b"\r\n")[1:]:
            name, _, value = raw.decode("latin-1").partition(":")
            pairs.append((name.strip().lower(), value.strip()))
        return pairs

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass(frozen=True)
class Reply:
    """Bytes to write, in slices of ``size`` (None: in one write), then ``then``."""

    data: bytes
    size: int | None = None
    then: Then = "serve"


@dataclass
class Connection:
    """One accepted connection: the requests it carried, and whether it has ended."""

    requests: list[Request] = field(default_factory=list)
    ended: anyio.Event = field(default_factory=anyio.Event)
    # The client closed it (EOF or reset while the server read or wrote).
    closed_by_client: bool = False


class ModelServer:
    """Answers each request with ``answer(request)``, on 127.0.0.1."""

    def __init__(self, answer: Callable[[Request], Reply], port: int, scheme: str = "http") -> None:
        self.answer = answer
        self.port = port
        self.scheme = scheme
        self.connections: list[Connection] = []

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[Request]:
        return [request for connection in self.connections for request in connection.requests]

    async def handle(self, stream: ByteStream) -> None:
        # Each slice leaves at once, not held back by Nagle for the client's ACK.
        stream.extra(SocketAttribute.raw_socket).setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
        connection = Connection()
        self.connections.append(connection)
        buffer = bytearray()
        try:
            async with stream:
                while True:
                    request = await _read_request(stream, buffer)
                    if request is None:  # the client closed an idle connection
                        connection.closed_by_client = True
                        return
                    connection.requests.append(request)
                    reply = self.answer(request)
                    await _write(stream, reply)
                    if reply.then == "close":
                        return
                    if reply.then == "hold":
                        while await stream.receive():  # until the client closes it
                            pass
        # ssl.SSLError: an https client that closed without TLS's own goodbye.
        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError, ssl.SSLError):
            connection.closed_by_client = True
        finally:
            connection.ended.set()


@asynccontextmanager
async def serve(
    answer: Callable[[Request], Reply], tls: ssl.SSLContext | None = None
) -> AsyncIterator[ModelServer]:
    """A ``ModelServer`` listening on a free loopback port while the block runs
    (``https://`` with ``tls``, a server-side context)."""
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = tcp.extra(SocketAttribute.local_port)
    server = ModelServer(answer, port, "http" if tls is None else "https")
    listener: Listener[Any] = tcp if tls is None else TLSListener(tcp, tls)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server.handle)
        yield server
        tg.cancel_scope.cancel()


async def _read_request(stream: ByteStream, buffer: bytearray) -> Request | None:
    """The next request on the connection; None when the client closed it between requests."""
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        try:
            buffer += await stream.receive()
        # ssl.SSLError: an https client that closed without TLS's own goodbye.
        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError, ssl.SSLError):
            if buffer:
                raise
            return None
    head = bytes(buffer[:end])
    del buffer[: end + 4]
    bare = Request(head, b"")
    if "chunked" in bare.values("transfer-encoding"):
        return Request(head, await _read_chunks(stream, buffer))
    lengths = bare.values("content-length")
    length = int(lengths[0]) if lengths else 0
    return Request(head, await _read_exactly(stream, buffer, length))


async def _read_exactly(stream: ByteStream, buffer: bytearray, length: int) -> bytes:
    while len(buffer) < length:
        buffer += await stream.receive()
    data = bytes(buffer[:length])
    del buffer[:length]
    return data


async def _read_chunks(stream: ByteStream, buffer: bytearray) -> bytes:
    """A chunked request body, decoded (no trailers: clients send none)."""
    body = bytearray()
    while True:
        while (end := buffer.find(b"\r\n")) < 0:
            buffer += await stream.receive()
        size = int(bytes(buffer[:end]).split(b";")[0], 16)
        del buffer[: end + 2]
        chunk = await _read_exactly(stream, buffer, size + 2)  # the data and its CRLF
        if size == 0:
            return bytes(body)
        body += chunk[:-2]


async def _write(stream: ByteStream, reply: Reply) -> None:
    data = reply.data
    size = reply.size or max(1, len(data))
    for start in range(0, len(data), size):
        await stream.send(data[start : start + size])
        # Lets the client (on the same event loop) read this slice on its own.
        await anyio.lowlevel.checkpoint()


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_REASONS = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}


def chunked(
    pieces: list[bytes],
    *,
    size: int | None = None,
    status: int = 200,
    content_type: str = "application/x-ndjson",
    end: bool = True,
    then: Then = "serve",
    headers: dict[str, str] | None = None,
) -> Reply:
    """A ``transfer-encoding: chunked`` answer, one HTTP chunk per piece.

    Args:
        end: write the last (empty) chunk that ends the body; without it the
            body is left unfinished.
        headers: more response headers.
    """
    fields = {"content-type": content_type, "transfer-encoding": "chunked"} | (headers or {})
    head = _head(status, fields)
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    return Reply(head + body + (b"0\r\n\r\n" if end else b""), size, then)


def fixed(
    body: bytes,
    *,
    status: int = 200,
    content_type: str = "application/json",
    then: Then = "serve",
    headers: dict[str, str] | None = None,
) -> Reply:
    """An answer with a ``content-length`` body."""
    fields = {"content-type": content_type, "content-length": str(len(body))} | (headers or {})
    head = _head(status, fields)
    return Reply(head + body, None, then)


# After a newline that is not followed by another: an NDJSON line ends there,
# or an SSE event with its blank line.
_PIECE_END = re.compile(rb"(?<=\n)(?!\n)")


class Sample:
    """A byte-exact wire sample, cut the way the server writes it, and what it says.

    ``pieces``: one per NDJSON line or SSE event (a server's write per token).
    ``said[i]``: the (text, reasoning) pairs piece ``i`` carries, read with
    ``json`` independently of the client's own decoders.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sse = data.startswith(b"data:")
        self.pieces = [piece for piece in _PIECE_END.split(data) if piece]
        assert b"".join(self.pieces) == data
        self.said = [self._said(piece) for piece in self.pieces]

    @property
    def content_type(self) -> str:
        return "text/event-stream" if self.sse else "application/x-ndjson"

    @property
    def chunks(self) -> list[tuple[str, bool]]:
        """Every (text, reasoning) pair of the answer, in order."""
        return [pair for said in self.said for pair in said]

    @property
    def answer_tokens(self) -> int:
        return sum(not reasoning for _, reasoning in self.chunks)

    def through_token(self, count: int) -> tuple[list[bytes], list[tuple[str, bool]]]:
        """The pieces up to the one with the ``count``-th answer token, and what they say."""
        seen = 0
        for index, said in enumerate(self.said):
            seen += sum(not reasoning for _, reasoning in said)
            if seen >= count:
                pieces = self.pieces[: index + 1]
                return pieces, [pair for said in self.said[: index + 1] for pair in said]
        raise ValueError(f"the sample has only {seen} answer tokens")

    def _said(self, piece: bytes) -> list[tuple[str, bool]]:
        text = piece.decode("utf-8").strip()
        if self.sse:
            payload = text.removeprefix("data:").strip()
            if payload == "[DONE]":
                return []
            event = json.loads(payload)
            if "choices" not in event:  # llama.cpp's native /completion
                return [(event["content"], False)] if event.get("content") else []
            choice = event["choices"][0]
            if "delta" not in choice:
                return [(choice["text"], False)] if choice.get("text") else []
            delta = choice["delta"]
            thinking = delta.get("reasoning_content") or delta.get("reasoning")
            found = [(thinking, True)] if thinking else []
            return found + ([(delta["content"], False)] if delta.get("content") else [])
        line = json.loads(text)
        source = line.get("message", line)
        found = [(source["thinking"], True)] if source.get("thinking") else []
        answer = source.get("content", "") if "message" in line else line.get("response", "")
        return found + ([(answer, False)] if answer else [])
