"""On the real subprocess: plain lines in a pipe, a live status line on a terminal,
JSON lines with --json; a stdout nobody reads or that closes early never costs the
arena a token, and Ctrl-C gives the terminal back."""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import termios
from collections.abc import Iterator
from typing import Any

import anyio
import msgspec
import pytest

from gambiarra.arena.server import PracticeArena
from gambiarra.events import SessionEvent
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
    # --rounds 1 exits only after the arena's record of the answer was checked
    assert "✓ a arena registrou a rodada 1 (" in text


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
                    data = await anyio.to_thread.run_sync(
                        os.read, controller, 65536, abandon_on_cancel=True
                    )
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
    lines = out.decode().splitlines()
    events = [json.loads(line) for line in lines]
    kinds = [e["event"] for e in events]
    assert kinds[:3] == ["checking_model", "connecting", "connected"]
    assert kinds.index("round_started") < kinds.index("tokens") < kinds.index("round_ended")
    text = "".join(e["text"] for e in events if e["event"] == "tokens")
    assert len(text.split()) == 40
    ended = events[kinds.index("round_ended")]
    assert (ended["outcome"], ended["tokens"]) == ("finished", 40)
    assert events[-1] == {"event": "session_ended", "exit_code": 0, "error": None}
    # Each line is a typed event a reader decodes back (gambiarra.SessionEvent).
    assert [type(msgspec.json.decode(line, type=SessionEvent)).__name__ for line in lines[:3]] == [
        "CheckingModel", "Connecting", "Connected",
    ]  # fmt: skip


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


