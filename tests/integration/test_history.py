"""Every round lands in the local history; `history` reads it back."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

import gambiarra
from gambiarra.adapters.history_store import HistoryStore
from gambiarra.adapters.history_view import history_path
from gambiarra.arena.server import PracticeArena
from gambiarra.cli import run
from gambiarra.history_command import history
from gambiarra.ports import RunnerRequest
from tests.integration.conftest import fast_container, playing, settings_for

pytestmark = pytest.mark.anyio

DRAWING = ['Aqui: <svg viewBox="0 0 4 4">', '<circle r="2"/>', "</svg>", " pronto!"]


async def drawer(request: RunnerRequest) -> AsyncIterator[str]:
    for piece in DRAWING:
        await anyio.lowlevel.checkpoint()
        yield piece


async def test_practice_rounds_are_kept_with_their_figures(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    settings = gambiarra.make_settings(
        "practice", runner="mock", mock_tps="0", rounds="2", history=str(db)
    )
    await gambiarra.practice(settings, prompt="Escreva um haicai")
    rounds = list(HistoryStore(db).all())
    assert [(e.round, e.prompt, e.outcome) for e in rounds] == [
        (1, "Escreva um haicai", "finished"),
        (2, "Escreva um haicai", "finished"),
    ]
    first = rounds[0]
    assert first.answer
    assert first.tokens > 0
    assert first.first_token_ms is not None
    assert (first.model, first.runner) == ("mock", "mock")
    assert first.arena_url.startswith("ws://127.0.0.1:")
    assert first.arena_chars == len(first.answer)  # the arena's record, checked after complete
    assert first.arena_exact is True
    assert first.session_id is not None


async def test_an_svg_round_keeps_its_drawing(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    async with PracticeArena(pin="4321") as arena:
        settings = settings_for(arena, rounds=1, history=str(db), no_history=False)
        container = fast_container(settings)
        container.runner.override(gambiarra_runner(drawer))  # type: ignore[arg-type]
        async with playing(settings, container):
            with anyio.fail_after(10):
                await arena.wait_registered("ana-pc")
                record = await arena.start_round("Desenhe um círculo", svg_mode=True)
                await record.entry("ana-pc").done.wait()
    (kept,) = HistoryStore(db).all()
    assert kept.svg == '<svg viewBox="0 0 4 4"><circle r="2"/></svg>'
    assert kept.answer.startswith("".join(DRAWING[:3]))


def gambiarra_runner(function: object) -> object:
    from dependency_injector import providers

    from gambiarra.adapters.plugins import PluginRunner

    return providers.Object(PluginRunner("desenho", function, model="d"))  # type: ignore[arg-type]


async def test_no_history_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    settings = gambiarra.make_settings(
        "practice", runner="mock", mock_tps="0", history=str(db), no_history="sim"
    )
    await gambiarra.practice(settings)
    assert not db.exists()
    assert history_path(None, disabled=True) is None


def test_the_default_history_lives_in_the_users_data_directory(tmp_path: Path) -> None:
    path = history_path(None, disabled=False)
    assert path is not None
    assert path.name == "history.db"
    assert "gambiarra-client" in path.parts


def test_the_history_command_lists_shows_searches_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "h.db"
    for prompt in ("Escreva um haicai", "Conte uma piada"):
        settings = gambiarra.make_settings("practice", runner="mock", mock_tps="0", history=str(db))
        anyio.run(lambda: gambiarra.practice(settings, prompt=prompt))  # noqa: B023
    monkeypatch.chdir(tmp_path)
    env = {"GAMBIARRA_HISTORY": str(db)}
    assert run(["history"], env) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["nº", "quando", "arena", "rodada", "modelo", "tokens", "1º",
                                "token", "tokens/s"]  # fmt: skip
    assert [line.split()[0] for line in table[1:]] == ["2", "1"]  # newest first
    assert run(["history", "search", "piada"], env) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["2"]
    assert run(["history", "show", "1"], env) == 0
    shown = capsys.readouterr().out
    assert "desafio: Escreva um haicai" in shown
    (first,) = [e for e in HistoryStore(db).all() if e.id == 1]
    assert first.answer in shown
    assert run(["history", "export", "--json"], env) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [e["prompt"] for e in exported] == ["Escreva um haicai", "Conte uma piada"]
    assert run(["history", "export", "--csv"], env) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("played_at,arena_url,round,prompt")
    assert run(["history", "show", "9"], env) == 2
    assert "não há a rodada nº 9" in capsys.readouterr().err
    assert run(["history", "apague"], env) == 2
    assert "ação desconhecida" in capsys.readouterr().err


def test_show_writes_the_drawing_of_an_svg_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gambiarra.adapters.history_store import HistoryEntry

    db = tmp_path / "h.db"
    store = HistoryStore(db)
    store.add(
        HistoryEntry(
            played_at="2026-11-26T01:00:00+00:00", arena_url="ws://a:1/ws", round=1,
            prompt="Desenhe", answer="<svg><rect/></svg>", outcome="finished", model="m",
            runner="r", svg="<svg><rect/></svg>",
        )
    )  # fmt: skip
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    history(gambiarra.make_settings("history", history=str(db)), ["show", "1"], out)
    assert "🎨 desenho salvo em rodada-1.svg" in out.getvalue()
    assert (tmp_path / "rodada-1.svg").read_text() == (
        '<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'
    )


def test_show_saves_a_sanitised_drawing_and_never_replaces_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drawing is model output: opened from disk it must not run script."""
    from gambiarra.adapters.history_store import HistoryEntry

    db = tmp_path / "h.db"
    hostile = '<svg onload="alert(1)"><script>alert(2)</script><rect width="3"/></svg>'
    HistoryStore(db).add(
        HistoryEntry(
            played_at="2026-11-26T01:00:00+00:00", arena_url="ws://a:1/ws", round=1,
            prompt="Desenhe", answer=hostile, outcome="finished", model="m", runner="r",
            svg=hostile,
        )
    )  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rodada-1.svg").write_text("meu arquivo")
    out = io.StringIO()
    history(gambiarra.make_settings("history", history=str(db)), ["show", "1"], out)
    assert "🎨 desenho salvo em rodada-1-2.svg" in out.getvalue()
    assert (tmp_path / "rodada-1.svg").read_text() == "meu arquivo"
    saved = (tmp_path / "rodada-1-2.svg").read_text()
    assert "<rect" in saved
    assert "script" not in saved
    assert "onload" not in saved


def test_show_refuses_a_number_that_is_not_ascii(tmp_path: Path) -> None:
    from gambiarra.errors import ConfigError

    db = tmp_path / "h.db"
    HistoryStore(db).close()
    with pytest.raises(ConfigError, match="não é o número"):
        history(gambiarra.make_settings("history", history=str(db)), ["show", "²"], io.StringIO())
