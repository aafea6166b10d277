"""Shared fixtures: the anyio backend and the shared wire samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gambiarra.logs import configure

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GAMBIARRA_SHARED", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def quiet_logs() -> None:
    """Diagnostics at warning level, as the client runs by default."""
    configure("warning", cache=False)


@pytest.fixture
def anyio_backend() -> str:
    # websockets' asyncio client and server need the asyncio backend.
    return "asyncio"


def shared_file(*parts: str) -> Path:
    """A file of the read-only shared folder (protocol.md, wire samples)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the tests read the shared protocol and wire samples "
            "from ../shared (or GAMBIARRA_SHARED)"
        )
    return path


def wire(name: str) -> bytes:
    """The byte-exact body of a model server, from shared/wire."""
    return shared_file("wire", name).read_bytes()
