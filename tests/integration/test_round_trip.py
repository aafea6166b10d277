"""Whole rounds over a real WebSocket, against the strict practice arena."""

from __future__ import annotations

import anyio
import pytest

from gambiarra.adapters.mock import MockRunner
from gambiarra.arena.server import PracticeArena
from gambiarra.domain.events import GenerationRequest
from tests.integration.conftest import playing, settings_for

pytestmark = pytest.mark.anyio


async def test_mock_round_arrives_whole_at_the_arena(arena: PracticeArena) -> None:
    """Every token reaches the arena in order, and complete counts them."""
    async with playing(settings_for(arena, rounds=1)):
        await arena.wait_registered("ana-pc")
        record = await arena.start_round("Conte uma piada", max_tokens=30, seed=5)
        entry = record.entry("ana-pc")
        with anyio.fail_after(5):
            await entry.done.wait()
    expected = MockRunner().text(GenerationRequest(record.index, "Conte uma piada", 30, 0.8, 5))
    assert entry.tokens == expected
    assert entry.complete is not None
    assert entry.complete["tokens"] == len(expected)
    assert entry.complete["model_info"] == {"name": "mock", "runner": "mock"}
    assert entry.dropped == 0
    assert arena.invalid == []


async def test_two_rounds_on_one_connection_restart_seq_at_zero(arena: PracticeArena) -> None:
    """The arena drops any token whose seq is off, so a full second text proves seq restarted."""
    async with playing(settings_for(arena, rounds=2)):
        await arena.wait_registered("ana-pc")
        entries = []
        for prompt in ("primeira", "segunda"):
            record = await arena.start_round(prompt, max_tokens=12)
            entry = record.entry("ana-pc")
            with anyio.fail_after(5):
                await entry.done.wait()
            entries.append(entry)
    assert [len(e.tokens) for e in entries] == [12, 12]
    assert [e.dropped for e in entries] == [0, 0]
    assert [e.complete["tokens"] for e in entries if e.complete] == [12, 12]
    assert len(arena.registrations) == 1


@pytest.mark.parametrize("flavor", ["typescript", "python"])
async def test_both_server_variants(flavor: str) -> None:
    """Rounds from 1 or from 0, session_id or participant_id, seed absent or null."""
    async with PracticeArena(pin="9", flavor=flavor) as arena:  # type: ignore[arg-type]
        async with playing(settings_for(arena, rounds=1)):
            await arena.wait_registered("ana-pc")
            record = await arena.start_round("x", max_tokens=3, seed=None)
            with anyio.fail_after(5):
                await record.entry("ana-pc").done.wait()
        assert record.index == (1 if flavor == "typescript" else 0)
        assert ("seed" in record.challenge) is (flavor == "python")
        complete = record.entry("ana-pc").complete
        assert complete is not None
        assert complete["round"] == record.index
        assert complete["tokens"] == 3
        assert arena.invalid == []
