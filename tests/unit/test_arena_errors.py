"""Arena errors are sorted by what the client must do (protocol.md's table)."""

from __future__ import annotations

import pytest

from gambiarra.domain.arena_errors import ArenaErrorKind, classify
from gambiarra.domain.protocol import ServerError


@pytest.mark.parametrize(
    ("message", "code", "kind"),
    [
        ("Invalid PIN.", None, ArenaErrorKind.PIN_REJECTED),
        ("Invalid PIN", None, ArenaErrorKind.PIN_REJECTED),
        ("invalid pin", None, ArenaErrorKind.PIN_REJECTED),
        ("No active session", None, ArenaErrorKind.NO_SESSION),
        ("Registration failed", None, ArenaErrorKind.REGISTRATION_FAILED),
        ("Invalid message format", None, ArenaErrorKind.CLIENT_BUG),
        ("Register before joining the world", None, ArenaErrorKind.CLIENT_BUG),
        ("anything", "SESSION_ENDED", ArenaErrorKind.SESSION_ENDED),
        ("", "SESSION_ENDED", ArenaErrorKind.SESSION_ENDED),
        ("Something new", None, ArenaErrorKind.OTHER),
    ],
)
def test_classify(message: str, code: str | None, kind: ArenaErrorKind) -> None:
    assert classify(ServerError(message=message, code=code)) is kind
