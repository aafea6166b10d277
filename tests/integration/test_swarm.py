"""The swarm's counting and reporting, against the practice arena."""

from __future__ import annotations

import io
import json

import anyio
import pytest

from gambiarra.app import swarm
from gambiarra.arena.server import PracticeArena
from gambiarra.config import Settings
from gambiarra.swarm import SwarmStats, parse_tps_range, participant_tps, percentile

pytestmark = pytest.mark.anyio


async def test_swarm_counts_every_participant_and_survives_a_cut_link() -> None:
    out = io.StringIO()
    async with PracticeArena(pin="7") as arena:
        settings = Settings(
            url=arena.url, pin="7", runner="mock", model="mock", count=5, rounds=2,
            tps="200-400", ramp=500, json=True, max_tokens=30,
        )  # fmt: skip
        records = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(swarm, settings, out)
            await arena.wait_for(lambda: len(arena.registrations) == 5)
            for number in range(2):
                record = await arena.start_round("Conte", max_tokens=30, deadline_ms=30_000)
                records.append(record)
                if number == 0:
                    entry = record.entry("swarm-0002")
                    await arena.wait_for(lambda entry=entry: len(entry.tokens) >= 5)
                    arena.drop("swarm-0002")  # one participant's link is cut mid-round
                entries = list(record.entries.values())
                with anyio.fail_after(10):
                    await arena.wait_for(
                        lambda entries=entries: all(e.done.is_set() for e in entries)
                    )
    lines = out.getvalue().splitlines()
    summary = json.loads(lines[-1])["swarm"]
    assert lines[0].split()[:3] == ["rodada", "registrados", "desafios"]
    assert [line.split()[0] for line in lines[1:-1]] == ["1", "2", "total"]
    assert summary["registered"] == 5
    assert (summary["challenges"], summary["completes"], summary["errors"]) == (10, 10, 0)
    assert summary["reconnects"] == 1
    received = sum(len(e.tokens) for r in records for e in r.entries.values())
    claimed = sum(e.complete["tokens"] for r in records for e in r.entries.values() if e.complete)
    assert summary["tokens"] == received == claimed  # nothing lost across the cut
    assert all(e.completes == 1 for r in records for e in r.entries.values())
    assert summary["ttft_ms_p50"] is not None
    assert summary["lag_ms_p99"] is not None


def test_stats_row_per_round_is_printed_when_the_next_round_starts() -> None:
    out = io.StringIO()
    stats = SwarmStats(out)
    stats.tally(1).challenges += 3
    assert out.getvalue() == ""
    stats.tally(2)
    assert out.getvalue().splitlines()[1].split()[:3] == ["1", "0", "3"]


def test_percentiles_and_ranges() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile(list(map(float, range(1, 101))), 0.99) == 99.0
    assert percentile([], 0.5) is None
    assert parse_tps_range("10-60") == (10.0, 60.0)
    assert parse_tps_range("20") == (20.0, 20.0)
    speeds = [participant_tps(i, 10, 60, seed=3) for i in range(50)]
    assert speeds == [participant_tps(i, 10, 60, seed=3) for i in range(50)]  # runs repeat
    assert all(10 <= s <= 60 for s in speeds)
    assert len(set(speeds)) == 50
