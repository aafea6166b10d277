"""A fault-injecting TCP proxy for loopback tests: cut, blackhole or delay a link.

It sits between the client and the practice arena and forwards bytes both
ways. ``cut()`` kills every open link at once (both sockets are shut down, as
when Wi-Fi drops); ``blackhole()`` keeps the sockets open but silently stops
forwarding (a dead access point); ``delay`` holds every forwarded chunk back.
New links made after a fault are forwarded normally.

Faults can also be scheduled by token: the proxy reads the client's
WebSocket frames, and right after forwarding the k-th *new* token (a seq
higher than any seen before) it cuts or blackholes the link before one more
byte passes, so the arena never reads what follows. Counting new tokens, not
frames, means re-sent tokens after a reconnect do not count, and every
connection makes progress. ``cut_after_completes`` cuts right after the k-th
``complete`` passes: the arena reads it, but no ping after it, so the client
never learns it arrived.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import anyio
import anyio.abc
from anyio.abc import SocketAttribute, SocketStream


class ClientFrames:
    """Splits the client-to-server byte stream into its HTTP upgrade and frames."""

    def __init__(self) -> None:
        self._buffer = b""
        self._upgraded = False

    def feed(self, data: bytes) -> Iterator[tuple[bytes, dict[str, object] | None]]:
        """Yield (raw bytes to forward, decoded JSON of a text frame or None)."""
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self._upgraded = True
            head, self._buffer = self._buffer[: end + 4], self._buffer[end + 4 :]
            yield head, None
        while (frame := self._next_frame()) is not None:
            yield frame

    def _next_frame(self) -> tuple[bytes, dict[str, object] | None] | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        opcode, length, offset = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if length == 126:
            if len(buf) < 4:
                return None
            (length,), offset = struct.unpack("!H", buf[2:4]), 4
        elif length == 127:
            if len(buf) < 10:
                return None
            (length,), offset = struct.unpack("!Q", buf[2:10]), 10
        masked = bool(buf[1] & 0x80)
        start = offset + (4 if masked else 0)
        if len(buf) < start + length:
            return None
        payload = buf[start : start + length]
        if masked:
            mask = buf[offset:start]
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        raw, self._buffer = buf[: start + length], buf[start + length :]
        decoded = None
        if opcode == 0x1:
            with suppress(ValueError):
                decoded = json.loads(payload)
        return raw, decoded


@dataclass
class _Link:
    client: SocketStream
    upstream: SocketStream
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    blackholed: bool = False

    def cut(self) -> None:
        for stream in (self.client, self.upstream):
            raw = stream.extra(SocketAttribute.raw_socket)
            with suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
        self.scope.cancel()


class FaultyProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.delay = 0.0
        self.cut_after_tokens: set[int] = set()
        self.blackhole_after_tokens: set[int] = set()
        self.cut_after_completes: set[int] = set()
        self.completes = 0
        self.links: list[_Link] = []
        self.cuts = 0
        self.new_tokens = 0
        self.port = 0
        self._highest_seq: dict[object, int] = {}

    def url(self, path: str = "/ws") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def cut(self) -> None:
        self.cuts += bool(self.links)
        for link in self.links:
            link.cut()
        self.links.clear()

    def blackhole(self) -> None:
        for link in self.links:
            link.blackholed = True

    async def _handle(self, client: SocketStream) -> None:
        upstream = await anyio.connect_tcp("127.0.0.1", self.upstream_port)
        link = _Link(client, upstream)
        self.links.append(link)
        with link.scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._client_to_arena, link)
                tg.start_soon(self._pump, link, upstream, client)
        with anyio.CancelScope(shield=True):
            await client.aclose()
            await upstream.aclose()

    async def _client_to_arena(self, link: _Link) -> None:
        frames = ClientFrames()
        with suppress(
            anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError
        ):
            async for chunk in link.client:
                for raw, message in frames.feed(chunk):
                    if link.blackholed:
                        continue
                    if self.delay:
                        await anyio.sleep(self.delay)
                    await link.upstream.send(raw)
                    if self._is_new_token(message) and self._fault_now(link):
                        return
                    if self._cut_after_complete(message):
                        return
        link.scope.cancel()

    def _is_new_token(self, message: dict[str, object] | None) -> bool:
        if not message or message.get("type") != "token":
            return False
        key, seq = message.get("round"), message.get("seq")
        assert isinstance(seq, int)
        if seq <= self._highest_seq.get(key, -1):
            return False
        self._highest_seq[key] = seq
        self.new_tokens += 1
        return True

    def _cut_after_complete(self, message: dict[str, object] | None) -> bool:
        if not message or message.get("type") != "complete":
            return False
        self.completes += 1
        if self.completes in self.cut_after_completes:
            self.cut()
            return True
        return False

    def _fault_now(self, link: _Link) -> bool:
        if self.new_tokens in self.blackhole_after_tokens:
            self.blackhole()
        if self.new_tokens in self.cut_after_tokens:
            self.cut()
            return True
        return False

    async def _pump(self, link: _Link, source: SocketStream, sink: SocketStream) -> None:
        with suppress(
            anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError
        ):
            async for chunk in source:
                if link.blackholed:
                    continue
                if self.delay:
                    await anyio.sleep(self.delay)
                await sink.send(chunk)
        link.scope.cancel()


@asynccontextmanager
async def faulty_proxy(upstream_url: str) -> AsyncIterator[FaultyProxy]:
    port = int(upstream_url.rsplit(":", 1)[1].split("/")[0])
    proxy = FaultyProxy(port)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    proxy.port = listener.extra(SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, proxy._handle)
        yield proxy
        tg.cancel_scope.cancel()
