"""EventFeed: a program's events queued off the token path, text joined while it waits."""

from __future__ import annotations

import anyio
import pytest

from gambiarra.adapters.feed import EventFeed
from gambiarra.events import Connected, Reasoning, RoundStarted, SessionEnded, SessionEvent, Tokens

pytestmark = pytest.mark.anyio

STARTED = RoundStarted(round=4, prompt="p", max_tokens=9, temperature=0.5)


async def test_text_waiting_for_the_reader_is_joined_and_counted_in_order() -> None:
    feed = EventFeed()
    feed.show(Connected(first=True))
    feed.show(STARTED)
    feed.reasoning("hm")
    feed.reasoning("m")
    feed.token("Era")
    feed.token(" uma", 2)
    feed.show(SessionEnded())
    feed.token("!")  # after the end of the round's text run: a new run
    feed.finish()
    with anyio.fail_after(5):
        read = [event async for event in feed]
    assert read == [
        Connected(first=True),
        STARTED,
        Reasoning(round=4, text="hmm"),
        Tokens(round=4, text="Era uma", count=3),
        SessionEnded(),
        Tokens(round=4, text="!", count=1),
    ]


async def test_a_reader_waiting_wakes_for_each_new_event_and_stops_after_finish() -> None:
    feed = EventFeed()
    read: list[SessionEvent] = []

    async def reader() -> None:
        async for event in feed:
            read.append(event)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.wait_all_tasks_blocked()  # the reader waits on an empty feed
            feed.show(STARTED)
            feed.token("a")
            await anyio.wait_all_tasks_blocked()
            assert read == [STARTED, Tokens(round=4, text="a")]
            feed.token("b")
            feed.finish()
    assert read[-1] == Tokens(round=4, text="b")


async def test_a_listener_is_called_from_the_feeds_own_task_never_inline() -> None:
    heard: list[SessionEvent] = []
    feed = EventFeed(heard.append)
    feed.show(STARTED)
    feed.token("a")
    feed.token("b")
    assert heard == []  # telling the feed costs an append; the listener runs later
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed.run)
            await anyio.wait_all_tasks_blocked()
            assert heard == [STARTED, Tokens(round=4, text="ab", count=2)]
            feed.show(Connected(first=False, resent=2))
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
    assert heard[-1] == Connected(first=False, resent=2)


async def test_close_hands_over_what_is_left_and_later_events_at_once() -> None:
    heard: list[SessionEvent] = []
    feed = EventFeed(heard.append)
    feed.show(STARTED)
    feed.token("Era")
    feed.close()  # the session ended before the feed's task ran again
    assert heard == [STARTED, Tokens(round=4, text="Era")]
    feed.show(SessionEnded(exit_code=3, error="PIN"))
    assert heard[-1] == SessionEnded(exit_code=3, error="PIN")


async def test_a_listener_that_raises_stops_the_feeds_task_with_its_error() -> None:
    def listener(event: SessionEvent) -> None:
        raise LookupError("o painel quebrou")

    feed = EventFeed(listener)
    feed.show(STARTED)
    with anyio.fail_after(5), pytest.raises(LookupError, match="o painel quebrou"):
        await feed.run()
