"""End to end: the installed command, its output and its exit codes."""

from __future__ import annotations

import subprocess
import sys

import anyio
import anyio.abc
import pytest

from gambiarra.arena.server import Flavor, PracticeArena
from gambiarra.config import OPTIONS
from gambiarra.errors import ExitCode
from tests.e2e.conftest import clean_env, command


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env=clean_env(),
        check=False,
    )


def test_practice_with_the_mock_runner_plays_a_round_and_exits_0() -> None:
    result = run("practice", "--runner", "mock", "--mock-tps", "0")
    assert result.returncode == ExitCode.OK, result.stderr
    assert "a arena registrou de pratica" in result.stdout
    assert "medidos pela arena" in result.stdout
    assert "ensaio concluído: 1 rodada" in result.stdout
    assert "Traceback" not in result.stderr


def test_python_dash_m_does_the_same_as_the_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gambiarra", "--help"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout == run("--help").stdout


def test_help_lists_every_option() -> None:
    shown = run("--help").stdout + "".join(
        run(command, "--help").stdout
        for command in ("agent", "practice", "models", "doctor", "swarm")
    )
    for option in OPTIONS:
        assert option.flag in shown
        assert option.env in shown


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--pin", "1"], ExitCode.USAGE, "--participant-id"),
        (
            ["--pin", "1", "--participant-id", "p", "--nickname", "n", "--runner", "mock",
             "--url", "ws://127.0.0.1:9/ws", "--max-reconnects", "1"],
            ExitCode.ARENA_UNREACHABLE,
            "desisti depois de 2 tentativa(s)",
        ),
        (
            ["--pin", "1", "--participant-id", "p", "--nickname", "n",
             "--ollama-url", "http://127.0.0.1:9"],
            ExitCode.MODEL_UNAVAILABLE,
            "ollama serve",
        ),
    ],
)  # fmt: skip
def test_expected_failures_are_one_line_and_an_exit_code(
    args: list[str], code: int, needle: str
) -> None:
    result = run(*args)
    assert result.returncode == code
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def _original_invocation(arena: PracticeArena, pin: str) -> tuple[int, str, str]:
    args = [
        *command(), "--url", arena.url, "--pin", pin, "--participant-id", "e2e-pc",
        "--nickname", "E2E", "--runner", "mock", "--mock-tps", "0", "--rounds", "1",
    ]  # fmt: skip
    out: list[bytes] = []
    err: list[bytes] = []
    process = await anyio.open_process(args, env=clean_env())
    async with process, anyio.create_task_group() as tg:
        tg.start_soon(_drain, process.stdout, out)
        tg.start_soon(_drain, process.stderr, err)
        if pin == arena.pin:
            await arena.wait_registered("e2e-pc")
            record = await arena.start_round("Diga oi", max_tokens=9, seed=3)
            await record.entry("e2e-pc").done.wait()
        await process.wait()
    return process.returncode or 0, b"".join(out).decode(), b"".join(err).decode()


async def _drain(stream: anyio.abc.ByteReceiveStream | None, sink: list[bytes]) -> None:
    assert stream is not None
    async for chunk in stream:
        sink.append(chunk)


@pytest.mark.anyio
async def test_original_invocation_plays_a_round_against_a_practice_arena() -> None:
    async with PracticeArena(pin="2468") as arena:
        with anyio.fail_after(30):
            code, out, err = await _original_invocation(arena, "2468")
        entry = arena.rounds[0].entry("e2e-pc")
    assert code == ExitCode.OK, err
    assert entry.complete is not None
    assert entry.complete["tokens"] == 9 == len(entry.tokens)
    assert "✓ rodada 1: 9 tokens" in out


@pytest.mark.anyio
@pytest.mark.parametrize("flavor", ["typescript", "python"])
async def test_wrong_pin_exits_3_without_retrying(flavor: Flavor) -> None:
    async with PracticeArena(pin="2468", flavor=flavor) as arena:
        with anyio.fail_after(30):
            code, _, err = await _original_invocation(arena, "0000")
    assert code == ExitCode.REJECTED
    assert "PIN" in err
    assert "Traceback" not in err
    assert arena.registrations == []
    assert arena.register_attempts == 1


def test_practice_world_with_the_mock_plays_pulses_and_prints_the_score() -> None:
    result = run("practice", "--world", "--runner", "mock", "--mock-tps", "0", "--pulses", "6")
    assert result.returncode == ExitCode.OK, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("📡 #") for line in lines) == 6
    assert any(line.startswith("🌍 mundo: 6 pulsos respondidos") for line in lines)
    assert lines[-1].startswith("🏁 placar da arena:")
    assert "6 ações aceitas" in lines[-1]
