"""The Refresher keeps an idle model loaded on servers with no keep-alive setting.

Virtual time: the clock moves only when the refresher sleeps, so every test
is exact and instant.
"""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from gambiarra.adapters.warmup import Refresher
from gambiarra.errors import RunnerFailed

pytestmark = pytest.mark.anyio

EVERY = 240.0


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await anyio.lowlevel.checkpoint()

    async def until(self, condition) -> None:  # type: ignore[no-untyped-def]
        with anyio.fail_after(5):
            while not condition():
                await anyio.lowlevel.checkpoint()


class Server:
    """Records when each touch came; ``hang`` keeps a touch until it is cancelled."""

    def __init__(self, time: VirtualTime, hang: bool = False, fail: bool = False) -> None:
        self.time = time
        self.hang = hang
        self.fail = fail
        self.touched_at: list[float] = []
        self.cancelled = anyio.Event()

    async def touch(self) -> None:
        self.touched_at.append(self.time.now)
        if self.fail:
            raise RunnerFailed("o LM Studio respondeu 500")
        if self.hang:
            try:
                await anyio.sleep_forever()
            finally:
                self.cancelled.set()


def refresher(time: VirtualTime, server: Server, keep_for: float | None = None) -> Refresher:
    return Refresher(server.touch, EVERY, keep_for, clock=time, sleep=time.sleep)


async def test_an_idle_model_is_touched_once_every_interval() -> None:
    time = VirtualTime()
    server = Server(time)
    async with anyio.create_task_group() as tg:
        tg.start_soon(refresher(time, server).run)
        await time.until(lambda: len(server.touched_at) == 3)
        tg.cancel_scope.cancel()
    assert server.touched_at == [EVERY, 2 * EVERY, 3 * EVERY]


async def test_nothing_is_sent_while_a_round_generates() -> None:
    time = VirtualTime()
    server = Server(time)
    keeper = refresher(time, server)
    async with anyio.create_task_group() as tg:
        with keeper.generating():
            tg.start_soon(keeper.run)
            await time.until(lambda: time.now >= 10 * EVERY)
            assert server.touched_at == []
            ended = time.now
        await time.until(lambda: len(server.touched_at) == 1)
        tg.cancel_scope.cancel()
    (touched,) = server.touched_at
    assert ended + EVERY <= touched < ended + 2 * EVERY  # a full interval after the round


async def test_a_round_cancels_a_touch_in_flight() -> None:
    time = VirtualTime()
    server = Server(time, hang=True)
    keeper = refresher(time, server)
    async with anyio.create_task_group() as tg:
        tg.start_soon(keeper.run)
        await time.until(lambda: len(server.touched_at) == 1)
        with keeper.generating():
            with anyio.fail_after(5):
                await server.cancelled.wait()
        tg.cancel_scope.cancel()
    assert keeper.touches == 0  # it never completed


async def test_touching_pauses_once_the_keep_alive_after_the_last_round_is_over() -> None:
    """--keep-alive 14m: touches for 14 minutes after a round, none after, again after the next."""
    time = VirtualTime()
    server = Server(time)
    keeper = refresher(time, server, keep_for=3.5 * EVERY)
    async with anyio.create_task_group() as tg:
        tg.start_soon(keeper.run)
        await time.until(lambda: time.now >= 20 * EVERY)
        assert server.touched_at == [EVERY, 2 * EVERY, 3 * EVERY]
        with keeper.generating():
            round_ended = time.now
        await time.until(lambda: len(server.touched_at) == 4)
        tg.cancel_scope.cancel()
    assert round_ended + EVERY <= server.touched_at[3] < round_ended + 2 * EVERY


async def test_a_failed_touch_does_not_stop_the_next_ones() -> None:
    time = VirtualTime()
    server = Server(time, fail=True)
    async with anyio.create_task_group() as tg:
        tg.start_soon(refresher(time, server).run)
        await time.until(lambda: len(server.touched_at) == 2)
        tg.cancel_scope.cancel()
    assert server.touched_at == [EVERY, 2 * EVERY]
