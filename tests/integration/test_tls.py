"""wss:// with certificate verification on, and --ca-file for an organiser's own CA."""

from __future__ import annotations

import ssl
from pathlib import Path

import anyio
import pytest
import trustme

from gambiarra.app import play
from gambiarra.arena.server import PracticeArena
from gambiarra.containers import build
from gambiarra.errors import ArenaUnreachable
from tests.integration.conftest import fast_container, playing, settings_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


async def test_wss_with_the_organisers_ca_file_plays(ca: trustme.CA, tmp_path: Path) -> None:
    ca_file = tmp_path / "arena-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    async with PracticeArena(pin="4321", ssl_context=server_context(ca)) as arena:
        assert arena.url.startswith("wss://")
        settings = settings_for(arena, rounds=1, ca_file=str(ca_file))
        async with playing(settings, fast_container(settings)):
            await arena.wait_registered("ana-pc")
            record = await arena.start_round("seguro?", max_tokens=4)
            with anyio.fail_after(5):
                await record.entry("ana-pc").done.wait()
    assert record.entry("ana-pc").completes == 1


# On Python 3.10, asyncio leaves the TLS transport of a failed handshake for the
# garbage collector (its ResourceWarning is CPython's, fixed in 3.11's sslproto).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_untrusted_certificate_is_refused_at_once_with_the_fix(ca: trustme.CA) -> None:
    """Verification is on by default; the error names --ca-file and is not retried."""
    async with PracticeArena(pin="4321", ssl_context=server_context(ca)) as arena:
        settings = settings_for(arena)
        with anyio.fail_after(5), pytest.raises(ArenaUnreachable, match="--ca-file"):
            await play(settings, build(settings, view="silent"))
    assert arena.register_attempts == 0
