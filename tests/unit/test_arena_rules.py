"""The practice arena validates like the strict real server."""

from __future__ import annotations

import json

import pytest

from gambiarra.arena.rules import Invalid, parse_client_frame, utf16_len, utf16_prefix

COMPLETE = (
    '{"type":"complete","round":1,"participant_id":"p","tokens":3,"duration_ms":10,'
    '"model_info":{"name":"m","runner":"r"}%s}'
)


def test_accepts_a_valid_complete() -> None:
    assert parse_client_frame(COMPLETE % ',"latency_ms_first_token":4')["tokens"] == 3


@pytest.mark.parametrize(
    "frame",
    [
        COMPLETE % ',"latency_ms_first_token":null',
        COMPLETE % ',"latency_ms_first_token":4.5',
        COMPLETE.replace('"tokens":3', '"tokens":3.0') % "",
        COMPLETE.replace('"tokens":3', '"tokens":true') % "",
        '{"type":"error","round":1,"participant_id":"p","code":"X","message":""}',
        '{"type":"token","round":1,"participant_id":"p","seq":0}',
        '{"type":"register","participant_id":"p","nickname":"n"}',
        '{"type":"nope"}',
        "[]",
        "oops",
    ],
)
def test_rejects_what_the_real_server_rejects(frame: str) -> None:
    with pytest.raises(Invalid):
        parse_client_frame(frame)


def test_rejects_binary_frames() -> None:
    with pytest.raises(Invalid):
        parse_client_frame(b'{"type":"token"}')


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"world_join","participant_id":"p","emoji":"🦊","color":"#ff5e5e"}',
        '{"type":"agent_action","participant_id":"p","direction":"STAY","pulse":7}',
        '{"type":"agent_action","participant_id":"p","direction":"NE","pulse":7,"say":"oi"}',
        '{"type":"agent_prompt","participant_id":"p","template":"t","is_default":false}',
    ],
)
def test_accepts_world_messages(frame: str) -> None:
    assert parse_client_frame(frame)["participant_id"] == "p"


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"world_join","participant_id":"p","color":"red"}',
        '{"type":"world_join","participant_id":"p","emoji":null}',
        '{"type":"agent_action","participant_id":"p","direction":"UP","pulse":7}',
        '{"type":"agent_action","participant_id":"p","direction":"N","pulse":7.0}',
        '{"type":"agent_action","participant_id":"p","direction":"N","pulse":7,"say":null}',
        '{"type":"agent_prompt","participant_id":"p","template":"","is_default":true}',
        '{"type":"agent_prompt","participant_id":"p","template":"t","is_default":1}',
    ],
)
def test_rejects_bad_world_messages(frame: str) -> None:
    with pytest.raises(Invalid):
        parse_client_frame(frame)


def test_utf16_length_counts_characters_beyond_the_bmp_twice() -> None:
    assert utf16_len("") == 0
    assert utf16_len("açaí") == 4
    assert utf16_len("🦊") == 2
    assert utf16_len("a🦊é") == 4
    assert utf16_len("👨‍👩‍👧") == 8  # three emoji (2 each) joined by two U+200D (1 each)


def agent_prompt(template: str) -> str:
    return json.dumps(
        {"type": "agent_prompt", "participant_id": "p", "template": template, "is_default": False}
    )


@pytest.mark.parametrize("template", ["x", "a" * 4000, "🦊" * 2000, "a" * 3998 + "🦊"])
def test_template_limit_is_4000_utf16_units(template: str) -> None:
    assert parse_client_frame(agent_prompt(template))["template"] == template


@pytest.mark.parametrize("template", ["a" * 4001, "🦊" * 2001, "a" * 3999 + "🦊"])
def test_template_over_4000_utf16_units_is_rejected_though_python_counts_fewer(
    template: str,
) -> None:
    assert len(template) <= 4001
    with pytest.raises(Invalid, match="UTF-16"):
        parse_client_frame(agent_prompt(template))


def test_utf16_prefix_keeps_whole_characters_within_the_limit() -> None:
    assert utf16_prefix("🦊" * 31, 60) == "🦊" * 30
    assert utf16_prefix("a" + "🦊" * 30, 60) == "a" + "🦊" * 29  # half a pair is left out
    assert utf16_prefix("curto", 60) == "curto"
    assert utf16_prefix("a" * 61, 60) == "a" * 60
