"""Shared fixtures: the anyio backend and the shared wire samples."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import respx
import respx.mocks

from gambiarra.logs import configure

# The client talks to model servers through aiohttp's transport under httpx
# (adapters/model_transport.py): respx mocks at httpx's client, above any
# transport, so every router (the tests' and the one below) sees those requests.
respx.mocks.DEFAULT_MOCKER = respx.mocks.HTTPXMocker.name

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GAMBIARRA_SHARED", REPO.parent / "shared"))


# Every async test runs inside a cancel scope with this deadline, so a test that
# waits on a socket fails with a TimeoutError instead of hanging (pytest-timeout
# is the outer guard, for synchronous tests too). Tests set tighter ones inside.
ASYNC_TEST_DEADLINE_S = 45.0


def _with_deadline(test: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        with anyio.fail_after(ASYNC_TEST_DEADLINE_S):
            return await test(*args, **kwargs)

    return bounded


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.obj = _with_deadline(item.obj)


@pytest.fixture(autouse=True)
def private_history(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test writes to the user's real history: the data directory is a temporary one.

    (platformdirs follows XDG_DATA_HOME on Linux; child processes inherit it.)
    """
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(autouse=True)
def quiet_logs() -> None:
    """Diagnostics at warning level, as the client runs by default."""
    configure("warning", cache=False)


@pytest.fixture(autouse=True)
def loopback_stays_real() -> Iterator[None]:
    """Model servers are mocked with respx; the arena's HTTP side on loopback is real.

    respx asks every active router in turn, so this one only answers what a
    test's own router does not: requests to 127.0.0.1 go to the real socket.
    """
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        yield


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
