"""The local history database: rounds in, rounds out, schema migrated forward."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from gambiarra.adapters.history_store import (
    SCHEMA_VERSION,
    HistoryEntry,
    HistoryStore,
    public_url,
)
from gambiarra.errors import ConfigError


def entry(**overrides: object) -> HistoryEntry:
    base = HistoryEntry(
        played_at="2026-11-26T01:00:00+00:00",
        arena_url="ws://10.0.0.5:3000/ws",
        round=1,
        prompt="Escreva um haicai",
        answer="Fita crepe e fé",
        outcome="finished",
        model="llama3.1:8b",
        runner="ollama",
        tokens=4,
        first_token_ms=120,
        duration_ms=900,
        tokens_per_second=4.4,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_a_round_comes_back_as_it_went_in(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db")
    stored = entry(reasoning="pensando", arena_chars=15, arena_exact=True, svg="<svg/>")
    new_id = store.add(stored)
    assert store.get(new_id) == replace(stored, id=new_id)


def test_recent_is_newest_first_and_search_finds_prompt_or_answer(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db")
    for n, (prompt, answer) in enumerate(
        [("haicai", "fita"), ("desenhe um gato", "<svg>gato</svg>"), ("100% gambiarra", "x")]
    ):
        store.add(entry(round=n + 1, prompt=prompt, answer=answer))
    assert [e.round for e in store.recent(2)] == [3, 2]
    assert [e.round for e in store.search("GATO")] == [2]
    assert [e.round for e in store.search("100%")] == [3]  # % is text, not a wildcard
    assert [e.round for e in store.search("_")] == []


def test_no_secret_rides_along_in_the_url(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db")
    store.add(entry(arena_url="wss://user:123456@arena.lan:3000/ws?pin=123456#x"))
    (kept,) = store.all()
    assert kept.arena_url == "wss://arena.lan:3000/ws"
    assert b"123456" not in (tmp_path / "h.db").read_bytes()
    assert public_url("ws://[::1]:3000/ws") == "ws://[::1]:3000/ws"


def test_a_version_1_database_is_migrated_forward_keeping_its_rounds(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    from gambiarra.adapters import history_store

    with sqlite3.connect(path) as old:
        old.executescript(history_store._MIGRATIONS[0] + "PRAGMA user_version = 1;")
        old.execute(
            "INSERT INTO rounds (played_at, arena_url, round, prompt, answer, outcome, model, "
            "runner) VALUES ('2025-01-01', 'ws://a/ws', 7, 'p', 'r', 'finished', 'm', 'ollama')"
        )
    store = HistoryStore(path)
    (kept,) = store.all()
    assert (kept.round, kept.answer, kept.svg, kept.arena_exact) == (7, "r", None, None)
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION


def test_a_newer_or_broken_database_is_one_clear_error(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError, match="--no-history"):
        HistoryStore(newer)
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="não pode ser usado"):
        HistoryStore(broken)


def test_a_reader_sees_rounds_while_a_writer_keeps_the_database_open(tmp_path: Path) -> None:
    """WAL: `history` reads while a playing client writes."""
    writer = HistoryStore(tmp_path / "h.db")
    reader = HistoryStore(tmp_path / "h.db")
    writer.add(entry(round=1))
    assert [e.round for e in reader.recent()] == [1]


def test_a_new_history_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The answers are the participant's: other users of the machine can't read them."""
    import os
    import stat

    HistoryStore(tmp_path / "h.db").close()
    if os.name == "posix":
        assert stat.S_IMODE((tmp_path / "h.db").stat().st_mode) == 0o600
