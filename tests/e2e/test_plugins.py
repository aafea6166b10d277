"""Runner plugins on the real command line: ``--runner pacote.modulo:funcao``, the
installed example plugin (``--runner contexto``), ``gambiarra-client runners``, a
plugin that fails a round, and one that cannot be loaded."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.abc
import pytest

from gambiarra.arena.server import PracticeArena
from gambiarra.errors import ExitCode
from tests.conftest import REPO, wire
from tests.e2e.conftest import clean_env, command
from tests.plugin_samples import expected_echo

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

EXAMPLE = REPO / "examples" / "contexto"
PROMPT = "Conte até cinco"


def install_example(into: Path, entry_points: dict[str, str] | None = None) -> str:
    """Install the example plugin for a child process: its source plus a dist-info
    whose entry points are the example's pyproject's own (``importlib.metadata``
    finds installed plugins through dist-info directories on ``sys.path``).

    Returns the child's ``PYTHONPATH``: the dist-info's folder, the example's
    source, and the checkout (for ``tests.plugin_samples``).
    """
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    points = entry_points or project["entry-points"]["gambiarra.runners"]
    info = into / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    info.joinpath("METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    lines = "".join(f"{name} = {target}\n" for name, target in points.items())
    info.joinpath("entry_points.txt").write_text(f"[gambiarra.runners]\n{lines}", encoding="utf-8")
    return ":".join([str(into), str(EXAMPLE / "src"), str(REPO)])


def run(*args: str, pythonpath: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env=clean_env(PYTHONPATH=pythonpath),
        check=False,
    )


async def play_rounds(
    arena: PracticeArena, argv: list[str], env: dict[str, str], rounds: int = 1
) -> tuple[int, str, str]:
    """The client against ``arena`` for ``rounds`` rounds of PROMPT; (exit code, stdout, stderr)."""
    args = [
        *command(), "--url", arena.url, "--participant-id", "plug", "--nickname", "Plug",
        "--rounds", str(rounds), "--no-device-info", *argv,
    ]  # fmt: skip
    out: list[bytes] = []
    err: list[bytes] = []
    process = await anyio.open_process(args, env={**env, "GAMBIARRA_PIN": arena.pin})
    async with process, anyio.create_task_group() as tg:
        tg.start_soon(drain, process.stdout, out)
        tg.start_soon(drain, process.stderr, err)
        with anyio.fail_after(30):
            await arena.wait_registered("plug")
            for _ in range(rounds):
                record = await arena.start_round(PROMPT, max_tokens=50, seed=5)
                await record.entry("plug").done.wait()
            await process.wait()
    return process.returncode or 0, b"".join(out).decode(), b"".join(err).decode()


async def drain(stream: anyio.abc.ByteReceiveStream | None, sink: list[bytes]) -> None:
    assert stream is not None
    async for chunk in stream:
        sink.append(chunk)


@pytest.mark.anyio
async def test_a_module_function_runner_plays_through_the_cli(tmp_path: Path) -> None:
    env = clean_env(PYTHONPATH=install_example(tmp_path))
    async with PracticeArena(pin="1357") as arena:
        argv = ["--runner", "tests.plugin_samples:eco", "--model", "eco-1"]
        code, out, err = await play_rounds(arena, argv, env)
        entry = arena.rounds[0].entry("plug")
        registered = arena.registrations[0]
    assert code == ExitCode.OK, err
    assert entry.text == expected_echo("eco-1", PROMPT)  # byte for byte
    assert entry.complete is not None
    assert entry.complete["tokens"] == 4  # the name and three words; the thinking stays home
    assert entry.complete["model_info"] == {"name": "eco-1", "runner": "tests.plugin_samples:eco"}
    assert (registered["runner"], registered["model"]) == ("tests.plugin_samples:eco", "eco-1")
    assert "💭 ecoando" in out
    assert "✓ rodada 1: 4 tokens" in out


class FakeOllama(BaseHTTPRequestHandler):
    """Answers ``POST /api/chat`` with the recorded Ollama stream; keeps the bodies."""

    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.bodies.append(json.loads(self.rfile.read(length)))
        body = wire("ollama-chat.ndjson")
        self.send_response(200 if self.path == "/api/chat" else 404)
        self.send_header("content-type", "application/x-ndjson")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


@pytest.fixture
def ollama() -> Iterator[str]:
    """A fake Ollama on loopback, for a child process to reach; yields its URL."""
    FakeOllama.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOllama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.anyio
async def test_the_installed_example_plugin_plays_through_the_cli(
    tmp_path: Path, ollama: str
) -> None:
    env = clean_env(PYTHONPATH=install_example(tmp_path), CONTEXTO_OLLAMA_URL=ollama)
    async with PracticeArena(pin="2468") as arena:
        argv = ["--runner", "contexto", "--model", "llama3.1:8b", "--system", "Seja breve."]
        code, out, err = await play_rounds(arena, argv, env)
        entry = arena.rounds[0].entry("plug")
    assert code == ExitCode.OK, err
    assert entry.text == "Olá, arena!"  # the recorded stream's pieces, byte for byte
    assert entry.tokens == ["Olá", ", arena", "!"]
    assert entry.complete is not None
    assert entry.complete["model_info"] == {"name": "llama3.1:8b", "runner": "contexto"}
    (asked,) = FakeOllama.bodies
    assert asked["model"] == "llama3.1:8b"
    assert asked["options"] == {"num_predict": 50, "temperature": 0.8, "seed": 5}
    system, user = asked["messages"]
    assert system["content"].endswith("\n\nSeja breve.")
    assert user["content"].startswith("Contexto: ")
    assert user["content"].endswith(f"Desafio: {PROMPT}")
    assert "✓ rodada 1: 3 tokens" in out


def test_runners_lists_the_builtin_and_the_installed_ones(tmp_path: Path) -> None:
    result = run("runners", pythonpath=install_example(tmp_path))
    assert result.returncode == ExitCode.OK, result.stderr
    assert result.stdout == (
        "embutidos:\n"
        "  ollama     Ollama (--ollama-url)\n"
        "  lmstudio   LM Studio (--lmstudio-url)\n"
        "  llamacpp   llama-server do llama.cpp (--llamacpp-url)\n"
        "  openai     servidor compatível com OpenAI: vLLM, LocalAI, Jan... (--base-url)\n"
        "  mock       modelo de mentira, determinístico (ensaios e testes)\n"
        "instalados (grupo gambiarra.runners):\n"
        "  contexto   gambiarra_contexto:contexto · gambiarra-contexto 0.1.0\n"
        "ou qualquer função: --runner pacote.modulo:funcao\n"
    )
    listed = json.loads(run("runners", "--json", pythonpath=install_example(tmp_path / "b")).stdout)
    assert listed[-1] == {
        "name": "contexto", "builtin": False, "target": "gambiarra_contexto:contexto",
        "distribution": "gambiarra-contexto 0.1.0",
    }  # fmt: skip


@pytest.mark.anyio
async def test_a_failing_plugin_fails_its_round_and_the_session_goes_on(tmp_path: Path) -> None:
    env = clean_env(PYTHONPATH=install_example(tmp_path))
    async with PracticeArena(pin="1111") as arena:
        argv = ["--runner", "tests.plugin_samples:quebrado"]
        code, out, err = await play_rounds(arena, argv, env, rounds=2)
        entries = [record.entry("plug") for record in arena.rounds]
    assert code == ExitCode.OK, err  # both rounds played: the session survived the first
    message = (
        "o runner tests.plugin_samples:quebrado falhou: ValueError: sem contexto para responder"
    )
    for entry in entries:
        assert entry.tokens == ["meio"]
        assert [e["message"] for e in entry.errors] == [message]
    assert out.count("✗ rodada") == 2
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("runner", "installed", "named"),
    [
        ("nada.disso:runner", None, "nada.disso:runner"),
        ("tests.plugin_samples:nao_existe", None, "tests.plugin_samples:nao_existe"),
        ("tests.plugin_samples:corrotina", None, "tests.plugin_samples:corrotina"),
        ("tests.plugin_samples:NAO_E_FUNCAO", None, "tests.plugin_samples:NAO_E_FUNCAO"),
        ("sumido", {"sumido": "pacote_que_sumiu:runner"}, "sumido"),
    ],
)
def test_a_plugin_that_cannot_be_loaded_ends_with_exit_4_and_one_line(
    tmp_path: Path, runner: str, installed: dict[str, str] | None, named: str
) -> None:
    result = run("practice", "--runner", runner, pythonpath=install_example(tmp_path, installed))
    assert result.returncode == ExitCode.MODEL_UNAVAILABLE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"gambiarra-client: não consegui carregar o runner {named}") or (
        lines[0].startswith(f"gambiarra-client: o runner {named} não é uma função geradora")
    )


def test_a_name_that_is_no_runner_at_all_is_a_usage_error(tmp_path: Path) -> None:
    result = run("practice", "--runner", "contextoo", pythonpath=install_example(tmp_path))
    assert result.returncode == ExitCode.USAGE
    assert "--runner: valor inválido 'contextoo'" in result.stderr
