"""What an ``error`` from the arena means for the client (protocol.md's table).

The two servers word their messages differently ("Invalid PIN." and
"Invalid PIN"), so messages are compared without case and final period.
"""

from __future__ import annotations

import enum

from gambiarra.domain.protocol import ServerError

__all__ = ["ArenaErrorKind", "classify"]


class ArenaErrorKind(enum.Enum):
    PIN_REJECTED = "pin_rejected"  # stop, tell the user, never retry
    NO_SESSION = "no_session"  # the organiser has not opened it yet: retry
    REGISTRATION_FAILED = "registration_failed"  # server-side failure: retry
    SESSION_ENDED = "session_ended"  # a new session replaced ours: reconnect
    CLIENT_BUG = "client_bug"  # the arena rejected something we sent
    OTHER = "other"


_BY_MESSAGE = {
    "invalid pin": ArenaErrorKind.PIN_REJECTED,
    "no active session": ArenaErrorKind.NO_SESSION,
    "registration failed": ArenaErrorKind.REGISTRATION_FAILED,
    "invalid message format": ArenaErrorKind.CLIENT_BUG,
    "register before joining the world": ArenaErrorKind.CLIENT_BUG,
}


def classify(error: ServerError) -> ArenaErrorKind:
    """Sort an arena error into what the client must do about it."""
    if error.code == "SESSION_ENDED":
        return ArenaErrorKind.SESSION_ENDED
    key = error.message.strip().rstrip(".").strip().lower()
    return _BY_MESSAGE.get(key, ArenaErrorKind.OTHER)
