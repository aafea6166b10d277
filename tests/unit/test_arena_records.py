"""What the practice arena records: in-memory buffers, database rows, HTTP shapes."""

from __future__ import annotations

from gambiarra.arena.http_side import current_round, iso_ms, round_responses
from gambiarra.arena.records import Entry, RoundRecord

COMPLETE = {"type": "complete", "tokens": 2}


def test_iso_ms_writes_utc_with_milliseconds_like_javascript() -> None:
    assert iso_ms(1795652961748) == "2026-11-26T00:29:21.748Z"
    assert iso_ms(1795652961007) == "2026-11-26T00:29:21.007Z"
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"


def test_a_token_is_kept_only_at_the_next_seq() -> None:
    entry = Entry("p")
    assert entry.accept(0, "a", 1.0)
    assert not entry.accept(0, "a", 1.1)
    assert not entry.accept(2, "c", 1.2)
    assert entry.accept(1, "b", 1.3)
    assert (entry.tokens, entry.next_seq, entry.dropped) == (["a", "b"], 2, 2)


def test_a_later_complete_overwrites_the_recorded_response() -> None:
    entry = Entry("p")
    entry.accept(0, "a", 1.0)
    entry.record(COMPLETE, "Ana", 2.0)
    entry.accept(1, "b", 2.5)
    entry.record(COMPLETE, "Ana", 3.0)
    assert entry.recorded is not None
    assert (entry.recorded.generated_content, entry.recorded.completed_at) == ("ab", 3.0)
    assert entry.completes == 2


def test_forget_loses_the_buffer_but_not_the_record() -> None:
    record = RoundRecord(1, {"prompt": "oi"}, broadcast_at=0.0)
    entry = record.entry("p")
    entry.accept(0, "a", 0.5)
    entry.record(COMPLETE, "Ana", 1.0)
    entry.forget()
    assert record.live_tokens() == {}
    assert entry.next_seq == 0
    assert entry.recorded is not None
    assert entry.recorded.generated_content == "a"
    assert record.measured("p").duration_ms == 1000


def test_a_complete_with_no_buffer_records_no_content() -> None:
    record = RoundRecord(1, {"prompt": "oi"}, broadcast_at=0.0)
    record.entry("p").record(COMPLETE, "Ana", 1.0)
    _, body = round_responses(record)
    assert body["responses"] == [{"participant_id": "p", "nickname": "Ana",
                                  "generated_content": None}]  # fmt: skip


def test_live_tokens_list_only_participants_with_a_buffer() -> None:
    record = RoundRecord(1, {"prompt": "oi", "max_tokens": 40}, broadcast_at=0.0, session_id="s")
    record.entry("quiet")
    record.entry("dropped-all").accept(3, "x", 0.1)
    record.entry("talker").accept(0, "Olá", 0.1)
    status, body = current_round("s", record)
    assert status == 200
    assert body["liveTokens"] == {"dropped-all": [], "talker": ["Olá"]}
    assert body["maxTokens"] == 40
    assert body["deadlineMs"] is None  # not given to the challenge
    assert current_round("s", None) == (404, {"error": "No active round"})
    assert current_round(None, None) == (404, {"error": "No active session"})
