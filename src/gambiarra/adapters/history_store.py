"""HistoryStore: every round played, kept in a local SQLite database.

Rules of this module:
- stdlib ``sqlite3`` in WAL mode, so ``history`` can read while a client
  writes; one short transaction per round.
- The schema carries its version in ``PRAGMA user_version`` and migrates
  forward, step by step, on open (never backwards: a newer database opened
  by an older client is refused with a clear message).
- Nothing secret is ever stored: the PIN and the API key are not fields, and
  the arena URL is kept without user info or query.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gambiarra.errors import ConfigError

__all__ = ["SCHEMA_VERSION", "HistoryEntry", "HistoryStore", "public_url"]


@dataclass(frozen=True)
class HistoryEntry:
    """One round as the participant played it."""

    played_at: str  # ISO 8601, UTC
    arena_url: str
    round: int
    prompt: str
    answer: str
    outcome: str
    model: str
    runner: str
    session_id: str | None = None
    reasoning: str = ""
    device: str | None = None
    tokens: int = 0
    first_token_ms: int | None = None
    duration_ms: int = 0
    tokens_per_second: float = 0.0
    error: str | None = None
    arena_chars: int | None = None  # what the arena recorded, when it said
    arena_exact: bool | None = None
    svg: str | None = None  # the drawing of an SVG round, closed properly
    id: int | None = None


# Each step takes the schema from version N to N+1; append, never edit.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE rounds (
        id INTEGER PRIMARY KEY,
        played_at TEXT NOT NULL,
        arena_url TEXT NOT NULL,
        session_id TEXT,
        round INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        answer TEXT NOT NULL,
        reasoning TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL,
        model TEXT NOT NULL,
        runner TEXT NOT NULL,
        device TEXT,
        tokens INTEGER NOT NULL DEFAULT 0,
        first_token_ms INTEGER,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        tokens_per_second REAL NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE INDEX rounds_played_at ON rounds (played_at);
    """,
    """
    ALTER TABLE rounds ADD COLUMN arena_chars INTEGER;
    ALTER TABLE rounds ADD COLUMN arena_exact INTEGER;
    ALTER TABLE rounds ADD COLUMN svg TEXT;
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)
_COLUMNS = tuple(f.name for f in fields(HistoryEntry) if f.name != "id")


def public_url(url: str) -> str:
    """The arena URL without user info, query or fragment (no secret ever rides along)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class HistoryStore:
    """The rounds database at ``path`` (created, and migrated, on open).

    Raises:
        ConfigError: the file is not a database this client can use.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.touch(mode=0o600)  # the answers are the participant's, not the machine's
            # One user at a time, but from a worker thread and then the main one
            # (the view writes off the event loop and closes at exit).
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=2000")
            self._migrate()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise ConfigError(
                f"o histórico em {path} não pode ser usado ({exc}): "
                "apague o arquivo ou rode com --no-history"
            ) from None

    def close(self) -> None:
        self._db.close()

    def add(self, entry: HistoryEntry) -> int:
        """Store one round; returns its id."""
        row = asdict(entry)
        row["arena_url"] = public_url(entry.arena_url)
        placeholders = ", ".join(f":{c}" for c in _COLUMNS)
        cursor = self._db.execute(
            f"INSERT INTO rounds ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
            {c: row[c] for c in _COLUMNS},
        )
        return int(cursor.lastrowid or 0)

    def set_arena_record(self, entry_id: int, chars: int, exact: bool) -> None:
        """What the arena recorded of that round's answer (known after the round)."""
        self._db.execute(
            "UPDATE rounds SET arena_chars = ?, arena_exact = ? WHERE id = ?",
            (chars, int(exact), entry_id),
        )

    def recent(self, limit: int = 20) -> list[HistoryEntry]:
        """The latest rounds, newest first."""
        return self._select("ORDER BY id DESC LIMIT ?", (limit,))

    def get(self, entry_id: int) -> HistoryEntry | None:
        found = self._select("WHERE id = ?", (entry_id,))
        return found[0] if found else None

    def search(self, text: str, limit: int = 50) -> list[HistoryEntry]:
        """Rounds whose prompt or answer contains ``text`` (any case), newest first."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self._select(
            "WHERE prompt LIKE ? ESCAPE '\\' OR answer LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ?",
            (pattern, pattern, limit),
        )

    def all(self) -> Iterator[HistoryEntry]:
        """Every round, oldest first (for export)."""
        for row in self._db.execute("SELECT * FROM rounds ORDER BY id"):
            yield _entry(row)

    # ------------------------------------------------------------ schema

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"versão {version} do esquema, mais nova que a deste cliente ({SCHEMA_VERSION})"
            )
        for step in range(version, SCHEMA_VERSION):
            self._db.executescript(
                f"BEGIN; {_MIGRATIONS[step]} PRAGMA user_version = {step + 1}; COMMIT;"
            )

    def _select(self, where: str, args: tuple[object, ...]) -> list[HistoryEntry]:
        return [_entry(row) for row in self._db.execute(f"SELECT * FROM rounds {where}", args)]


def _entry(row: sqlite3.Row) -> HistoryEntry:
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 - sqlite3.Row is no dict
    exact = values.get("arena_exact")
    values["arena_exact"] = None if exact is None else bool(exact)
    return HistoryEntry(**values)
