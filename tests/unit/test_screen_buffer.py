"""BufferedView: a slow or broken screen never holds the arena back."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import AsyncGenerator, Callable

import anyio
import anyio.lowlevel
import pytest
import structlog

from gambiarra.adapters.console import ConsoleView
from gambiarra.adapters.live import LiveView
from gambiarra.adapters.screen_buffer import BufferedView
from gambiarra.domain.events import GenerationRequest
from gambiarra.domain.protocol import Challenge, Complete, ModelInfo, Registered, Token
from gambiarra.domain.round import RoundMachine
from gambiarra.events import Connected, Disconnected, Retrying, RoundStarted
from gambiarra.ports import TokenChunk
from gambiarra.service import ArenaClient
from tests.fakes import FakeTransport, RecordingView, ScriptedRunner

pytestmark = pytest.mark.anyio

STARTED = RoundStarted(round=1, prompt="p", max_tokens=50, temperature=0.5)


class StuckScreen(RecordingView):
    """A terminal that stops reading (Ctrl-S) on its first token until released."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, object]] = []
        self.stuck = threading.Event()
        self.release = threading.Event()
        self._changed = threading.Condition()

    def token(self, text: str, count: int = 1) -> None:
        if not self.stuck.is_set():
            self.stuck.set()
            self.release.wait()
        self._record("token", (text, count))

    def status(self, kind: str, line: str) -> None:
        self._record("status", line)

    def round_started(self, event: RoundStarted) -> None:
        self._record("round_started", event.round)

    def _record(self, kind: str, what: object) -> None:
        with self._changed:
            self.calls.append((kind, what))
            self._changed.notify_all()

    def wait_for(self, condition: Callable[[], bool]) -> None:
        """Block (in a worker thread) until the screen has drawn enough."""
        with self._changed:
            self._changed.wait_for(condition)


