"""The wire codec: protocol.md's examples, both server variants, strict encoding."""

from __future__ import annotations

import json
import re

import msgspec
import pytest

from gambiarra.domain.protocol import (
    Challenge,
    ClientMessage,
    Complete,
    ErrorReport,
    Heartbeat,
    ModelInfo,
    Perception,
    Register,
    Registered,
    ServerError,
    Token,
    decode_server,
    encode_client,
)
from gambiarra.errors import ProtocolError
from tests.conftest import shared_file

CLIENT_TYPES = {"register", "token", "complete", "error"}


def protocol_examples() -> tuple[list[str], list[str]]:
    """The JSON lines of protocol.md's round-play sections (world mode is its own issue)."""
    text = shared_file("protocol.md").read_text(encoding="utf-8").split("## World mode")[0]
    client_part, server_part = text.split("## Server → client")
    pick = re.compile(r"```json\n(.*?)```", re.S)
    lines = [
        [line for block in pick.findall(part) for line in block.splitlines() if line.strip()]
        for part in (client_part, server_part)
    ]
    return lines[0], lines[1]


CLIENT_EXAMPLES, SERVER_EXAMPLES = protocol_examples()


def test_protocol_md_has_examples_for_every_message() -> None:
    """The examples cover every client and server message type."""
    assert {json.loads(x)["type"] for x in CLIENT_EXAMPLES} == CLIENT_TYPES
    assert {json.loads(x)["type"] for x in SERVER_EXAMPLES} == {
        "registered",
        "challenge",
        "heartbeat",
        "error",
    }


@pytest.mark.parametrize("example", CLIENT_EXAMPLES)
def test_client_examples_round_trip(example: str) -> None:
    """Every client example decodes into our Structs and encodes back to the same JSON."""
    message = msgspec.json.decode(example, type=ClientMessage)
    assert json.loads(encode_client(message)) == json.loads(example)


@pytest.mark.parametrize("example", SERVER_EXAMPLES)
def test_server_examples_decode_and_keep_every_field(example: str) -> None:
    """Every server example decodes, and nothing in it is lost."""
    message = decode_server(example)
    assert message is not None
    original = json.loads(example)
    decoded = msgspec.to_builtins(message)
    assert original == {k: v for k, v in decoded.items() if k in original}


def test_registered_from_either_server() -> None:
    """TypeScript sends session_id, Python sends participant_id; neither is required."""
    assert decode_server('{"type":"registered","session_id":"s1"}') == Registered(session_id="s1")
    assert decode_server('{"type":"registered","participant_id":"p"}') == Registered(
        participant_id="p"
    )
    assert decode_server('{"type":"registered"}') == Registered()


def test_challenge_from_the_python_server() -> None:
    """Round counted from 0, seed null and no session_id still decode."""
    challenge = decode_server(
        '{"type":"challenge","round":0,"prompt":"p","max_tokens":10,'
        '"temperature":0,"deadline_ms":500,"seed":null}'
    )
    assert challenge == Challenge(
        round=0, prompt="p", max_tokens=10, temperature=0.0, deadline_ms=500, seed=None
    )


def test_challenge_with_only_round_and_prompt() -> None:
    """Missing generation parameters are None, so the client's fallbacks apply."""
    challenge = decode_server('{"type":"challenge","round":3,"prompt":"oi"}')
    assert isinstance(challenge, Challenge)
    assert (challenge.max_tokens, challenge.temperature, challenge.seed) == (None, None, None)


def test_unknown_fields_are_ignored() -> None:
    """Servers evolve; extra fields never break decoding."""
    message = decode_server('{"type":"heartbeat","ts":1,"display":{"x":1},"new":[1,2]}')
    assert message == Heartbeat(ts=1)


def test_unknown_types_decode_to_none() -> None:
    """Display-screen traffic on the same endpoint is ignored, not an error."""
    assert decode_server('{"type":"leaderboard","rows":[]}') is None
    assert decode_server('{"type":"world_state","avatars":[]}') is None


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1,2]",
        '"text"',
        "{}",
        '{"type":7}',
        '{"type":"challenge","round":"1","prompt":"p"}',
        '{"type":"challenge","round":1}',
        '{"type":"error","message":42}',
        b"\xff\xfe",
    ],
)
def test_malformed_frames_raise_protocol_error(frame: str | bytes) -> None:
    """Anything that is not a usable message becomes our own ProtocolError."""
    with pytest.raises(ProtocolError):
        decode_server(frame)


def test_integral_floats_are_taken_as_integers() -> None:
    """A server that writes 10.0 for 10 still gets its round played."""
    challenge = decode_server(
        '{"type":"challenge","round":1.0,"prompt":"p","max_tokens":10.0,'
        '"temperature":1.0,"deadline_ms":30000.0,"seed":7.0}'
    )
    assert challenge == Challenge(
        round=1, prompt="p", max_tokens=10, temperature=1.0, deadline_ms=30000, seed=7
    )
    assert isinstance(challenge, Challenge)
    assert (type(challenge.round), type(challenge.max_tokens)) == (int, int)
    perception = decode_server('{"type":"perception","pulse":7.0,"score":2.0}')
    assert isinstance(perception, Perception)
    assert (perception.pulse, type(perception.pulse), type(perception.score)) == (7, int, int)
    assert decode_server('{"type":"heartbeat","ts":1764090000000.0}') == Heartbeat(ts=1764090000000)


@pytest.mark.parametrize("value", ["10.5", '"10"', "true", "1e300", "1e400", "[10]"])
def test_other_junk_in_an_integer_field_is_still_refused(value: str) -> None:
    """Only integral floats are forgiven: not fractions, strings, booleans or huge numbers."""
    with pytest.raises(ProtocolError):
        decode_server(f'{{"type":"challenge","round":1,"prompt":"p","max_tokens":{value}}}')


def test_server_error_keeps_message_and_code() -> None:
    message = decode_server('{"type":"error","message":"bye","code":"SESSION_ENDED"}')
    assert message == ServerError(message="bye", code="SESSION_ENDED")


def test_complete_without_first_token_omits_the_field_instead_of_null() -> None:
    """zod's .optional() rejects null: the field must be absent."""
    complete = Complete(
        round=1,
        participant_id="p",
        tokens=0,
        duration_ms=10,
        model_info=ModelInfo(name="m", runner="mock"),
    )
    encoded = json.loads(encode_client(complete))
    assert "latency_ms_first_token" not in encoded
    assert "device" not in encoded["model_info"]
    assert b"null" not in encode_client(complete)


def test_encoding_keeps_integers_and_exact_content() -> None:
    """ms stay integers and token content keeps whitespace and UTF-8 as produced."""
    token = Token(round=1, participant_id="p", seq=0, content=" 🎉\n não ")
    assert json.loads(encode_client(token)) == {
        "type": "token",
        "round": 1,
        "participant_id": "p",
        "seq": 0,
        "content": " 🎉\n não ",
    }


def test_error_report_refuses_an_empty_message() -> None:
    """The Python server closes the socket on an empty message."""
    with pytest.raises(ValueError, match="non-empty"):
        ErrorReport(round=1, participant_id="p", code="GENERATION_FAILED", message="  ")


def test_register_repr_hides_the_pin() -> None:
    register = Register(participant_id="p", nickname="n", pin="987654", runner="r", model="m")
    assert "987654" not in repr(register)
    assert json.loads(encode_client(register))["pin"] == "987654"
