"""--keep-alive, --no-warm and --no-device-info: parsed, checked, and wired to the runners."""

from __future__ import annotations

import pytest

from gambiarra.cli import parse
from gambiarra.containers import keep_alive_seconds, model_info
from gambiarra.errors import ConfigError

REQUIRED = ["--pin", "1", "--participant-id", "ana-pc", "--nickname", "Ana"]


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1h30m", 5400.0), ("1.5h", 5400.0)],
)
def test_keep_alive_takes_a_duration(given: str, seconds: float) -> None:
    assert parse([*REQUIRED, "--keep-alive", given], {}).settings.keep_alive == seconds


@pytest.mark.parametrize("given", ["0", "-1", "10x", "m", "dez minutos"])
def test_a_keep_alive_that_is_no_duration_is_a_usage_error(given: str) -> None:
    with pytest.raises(ConfigError, match="--keep-alive"):
        parse([*REQUIRED, f"--keep-alive={given}"], {})


def test_the_switches_come_from_flags_and_environment() -> None:
    settings = parse([*REQUIRED, "--no-warm"], {"GAMBIARRA_NO_DEVICE_INFO": "sim"}).settings
    assert (settings.no_warm, settings.no_device_info) == (True, True)
    defaults = parse(REQUIRED, {}).settings
    assert (defaults.keep_alive, defaults.no_warm, defaults.no_device_info) == (None, False, False)


@pytest.mark.parametrize("command", ["agent", "practice", "doctor"])
def test_the_commands_that_load_a_model_take_the_options(command: str) -> None:
    arena = REQUIRED if command == "agent" else []
    settings = parse([command, *arena, "--keep-alive", "5m", "--no-device-info"], {}).settings
    assert (settings.keep_alive, settings.no_device_info) == (300.0, True)


@pytest.mark.parametrize(
    ("keep_alive", "no_warm", "sent"),
    [(None, False, -1.0), (600.0, False, 600.0), (None, True, None), (600.0, True, None)],
)
def test_what_the_runners_get(keep_alive: float | None, no_warm: bool, sent: float | None) -> None:
    """By default for as long as the client runs; with --no-warm the server decides."""
    assert keep_alive_seconds(keep_alive, no_warm) == sent


def test_device_is_omitted_not_null_when_there_is_none() -> None:
    from gambiarra.domain.protocol import Complete, encode_client

    def wire(device: str | None) -> bytes:
        info = model_info("m", "ollama", device)
        return encode_client(Complete(round=1, participant_id="p", tokens=0, duration_ms=1,
                                      model_info=info))  # fmt: skip

    assert b'"device"' not in wire(None)
    assert b'"device":"Linux x86_64"' in wire("Linux x86_64")
