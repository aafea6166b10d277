"""On the real subprocess: plain lines in a pipe, a live status line on a terminal,
JSON lines with --json."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import termios

import anyio
import pytest

from gambiarra.arena.server import PracticeArena
from tests.e2e.conftest import clean_env, command

pytestmark = pytest.mark.anyio


def args(arena: PracticeArena, *extra: str) -> list[str]:
    return [
        *command(), "--url", arena.url, "--participant-id", "tela", "--nickname", "Tela",
        "--runner", "mock", "--mock-tps", "200", "--rounds", "1", *extra,
    ]  # fmt: skip


async def play_once(arena: PracticeArena, process: subprocess.Popen[bytes]) -> None:
    await arena.wait_registered("tela")
    record = await arena.start_round("Conte até cinco", max_tokens=40, deadline_ms=30_000)
    await record.entry("tela").done.wait()
    with anyio.fail_after(10):
        await anyio.to_thread.run_sync(process.wait, abandon_on_cancel=True)


async def test_in_a_pipe_the_output_is_plain_lines() -> None:
    async with PracticeArena(pin="1") as arena:
        process = subprocess.Popen(  # noqa: ASYNC220 - the child runs on its own
            args(arena),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(GAMBIARRA_PIN="1"),
        )
        await play_once(arena, process)
        out, _ = process.communicate()
    text = out.decode()
    assert process.returncode == 0
    assert "\x1b" not in text
    assert "⏳" not in text
    assert "✓ rodada 1: 40 tokens" in text


async def test_on_a_terminal_a_status_line_is_drawn_and_removed() -> None:
    controller, terminal = pty.openpty()
    # A new pseudo-terminal is 0×0; give it the size of a small real one.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    async with PracticeArena(pin="1") as arena:
        process = subprocess.Popen(  # noqa: ASYNC220 - the child runs on its own
            args(arena),
            stdout=terminal,
            stderr=subprocess.DEVNULL,
            env=clean_env(GAMBIARRA_PIN="1", TERM="xterm"),
        )
        os.close(terminal)
        chunks: list[bytes] = []

        async def read_terminal() -> None:
            while True:
                try:
                    data = await anyio.to_thread.run_sync(os.read, controller, 65536)
                except OSError:
                    return  # the child closed the terminal
                if not data:
                    return
                chunks.append(data)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_terminal)
            await play_once(arena, process)
        os.close(controller)
    screen = b"".join(chunks).decode(errors="replace")
    assert process.returncode == 0
    assert "⏳" in screen  # the live status line
    assert "\x1b[1;" in screen  # the bottom row fenced off the scrolling region
    assert "\x1b7" in screen  # and the status drawn there, cursor saved and restored
    assert "\x1b[r" in screen  # and the terminal given back at the end
    assert "✓ rodada 1: 40 tokens" in screen


async def test_json_mode_prints_one_event_per_line() -> None:
    async with PracticeArena(pin="1") as arena:
        process = subprocess.Popen(  # noqa: ASYNC220 - the child runs on its own
            args(arena, "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=clean_env(GAMBIARRA_PIN="1"),
        )  # fmt: skip
        await play_once(arena, process)
        out, _ = process.communicate()
    events = [json.loads(line) for line in out.decode().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "status"
    assert "connected" in kinds
    assert kinds.index("challenge") < kinds.index("tokens") < kinds.index("complete")
    text = "".join(e["text"] for e in events if e["event"] == "tokens")
    assert len(text.split()) == 40
    assert events[-1]["event"] == "complete"
    assert events[-1]["tokens"] == 40


async def test_the_agent_command_plays_the_world_and_prints_a_summary() -> None:
    async with PracticeArena(pin="1") as arena:
        world = await arena.start_world(hop_seconds=0.01, stay_seconds=0.05)
        args = [
            *command(), "agent", "--url", arena.url, "--participant-id", "ag", "--nickname", "Ag",
            "--runner", "mock", "--mock-tps", "0", "--pulses", "4", "--emoji", "🦊",
        ]  # fmt: skip
        process = await anyio.open_process(args, env=clean_env(GAMBIARRA_PIN="1"))
        async with process:
            with anyio.fail_after(20):
                await process.wait()
            assert process.stdout is not None
            out = b""
            async for chunk in process.stdout:
                out += chunk
    text = out.decode()
    assert process.returncode == 0
    assert text.count("📡 #") == 4
    assert "🌍 mundo: 4 pulsos respondidos" in text
    avatar = world.last_avatar("ag")  # it left the world when the agent quit
    assert avatar is not None
    assert avatar.accepted == 4
    assert avatar.emoji == "🦊"
