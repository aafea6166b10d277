"""End to end: the installed command, its output and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import anyio.abc
import pytest

import gambiarra
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
    assert "a arena registrou de Você" in result.stdout
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
            "desisti depois de 1 nova(s) tentativa(s) (--max-reconnects 1)",
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


REQUIRED = ("--pin", "1", "--participant-id", "p", "--nickname", "n", "--runner", "mock")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([*REQUIRED, "--url", "ws://127.0.0.1:99999/ws"], "--url: valor inválido"),
        ([*REQUIRED, "--url", "ws://[::1"], "escreva o IPv6 entre colchetes"),
        (["models", "--ollama-url", "http://127.0.0.1:99999"], "a porta deve ser um número"),
        (["agent", "--runner", "mock"], "falta informar --pin (ou GAMBIARRA_PIN)"),
        (["agent", *REQUIRED, "--color", "notacolor"], "use uma cor como #ff5e5e"),
        ([*REQUIRED, "--nickname", "\x1b[2J"], "caractere de controle"),
        ([*REQUIRED, "--temperature", "inf"], "--temperature: valor inválido 'inf'"),
        ([*REQUIRED, "--max-tokens", "1e23"], "--max-tokens: valor inválido '1e23'"),
        (["--runner", "nope"], "--runner: valor inválido 'nope': use ollama"),
        (["--log-level", "nope"], "escolha inválida: 'nope'"),
        (["--nope"], "argumentos não reconhecidos: --nope"),
    ],
)  # fmt: skip
def test_bad_input_is_one_portuguese_line_and_exit_2(args: list[str], needle: str) -> None:
    result = run(*args)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert needle in result.stderr
    assert result.stdout == ""


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "gambiarra.toml"
    config.write_bytes(b'pin = "1"\nnickname = "Jos\xe9"\n')
    result = run("--config", str(config))
    assert result.returncode == ExitCode.USAGE
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"gambiarra-client: {config}: o arquivo não está em UTF-8 (linha 2); salve-o como UTF-8 "
        "(veja gambiarra-client --help)"
    ]


def test_version_prints_name_and_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"gambiarra-client {gambiarra.__version__}\n"


def test_help_and_parsing_load_no_network_library() -> None:
    """--help stays fast: checking every option must not pull in the I/O stack."""
    script = (
        "import json, sys\n"
        "from gambiarra.cli import parse, run\n"
        "parse(['agent', '--pin', '1', '--participant-id', 'p', '--nickname', 'n',"
        " '--url', 'ws://[::1]:3000/ws', '--color', '#ff5e5e', '--ollama-url',"
        " 'http://127.0.0.1:11434'], {})\n"
        "run(['--help'], {})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}
    heavy = {"anyio", "asyncio", "httpx", "websockets", "structlog", "msgspec", "ssl"}
    assert not loaded & heavy
    assert "gambiarra.app" not in json.loads(result.stdout.splitlines()[-1])


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
    assert lines[-1].startswith("🏁 placar final da arena:")
    assert "6 ações aceitas" in lines[-1]
