"""Shared pieces of the benchmarks: a fake model server, process measurements, output."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import SocketStream

CLIENT = shutil.which("gambiarra-client") or str(Path(sys.executable).with_name("gambiarra-client"))


def print_table(title: str, rows: Sequence[tuple[str, str, str]]) -> None:
    """A small table: what, measured, target."""
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}")
    print(f"  {'medida':<{width}}  {'medido':>14}  alvo")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>14}  {target}")


def print_json(name: str, figures: dict[str, Any]) -> None:
    print(json.dumps({"benchmark": name, **figures}, ensure_ascii=False))


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of a process so far (Linux /proc), in seconds."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            # schedstat's first field: nanoseconds on CPU (finer than stat's ticks)
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])
            total += ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    return total / 1e9


def peak_rss_mib(
    command: Sequence[str], **kwargs: Any
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command in a fresh wrapper process and return its child's peak RSS (MiB)."""
    wrapper = (
        "import resource, subprocess, sys, json;"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "print(json.dumps({'rss_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
        "'code': r.returncode, 'out': r.stdout, 'err': r.stderr}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *command], capture_output=True, text=True, **kwargs
    )
    report = json.loads(done.stdout)
    result = subprocess.CompletedProcess(command, report["code"], report["out"], report["err"])
    return report["rss_kib"] / 1024, result


class FakeModelServer:
    """A tiny HTTP/1.1 model server on loopback that streams as fast as it can.

    Speaks just enough of Ollama (``/api/tags``, ``/api/show``, ``/api/ps``,
    ``/api/generate`` as NDJSON, an empty prompt only "loads") and of the
    OpenAI API (``/v1/models``, ``/v1/completions`` as SSE), with keep-alive
    and chunked bodies: one HTTP chunk per line, like the real servers,
    written to the socket in batches.
    """

    def __init__(self) -> None:
        self.port = 0
        self.requests = 0
        self.connections = 0  # accepted: a client that keeps its connection opens one
        # For each streamed generation: (request read, first token written), in
        # the event loop's clock (``time.monotonic``, the same in every process).
        self.generations: list[tuple[float, float]] = []

    async def serve(
        self, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        task_status.started(self.port)
        async with listener:
            await listener.serve(self._connection)

    async def _connection(self, stream: SocketStream) -> None:
        self.connections += 1
        buffer = b""
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        buffer += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                    arrived = (
                        anyio.current_time()
                    )  # the model's time starts here, not after parsing
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                lines = head.decode().split("\r\n")
                method, path = lines[0].split()[:2]
                length = next(
                    (
                        int(h.split(":", 1)[1])
                        for h in lines[1:]
                        if h.lower().startswith("content-length")
                    ),
                    0,
                )
                while len(buffer) < length:
                    buffer += await stream.receive()
                    arrived = anyio.current_time()
                body, buffer = buffer[:length], buffer[length:]
                self.requests += 1
                try:
                    await self._answer(
                        stream, method, path, json.loads(body) if body else {}, arrived
                    )
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return  # the client stopped reading (its max_tokens): a real server's lot

    async def _answer(
        self, stream: SocketStream, method: str, path: str, body: dict[str, Any], read_at: float
    ) -> None:
        answers = {
            "/api/tags": b'{"models":[{"name":"bench:latest"}]}',
            "/api/ps": b'{"models":[]}',
            "/api/show": b'{"capabilities":["completion"]}',
        }
        if method == "GET" or path in answers or body.get("prompt") == "":
            payload = answers.get(path, b'{"data":[{"id":"bench"}]}')
            if body.get("prompt") == "":  # Ollama's load-only request
                payload = b'{"model":"bench","response":"","done":true,"done_reason":"load"}'
            head = (
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                f"content-length: {len(payload)}\r\n\r\n"
            )
            await stream.send(head.encode() + payload)
            return
        ollama = path == "/api/generate"
        count = body["options"]["num_predict"] if ollama else body["max_tokens"]
        kind = "application/x-ndjson" if ollama else "text/event-stream"
        head = f"HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ntransfer-encoding: chunked\r\n\r\n"
        batch: list[bytes] = [head.encode()]
        for i in range(count):
            if ollama:
                line = b'{"model":"bench","response":" w%d","done":false}\n' % i
            else:
                line = b'data: {"choices":[{"index":0,"text":" w%d","finish_reason":null}]}\n\n' % i
            batch.append(b"%x\r\n%s\r\n" % (len(line), line))
            if i == 0 or len(batch) == 64:  # an instant model: the first token at once
                await stream.send(b"".join(batch))
                batch.clear()
                if i == 0:
                    self.generations.append((read_at, anyio.current_time()))
        last = (
            b'{"model":"bench","response":"","done":true,"eval_count":%d}\n' % count
            if ollama
            else b"data: [DONE]\n\n"
        )
        batch.append(b"%x\r\n%s\r\n0\r\n\r\n" % (len(last), last))
        await stream.send(b"".join(batch))