async def drawing(
    view: BufferedView, screen: StuckScreen, meanwhile: Callable[[], None], drawn: int
) -> None:
    """Get the screen stuck on a first token, call `meanwhile`, release, await `drawn` calls."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(view.run)
        view.token("a")
        await anyio.to_thread.run_sync(screen.stuck.wait)
        meanwhile()  # plain calls: had any of them blocked, the event loop would hang here
        screen.release.set()
        await anyio.to_thread.run_sync(screen.wait_for, lambda: len(screen.calls) >= drawn)
        tg.cancel_scope.cancel()


async def test_a_stuck_screen_gets_the_text_merged_and_never_blocks_the_caller() -> None:
    screen = StuckScreen()
    view = BufferedView(screen)

    def meanwhile() -> None:
        view.token("b")
        view.show(Disconnected(reason="caiu"))
        for piece in ("c", "d", "e"):
            view.token(piece)

    with anyio.fail_after(5):
        await drawing(view, screen, meanwhile, drawn=4)
    assert screen.calls == [
        ("token", ("a", 1)),
        ("token", ("b", 1)),
        ("status", "⚠ caiu"),
        ("token", ("cde", 3)),  # three pieces, one write, the token count kept
    ]


async def test_tokens_drawn_moments_ago_wait_for_the_next_frame_and_join_it() -> None:
    screen = StuckScreen()
    screen.stuck.set()  # this screen never gets stuck
    view = BufferedView(screen, draw_interval=3600.0)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(view.run)
            view.token("a")  # after a pause: drawn at once
            await anyio.to_thread.run_sync(screen.wait_for, lambda: len(screen.calls) == 1)
            for piece in ("b", "c"):
                view.token(piece)
            await anyio.wait_all_tasks_blocked()  # the drawing task took b and c, or waits
            view.token("d")
            assert screen.calls == [("token", ("a", 1))]  # not one thread hop per chunk
            tg.cancel_scope.cancel()
    view.close()
    assert screen.calls == [("token", ("a", 1)), ("token", ("bcd", 3))]


async def test_a_full_buffer_drops_the_oldest_status_line_never_text() -> None:
    screen = StuckScreen()
    view = BufferedView(screen, limit=2)

    def meanwhile() -> None:
        view.show(STARTED)
        view.show(Retrying(delay_s=1.0, attempt=1, reason="um"))
        view.show(Retrying(delay_s=2.0, attempt=2, reason="dois"))  # full: "um" gives way
        view.token("b")

    with anyio.fail_after(5):
        await drawing(view, screen, meanwhile, drawn=5)
    assert screen.calls[1:] == [
        ("status", "⚠ 1 linha(s) de estado omitida(s): a tela não acompanhou"),
        ("round_started", 1),
        ("status", "⚠ dois; tentando de novo em 2.0 s"),
        ("token", ("b", 1)),
    ]


class GatedRunner(ScriptedRunner):
    """Yields its first piece, then the rest once ``gate`` is set."""

    def __init__(self, *pieces: str) -> None:
        super().__init__(*pieces)
        self.gate = anyio.Event()

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        for index, piece in enumerate(self.pieces):
            if index == 1:
                await self.gate.wait()
            yield piece


async def test_the_arena_gets_the_whole_round_while_the_screen_is_stuck() -> None:
    transport = FakeTransport(Registered(session_id="s"), Challenge(round=1, prompt="oi"))
    screen = StuckScreen()
    runner = GatedRunner("Era", " uma", " vez")
    machine = RoundMachine("ana-pc", ModelInfo(name="fake-1", runner="fake"))
    client = ArenaClient(transport, runner, machine, BufferedView(screen), max_rounds=1)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run)
            await anyio.to_thread.run_sync(screen.stuck.wait)  # stuck drawing "Era"
            runner.gate.set()
            while not any(isinstance(m, Complete) for m in transport.sent):
                await anyio.lowlevel.checkpoint()  # the client's tasks run meanwhile
            assert [m.content for m in transport.sent if isinstance(m, Token)] == [
                "Era", " uma", " vez",
            ]  # fmt: skip
            screen.release.set()
    # Then the screen caught up: the first token, and the two that waited, merged.
    assert [what for kind, what in screen.calls if kind == "token"] == [("Era", 1), (" uma vez", 2)]
    assert screen.closed == 1


class BrokenScreen(RecordingView):
    def token(self, text: str, count: int = 1) -> None:
        super().token(text, count)
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_switches_the_screen_off_with_one_warning() -> None:
    screen = BrokenScreen()
    view = BufferedView(screen)
    with structlog.testing.capture_logs() as logs:
        view.token("a")
        view.token("b")
        view.show(Connected(first=True))
        view.close()  # draws what waited, in this thread: must not raise
        view.show(Disconnected(reason="caiu"))  # after close: drawn at once; the screen is gone
    assert screen.text == ["ab"]
    assert screen.statuses == []
    assert screen.closed == 0  # nothing to restore on a screen that is gone
    assert [e["event"] for e in logs] == ["screen_lost"]
    assert view.lost


def test_a_closed_stdout_is_pointed_at_devnull_so_the_exit_flush_is_quiet() -> None:
    read_end, write_end = os.pipe()
    with open(write_end, "w", encoding="utf-8") as out:
        view = BufferedView(ConsoleView(out), stream=out)
        os.close(read_end)  # `| head -c 50` exited
        view.show(Connected(first=True))
        view.close()
        assert view.lost
        assert os.write(write_end, b"x") == 1  # /dev/null now takes what is left


def test_a_closed_stream_is_a_lost_screen_too() -> None:
    out = io.StringIO()
    view = BufferedView(ConsoleView(out))
    out.close()
    view.show(STARTED)
    view.close()
    assert view.lost


def test_close_draws_what_is_queued_and_releases_the_terminal_once() -> None:
    out = io.StringIO()
    live = LiveView(out, clock=lambda: 5.0, size=lambda: os.terminal_size((80, 24)))
    view = BufferedView(live)
    view.show(STARTED)
    view.token("Era")
    view.close()  # Ctrl-C mid-round: no round_ended ever comes
    text = out.getvalue()
    assert text.rindex("\x1b[r") > text.rindex("\x1b[1;23r")
    assert text.endswith("\n")
    view.close()
    assert out.getvalue() == text


class ArenaFirst(RecordingView):
    """Notes, at each token it is shown, how many tokens the arena link already had."""

    def __init__(self, transport: FakeTransport) -> None:
        super().__init__()
        self.transport = transport
        self.queued_before: list[int] = []

    def token(self, text: str, count: int = 1) -> None:
        self.queued_before.append(sum(isinstance(m, Token) for m in self.transport.sent))


async def test_each_token_is_queued_for_the_arena_before_the_screen_sees_it() -> None:
    transport = FakeTransport(Challenge(round=1, prompt="oi"))
    view = ArenaFirst(transport)
    machine = RoundMachine("ana-pc", ModelInfo(name="fake-1", runner="fake"))
    client = ArenaClient(transport, ScriptedRunner("a", "b", "c"), machine, view, max_rounds=1)
    with anyio.fail_after(5):
        await client.run()
    assert view.queued_before == [1, 2, 3]
    assert view.closed == 1


class Recorder(RecordingView):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, object]] = []

    def token(self, text: str, count: int = 1) -> None:
        self.calls.append(("token", (text, count)))

    def reasoning(self, text: str) -> None:
        self.calls.append(("reasoning", text))

    def show(self, event: object) -> None:
        self.calls.append(("show", type(event).__name__))


def test_answer_text_joins_its_entry_until_a_line_or_reasoning_comes_between() -> None:
    screen = Recorder()
    view = BufferedView(screen)  # never run: everything waits for close()
    for call in (
        lambda: view.token("a"),
        lambda: view.token("b"),
        lambda: view.reasoning("r"),
        lambda: view.token("c"),
        lambda: view.show(Disconnected(reason="caiu")),
        lambda: view.token("d"),
        lambda: view.token("e", 2),
    ):
        call()
    view.close()
    assert screen.calls == [
        ("token", ("ab", 2)),
        ("reasoning", "r"),
        ("token", ("c", 1)),
        ("show", "Disconnected"),
        ("token", ("de", 3)),
    ]
    view.token("f")  # after close nothing drains the buffer: drawn at once
    assert screen.calls[-1] == ("token", ("f", 1))
    view.token("g")
    assert screen.calls[-1] == ("token", ("g", 1))
