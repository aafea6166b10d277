"""Loading runner plugins, and what PluginRunner makes of what they yield or raise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from gambiarra.adapters.plugins import PluginRunner, RunnerInfo, available_runners, load_runner
from gambiarra.domain.events import GenerationRequest
from gambiarra.errors import RunnerFailed, RunnerUnavailable
from gambiarra.ports import RunnerFunction, RunnerRequest, TokenChunk
from tests import plugin_samples

REQUEST = GenerationRequest(2, "Diga oi", 9, 0.0, seed=4, deadline_at=123.0, system="Curto.")


def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **points: str) -> None:
    """Plugins 'installed' by a dist-info directory on sys.path, as pip leaves them."""
    info = tmp_path / "plugins_de_teste-1.2.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text(
        "Metadata-Version: 2.1\nName: plugins-de-teste\nVersion: 1.2\n", encoding="utf-8"
    )
    lines = "".join(f"{name} = {target}\n" for name, target in points.items())
    info.joinpath("entry_points.txt").write_text(f"[gambiarra.runners]\n{lines}", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_module_function_is_loaded_by_its_path() -> None:
    assert load_runner("tests.plugin_samples:eco") is plugin_samples.eco


def test_an_installed_plugin_is_loaded_and_listed_by_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed(tmp_path, monkeypatch, zeta="tests.plugin_samples:eco", alfa="nada.disso:x")
    assert load_runner("zeta") is plugin_samples.eco
    listed = available_runners()
    assert [r.name for r in listed if r.builtin] == [
        "ollama",
        "lmstudio",
        "llamacpp",
        "openai",
        "mock",
    ]
    mine = [r for r in listed if r.distribution == "plugins-de-teste 1.2"]
    assert mine == [
        RunnerInfo(
            "alfa", builtin=False, target="nada.disso:x", distribution="plugins-de-teste 1.2"
        ),
        RunnerInfo("zeta", False, "tests.plugin_samples:eco", "plugins-de-teste 1.2"),
    ]
    with pytest.raises(RunnerUnavailable, match="não consegui carregar o runner alfa: Module"):
        load_runner("alfa")


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("nada.disso:x", "não consegui carregar o runner nada.disso:x: ModuleNotFoundError"),
        ("tests.plugin_samples:falta", "não consegui carregar o runner tests.plugin_samples:falta"),
        ("tests.plugin_samples:corrotina", "não é uma função geradora assíncrona"),
        ("tests.plugin_samples:NAO_E_FUNCAO", "não é uma função geradora assíncrona"),
        ("ninguem-instalou", "o runner ninguem-instalou não está instalado"),
    ],
)
def test_what_cannot_be_a_runner_is_unavailable_with_one_line(spec: str, said: str) -> None:
    with pytest.raises(RunnerUnavailable) as raised:
        load_runner(spec)
    assert said in str(raised.value)
    assert "\n" not in str(raised.value)


async def pieces(function: RunnerFunction) -> list[TokenChunk]:
    runner = PluginRunner("teste", function, "modelo-x")
    with anyio.fail_after(5):
        return [chunk async for chunk in runner.stream(REQUEST)]


@pytest.mark.anyio
async def test_text_becomes_chunks_and_the_plugin_sees_the_request_with_the_model() -> None:
    asked: list[RunnerRequest] = []

    async def notes(request: RunnerRequest) -> AsyncIterator[str | TokenChunk]:
        asked.append(request)
        yield "oi"
        yield TokenChunk("hm", reasoning=True)

    assert await pieces(notes) == [TokenChunk("oi"), TokenChunk("hm", reasoning=True)]
    assert asked == [
        RunnerRequest(
            round=2, prompt="Diga oi", max_tokens=9, temperature=0.0, model="modelo-x", seed=4,
            system="Curto.", deadline_at=123.0,
        )
    ]  # fmt: skip


@pytest.mark.anyio
async def test_whatever_a_plugin_raises_fails_the_round_with_its_message() -> None:
    with pytest.raises(RunnerFailed, match="o runner teste falhou: ValueError: sem contexto"):
        await pieces(plugin_samples.quebrado)

    def raises_at_once(request: RunnerRequest) -> AsyncIterator[str]:
        raise KeyError("chave")

    with pytest.raises(RunnerFailed, match="o runner teste falhou: KeyError: 'chave'"):
        await pieces(raises_at_once)

    def returns_text(request: RunnerRequest) -> Any:
        return "tudo"

    with pytest.raises(RunnerFailed, match="não devolveu um gerador assíncrono"):
        await pieces(returns_text)


@pytest.mark.anyio
async def test_a_plugin_closed_early_runs_its_cleanup() -> None:
    closed = anyio.Event()

    async def endless(request: RunnerRequest) -> AsyncIterator[str]:
        try:
            while True:
                yield "x"
        finally:
            closed.set()

    stream = PluginRunner("teste", endless, "m").stream(REQUEST)
    with anyio.fail_after(5):
        assert await anext(stream) == TokenChunk("x")
        await stream.aclose()
        await closed.wait()