@contextlib.contextmanager
def running(argv: list[str], **options: Any) -> Iterator[subprocess.Popen[bytes]]:
    """The client in a child process, killed if a failing test leaves it blocked."""
    process = subprocess.Popen(argv, **options)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def full_pipe() -> tuple[int, int]:
    """A pipe whose buffer is already full, as under `| less` never scrolled:
    the child's first write to it blocks until the test reads."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    for chunk in (b"." * 4096, b"."):
        with contextlib.suppress(BlockingIOError):
            while True:
                os.write(write_end, chunk)
    os.set_blocking(write_end, True)
    return read_end, write_end


def unread_bytes(fd: int) -> int:
    held = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, held)
    return held[0]


def read_to_end(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


async def test_a_stdout_nobody_reads_does_not_hold_the_arena_back() -> None:
    read_end, write_end = full_pipe()
    capacity = unread_bytes(read_end)
    async with PracticeArena(pin="1") as arena:
        with running(
            args(arena, "--mock-tps", "0"), stdout=write_end, stderr=subprocess.PIPE,
            env=clean_env(GAMBIARRA_PIN="1"),
        ) as process:  # fmt: skip
            os.close(write_end)
            with anyio.fail_after(20):
                await arena.wait_registered("tela")
                record = await arena.start_round("Conte até cinco", max_tokens=40)
                entry = record.entry("tela")
                await entry.done.wait()
            assert unread_bytes(read_end) == capacity  # the screen could not draw one byte
            with anyio.fail_after(20):
                out = await anyio.to_thread.run_sync(read_to_end, read_end)  # now someone reads
                await anyio.to_thread.run_sync(process.wait, abandon_on_cancel=True)
    os.close(read_end)
    assert len(entry.tokens) == 40
    assert entry.complete is not None
    assert entry.complete["tokens"] == 40
    assert entry.dropped == 0
    assert process.returncode == 0
    assert "✓ rodada 1: 40 tokens" in out.decode()  # and the screen caught up before exiting


async def test_a_stdout_closed_early_ends_quietly_and_the_arena_gets_everything() -> None:
    read_end, write_end = os.pipe()
    async with PracticeArena(pin="1") as arena:
        with running(
            args(arena), stdout=write_end, stderr=subprocess.PIPE,
            env=clean_env(GAMBIARRA_PIN="1"),
        ) as process:  # fmt: skip
            os.close(write_end)
            with anyio.fail_after(20):
                await arena.wait_registered("tela")
                head = b""
                while len(head) < 50:  # `| head -c 50`
                    head += await anyio.to_thread.run_sync(
                        os.read, read_end, 50 - len(head), abandon_on_cancel=True
                    )
                os.close(read_end)
                record = await arena.start_round("Conte até cinco", max_tokens=40)
                entry = record.entry("tela")
                await entry.done.wait()
                await anyio.to_thread.run_sync(process.wait, abandon_on_cancel=True)
            err = process.communicate()[1].decode()
    assert process.returncode == 0
    assert "Traceback" not in err
    assert "Exception ignored" not in err
    assert err.count("screen_lost") == 1
    assert len(entry.tokens) == 40
    assert entry.complete is not None
    assert entry.complete["tokens"] == 40


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_ctrl_c_or_sigterm_mid_round_gives_the_terminal_back(signum: int, code: int) -> None:
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    fenced = b"\x1b[1;23r"
    screen = bytearray()
    drawn = anyio.Event()

    async def read_terminal() -> None:
        while True:
            try:
                data = await anyio.to_thread.run_sync(
                    os.read, controller, 65536, abandon_on_cancel=True
                )
            except OSError:
                return  # the child closed the terminal
            if not data:
                return
            screen.extend(data)
            if fenced in screen:
                drawn.set()

    async with PracticeArena(pin="1") as arena:
        with running(
            args(arena, "--mock-tps", "1"), stdout=terminal, stderr=subprocess.PIPE,
            env=clean_env(GAMBIARRA_PIN="1", TERM="xterm"),
        ) as process:  # fmt: skip
            os.close(terminal)
            with anyio.fail_after(20):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(read_terminal)
                    await arena.wait_registered("tela")
                    record = await arena.start_round("Conte até cinco", max_tokens=40)
                    await drawn.wait()  # the bottom row is fenced off: the round is on screen
                    process.send_signal(signum)  # Ctrl-C, or the system stopping us
                    await anyio.to_thread.run_sync(process.wait, abandon_on_cancel=True)
            err = process.communicate()[1].decode()
    os.close(controller)
    assert process.returncode == code
    assert record.entry("tela").complete is None  # it was mid-round (24+ tokens at 1/s)
    assert screen.rindex(b"\x1b[r") > screen.rindex(fenced)  # the scrolling region released
    assert "Traceback" not in err


def test_practice_piped_into_head_ends_quietly() -> None:
    """`practice | head -2`: the reader goes away; the rehearsal ends 0 with no traceback."""
    argv = [*command(), "practice", "--runner", "mock", "--mock-tps", "0", "--rounds", "2"]
    with running(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env()) as p:
        assert p.stdout is not None
        assert p.stderr is not None
        first_two = [p.stdout.readline(), p.stdout.readline()]
        p.stdout.close()  # what `head -2` does after its second line
        code = p.wait(timeout=30)
        stderr = p.stderr.read().decode()
    assert first_two[0].startswith("🏟".encode())
    assert code == 0
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    assert stderr.count("screen_lost") == 1


def test_history_piped_into_head_ends_quietly(tmp_path: Any) -> None:
    """`history | head -1`: the reader goes away; exit 0, no traceback."""
    from gambiarra.adapters.history_store import HistoryEntry, HistoryStore

    db = tmp_path / "h.db"
    store = HistoryStore(db)
    for n in range(3000):  # more than a pipe holds
        store.add(
            HistoryEntry(
                played_at="2026-11-26T01:00:00+00:00", arena_url="ws://a:1/ws", round=n,
                prompt="p", answer="r" * 50, outcome="finished", model="m", runner="mock",
            )
        )  # fmt: skip
    store.close()
    argv = [*command(), "history", "export", "--csv"]
    env = clean_env(GAMBIARRA_HISTORY=str(db))
    with running(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as p:
        assert p.stdout is not None
        assert p.stderr is not None
        first = p.stdout.readline()
        p.stdout.close()
        code = p.wait(timeout=30)
        stderr = p.stderr.read().decode()
    assert first.startswith(b"played_at,")
    assert code == 0
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
