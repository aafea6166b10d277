"""``gambiarra-client history``: the rounds kept in the local history.

    history                  a table of recent rounds
    history show N           one answer whole (and its drawing written to N.svg)
    history search TEXT      rounds whose prompt or answer contains TEXT
    history export           every round, as JSON (--json) or CSV (--csv)

Output follows the rest of the client: plain lines when piped, ``--json`` for
programs. Text from the model is untrusted: it is cleaned before a terminal
sees it (an export keeps it exact, for programs).
"""

from __future__ import annotations

import csv
import datetime
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from gambiarra.adapters.console import clean
from gambiarra.adapters.history_store import HistoryEntry, HistoryStore
from gambiarra.adapters.history_view import history_path
from gambiarra.config import Settings
from gambiarra.domain.svg_sanitize import sanitize_svg
from gambiarra.errors import ConfigError

__all__ = ["ACTIONS", "history"]

ACTIONS = ("show", "search", "export")
_OUTCOMES = {
    "finished": "ok",
    "deadline": "prazo",
    "superseded": "encerrada",
    "failed": "falhou",
    "undelivered": "cortada",
}


def history(
    settings: Settings, words: Sequence[str], out: TextIO, *, csv_out: bool = False
) -> None:
    """Run one ``history`` action and print its result.

    Raises:
        ConfigError: a wrong action or argument, or the history is turned off.
    """
    path = history_path(settings.history, disabled=False)
    assert path is not None
    action, rest = (words[0], list(words[1:])) if words else ("list", [])
    if not path.exists():
        out.write(f"ainda não há rodadas no histórico ({path})\n")
        return
    store = HistoryStore(path)
    try:
        if action == "list":
            _table(store.recent(20), out, settings.json)
        elif action == "search":
            _table(store.search(_one(rest, "history search TEXTO")), out, settings.json)
        elif action == "show":
            _show(store, _number(rest), out, settings.json)
        elif action == "export":
            _export(list(store.all()), out, csv_out)
    finally:
        store.close()


def _one(rest: list[str], usage: str) -> str:
    if len(rest) != 1 or not rest[0].strip():
        raise ConfigError(f"use: gambiarra-client {usage}")
    return rest[0]


def _number(rest: list[str]) -> int:
    text = _one(rest, "history show N")
    if not (text.isascii() and text.isdigit()):
        raise ConfigError(f"history show: {text!r} não é o número de uma rodada do histórico")
    return int(text)


def _when(played_at: str) -> str:
    try:
        moment = datetime.datetime.fromisoformat(played_at).astimezone()
    except ValueError:
        return played_at
    return moment.strftime("%d/%m %H:%M")


def _arena(url: str) -> str:
    return urlsplit(url).netloc or url


def _table(entries: list[HistoryEntry], out: TextIO, as_json: bool) -> None:
    if as_json:
        out.write(json.dumps([asdict(e) for e in entries], ensure_ascii=False) + "\n")
        return
    if not entries:
        out.write("nenhuma rodada encontrada\n")
        return
    rows = [("nº", "quando", "arena", "rodada", "modelo", "tokens", "1º token", "tokens/s", "")]
    for e in entries:
        first = "—" if e.first_token_ms is None else f"{e.first_token_ms} ms"
        rows.append((
            str(e.id), _when(e.played_at), _arena(e.arena_url), str(e.round), clean(e.model),
            str(e.tokens), first, f"{e.tokens_per_second:.1f}", _OUTCOMES.get(e.outcome, e.outcome),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.write("  ".join(cells).rstrip() + "\n")


def _show(store: HistoryStore, entry_id: int, out: TextIO, as_json: bool) -> None:
    entry = store.get(entry_id)
    if entry is None:
        raise ConfigError(
            f"não há a rodada nº {entry_id} no histórico (veja gambiarra-client history)"
        )
    if as_json:
        out.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
        return
    first = "—" if entry.first_token_ms is None else f"{entry.first_token_ms} ms"
    out.write(
        f"nº {entry.id} · {_when(entry.played_at)} · {_arena(entry.arena_url)} · rodada "
        f"{entry.round} · {clean(entry.model)} ({entry.runner})\n"
        f"desafio: {clean(entry.prompt)}\n"
        f"{entry.tokens} tokens · 1º token em {first} · {entry.tokens_per_second:.1f} tokens/s · "
        f"{_OUTCOMES.get(entry.outcome, entry.outcome)}\n"
    )
    if entry.reasoning:
        out.write(f"💭 {clean(entry.reasoning)}\n")
    out.write(clean(entry.answer).rstrip("\n") + "\n")
    drawing = sanitize_svg(entry.svg) if entry.svg else ""
    if drawing:  # model output: opened from disk, an SVG could run script
        saved = _free_name(f"rodada-{entry.id}")
        saved.write_text(drawing, encoding="utf-8")
        out.write(f"🎨 desenho salvo em {saved}\n")


def _free_name(stem: str) -> Path:
    """``stem.svg``, or ``stem-2.svg``... : a file already there is never replaced."""
    for n in range(1, 1000):
        candidate = Path(f"{stem}.svg" if n == 1 else f"{stem}-{n}.svg")
        try:
            candidate.touch(exist_ok=False)
        except FileExistsError:
            continue
        return candidate
    raise ConfigError(f"há arquivos {stem}-*.svg demais nesta pasta; rode em outra")


def _export(entries: list[HistoryEntry], out: TextIO, csv_out: bool) -> None:
    rows = [asdict(e) for e in entries]
    if not csv_out:
        out.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    columns = list(rows[0]) if rows else list(HistoryEntry.__dataclass_fields__)
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
