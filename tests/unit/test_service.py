"""ArenaClient with fakes: the shell carries out what the round machine decides."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio
import pytest

from gambiarra.domain.events import GenerationRequest, Outcome
from gambiarra.domain.metrics import ModelFigures
from gambiarra.domain.protocol import (
    Challenge,
    Complete,
    ErrorReport,
    Heartbeat,
    ModelInfo,
    Registered,
    ServerError,
    Token,
)
from gambiarra.domain.round import RoundMachine
from gambiarra.ports import TokenChunk
from gambiarra.service import ArenaClient
from tests.fakes import AfterSent, FakeTransport, RecordingView, ScriptedRunner

pytestmark = pytest.mark.anyio


def client(
    transport: FakeTransport, runner: ScriptedRunner, rounds: int | None = 1
) -> tuple[ArenaClient, RecordingView]:
    view = RecordingView()
    machine = RoundMachine("ana-pc", ModelInfo(name=runner.model, runner=runner.kind))
    return ArenaClient(transport, runner, machine, view, max_rounds=rounds), view


async def test_full_round_sends_tokens_then_complete() -> None:
    transport = FakeTransport(
        Registered(session_id="s"),
        Heartbeat(ts=1),
        Challenge(round=1, prompt="oi", max_tokens=5, temperature=0.0, seed=7),
    )
    runner = ScriptedRunner("Olá", ", ", "arena")
    arena_client, view = client(transport, runner)
    with anyio.fail_after(5):
        await arena_client.run()
    tokens = [m for m in transport.sent if isinstance(m, Token)]
    assert [(t.seq, t.content) for t in tokens] == [(0, "Olá"), (1, ", "), (2, "arena")]
    complete = transport.sent[-1]
    assert isinstance(complete, Complete)
    assert complete.tokens == 3
    assert runner.requests[0].temperature == 0.0
    assert runner.requests[0].seed == 7
    assert "".join(view.text) == "Olá, arena"
    assert view.ended[0].outcome is Outcome.FINISHED


async def test_runner_failure_reports_an_error_and_keeps_playing() -> None:
    transport = FakeTransport(
        Challenge(round=1, prompt="a"),
        AfterSent(ErrorReport),
        Challenge(round=2, prompt="b"),
    )
    failing = ScriptedRunner("Um", fail="Ollama answered 404: model not found")
    arena_client, view = client(transport, failing, rounds=2)
    with anyio.fail_after(5):
        await arena_client.run()
    errors = [m for m in transport.sent if isinstance(m, ErrorReport)]
    assert len(errors) == 2
    assert errors[0].message == "Ollama answered 404: model not found"
    assert [e.round for e in errors] == [1, 2]
    assert [e.outcome for e in view.ended] == [Outcome.FAILED, Outcome.FAILED]


async def test_other_arena_errors_are_shown_and_do_not_end_the_session() -> None:
    transport = FakeTransport(
        ServerError(message="Registration failed"), Challenge(round=1, prompt="a")
    )
    arena_client, view = client(transport, ScriptedRunner("x"))
    with anyio.fail_after(5):
        await arena_client.run()
    assert any("Registration failed" in s for s in view.statuses)
    assert isinstance(transport.sent[-1], Complete)


async def test_a_new_challenge_mid_generation_completes_the_old_round_first() -> None:
    """Back-to-back challenges: the first round is completed as superseded."""
    transport = FakeTransport(Challenge(round=1, prompt="a"), Challenge(round=2, prompt="b"))
    arena_client, view = client(transport, ScriptedRunner("x", "y"), rounds=2)
    with anyio.fail_after(5):
        await arena_client.run()
    completes = [m for m in transport.sent if isinstance(m, Complete)]
    assert [c.round for c in completes] == [1, 2]
    assert completes[1].tokens == 2
    assert [e.outcome for e in view.ended] == [Outcome.SUPERSEDED, Outcome.FINISHED]


async def test_reasoning_is_shown_but_never_sent() -> None:
    transport = FakeTransport(Challenge(round=1, prompt="pense"))
    runner = ScriptedRunner(TokenChunk("hmm", reasoning=True), "42")
    arena_client, view = client(transport, runner)
    with anyio.fail_after(5):
        await arena_client.run()
    assert [m.content for m in transport.sent if isinstance(m, Token)] == ["42"]
    assert view.thoughts == ["hmm"]
    assert view.ended[0].reasoning_pieces == 1


async def test_a_view_that_wants_ticks_gets_them() -> None:
    ticks = anyio.Event()

    class TickingView(RecordingView):
        tick_interval = 0.001

        def tick(self) -> None:
            ticks.set()

    transport = FakeTransport()
    machine = RoundMachine("p", ModelInfo(name="m", runner="r"))
    arena_client = ArenaClient(transport, ScriptedRunner(), machine, TickingView())
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(arena_client.run)
            await ticks.wait()
            tg.cancel_scope.cancel()


class TidyingRunner(ScriptedRunner):
    """Yields its pieces and the model's figures, then keeps reading until told to stop:
    a runner reading the end of its body to keep its connection."""

    def __init__(self, *pieces: str) -> None:
        super().__init__(*pieces, TokenChunk("", figures=ModelFigures(generated_tokens=2)))
        self.tidied = anyio.Event()
        self.tidying = False

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        async for chunk in super().stream(request):
            yield chunk
        self.tidying = True
        await self.tidied.wait()


async def test_the_models_figures_end_the_round_before_the_runner_is_done() -> None:
    """The complete goes out with the last chunk, not after the body's last bytes."""
    transport = FakeTransport(Challenge(round=1, prompt="oi"))
    runner = TidyingRunner("Olá", "!")
    arena_client, view = client(transport, runner, rounds=None)
    async with anyio.create_task_group() as tg:
        tg.start_soon(arena_client.run)
        with anyio.fail_after(5):
            while not runner.tidying:
                await anyio.wait_all_tasks_blocked()
        complete = transport.sent[-1]
        assert isinstance(complete, Complete)
        assert complete.tokens == 2
        assert view.ended[0].model == ModelFigures(generated_tokens=2)
        runner.tidied.set()
        await anyio.wait_all_tasks_blocked()
        assert [type(m) for m in transport.sent].count(Complete) == 1  # the end adds nothing
        tg.cancel_scope.cancel()
