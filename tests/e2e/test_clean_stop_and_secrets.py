"""On the real subprocess: Ctrl-C/SIGTERM stop cleanly and fast; the PIN stays private;
untrusted text cannot drive the terminal."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import anyio.abc
import pytest

from gambiarra.arena.server import PracticeArena
from gambiarra.errors import ExitCode
from tests.e2e.conftest import clean_env, command

pytestmark = pytest.mark.anyio

PIN = "97531"


def client_args(arena: PracticeArena, *extra: str) -> list[str]:
    return [
        *command(), "--url", arena.url, "--pin", PIN, "--participant-id", "e2e-pc",
        "--nickname", "E2E", "--runner", "mock", *extra,
    ]  # fmt: skip


async def drain(stream: anyio.abc.ByteReceiveStream | None, sink: list[bytes]) -> None:
    assert stream is not None
    async for chunk in stream:
        sink.append(chunk)


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGINT, ExitCode.INTERRUPTED), (signal.SIGTERM, ExitCode.TERMINATED)],
)
async def test_signal_mid_generation_exits_fast_with_a_normal_close(
    signum: signal.Signals, code: int
) -> None:
    out: list[bytes] = []
    err: list[bytes] = []
    async with PracticeArena(pin=PIN) as arena:
        process = await anyio.open_process(client_args(arena, "--mock-tps", "20"), env=clean_env())
        async with process, anyio.create_task_group() as tg:
            tg.start_soon(drain, process.stdout, out)
            tg.start_soon(drain, process.stderr, err)
            await arena.wait_registered("e2e-pc")
            record = await arena.start_round("devagar", max_tokens=400)
            entry = record.entry("e2e-pc")
            await arena.wait_for(lambda: len(entry.tokens) >= 3)  # the model is generating
            asked = anyio.current_time()
            process.send_signal(signum)
            with anyio.fail_after(10):
                await process.wait()
            took = anyio.current_time() - asked
        await arena.wait_for(lambda: bool(arena.close_codes))
    print(f"\n[stop] {signum.name}: exit {process.returncode} after {took * 1000:.0f} ms, "
          f"arena saw close code {arena.close_codes}")  # fmt: skip
    assert process.returncode == code
    assert took < 2.0
    assert arena.close_codes == [1000]
    assert entry.completes == 0  # the generation was cancelled, not completed
    assert "Traceback" not in b"".join(err).decode()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
async def test_pin_stays_out_of_the_command_line_and_logs_and_escapes_are_stripped() -> None:
    out: list[bytes] = []
    err: list[bytes] = []
    hostile = "Diga oi\x1b[2J\x1b]0;pwned\x07\x1b[31m"
    async with PracticeArena(pin=PIN) as arena:
        args = client_args(arena, "--mock-tps", "0", "--rounds", "1", "--log-level", "debug")
        process = await anyio.open_process(args, env=clean_env())
        async with process, anyio.create_task_group() as tg:
            tg.start_soon(drain, process.stdout, out)
            tg.start_soon(drain, process.stderr, err)
            await arena.wait_registered("e2e-pc")
            cmdline = await anyio.Path(f"/proc/{process.pid}/cmdline").read_bytes()
            await arena.send_raw(
                "e2e-pc", '{"type":"error","message":"\\u001b[31maviso\\u001b[0m"}'
            )
            record = await arena.start_round(hostile, max_tokens=5)
            await record.entry("e2e-pc").done.wait()
            with anyio.fail_after(10):
                await process.wait()
    stdout, stderr = b"".join(out).decode(), b"".join(err).decode()
    assert process.returncode == ExitCode.OK, stderr
    assert PIN.encode() not in cmdline
    assert PIN not in stdout
    assert PIN not in stderr
    assert "generation_started" in stderr  # debug logs were on, and still no PIN
    assert "\x1b" not in stdout
    assert "\x07" not in stdout
    assert "▶ rodada 1: Diga oi" in stdout
    assert "a arena avisou: aviso" in stdout
