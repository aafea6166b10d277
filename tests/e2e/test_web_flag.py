"""``--web`` on the real command: the page's address is printed, as a line or as a JSON event."""

from __future__ import annotations

import json
import re
import subprocess

import anyio
import pytest

from gambiarra.arena.server import PracticeArena
from tests.e2e.conftest import clean_env, command

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def test_practice_with_web_prints_the_page_address_on_the_arena_screen() -> None:
    done = subprocess.run(
        [*command(), "practice", "--runner", "mock", "--mock-tps", "0", "--web", "--no-history"],
        capture_output=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert re.search(r"^🌐 página ao vivo em http://127\.0\.0\.1:\d+/$", out, re.MULTILINE)
    assert "✓ ensaio concluído" in out


async def test_play_with_web_and_json_says_where_the_page_is() -> None:
    async with PracticeArena(pin="1") as arena:
        who = ["--participant-id", "web", "--nickname", "Web", "--rounds", "1"]
        flags = ["--runner", "mock", "--mock-tps", "0", "--json", "--web", "--no-history"]
        process = subprocess.Popen(  # noqa: ASYNC220 - the child runs on its own
            [*command(), "--url", arena.url, *who, *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(GAMBIARRA_PIN="1"),
        )
        with anyio.fail_after(30):
            await arena.wait_registered("web")
            record = await arena.start_round("Conte até três", max_tokens=5, deadline_ms=30_000)
            await record.entry("web").done.wait()
            await anyio.to_thread.run_sync(process.wait, abandon_on_cancel=True)
        out, err = process.communicate()
    assert process.returncode == 0, err.decode()
    events = [json.loads(line) for line in out.decode().splitlines()]
    [started] = [e for e in events if e["event"] == "web_view_started"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", started["url"])
    assert started["loopback"] is True
