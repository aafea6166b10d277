"""ArenaLink: the link to the arena, kept alive whatever the event night does.

It carries out decisions and never makes one: every retry, back-off and stop
comes from the pure ``LinkPolicy``, and what to do about the running round
after a registration comes from ``after_registration``. One connection at a
time; on each:

- the reader takes every frame, so websockets answers the arena's pings while
  a model generates, and hands messages to the client;
- right after ``registered``, the arena's HTTP side says which round is
  running and how many of our tokens it holds: the client joins a round it
  never got, or continues ours from exactly that seq (falling back to
  re-sending everything unconfirmed when the HTTP side does not answer);
- ``Delivery`` writes and confirms frames; once a round's ``complete`` is
  confirmed, one look-up checks that the arena recorded the answer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

import anyio
import anyio.abc
import structlog
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from gambiarra.adapters import link_texts as texts
from gambiarra.adapters.arena_http import ArenaHttp, NoRound, RecordedAnswer
from gambiarra.adapters.arena_socket import Refused, SocketOptions, open_socket
from gambiarra.adapters.delivery import Delivery
from gambiarra.adapters.retry import backoff
from gambiarra.adapters.throttle import Throttle
from gambiarra.domain.arena_errors import ArenaErrorKind, classify
from gambiarra.domain.link import (
    ArenaErrorSeen,
    Decision,
    LinkClosed,
    LinkPolicy,
    RetryAfter,
    Stop,
    StopReason,
)
from gambiarra.domain.link import (
    Registered as LinkRegistered,
)
from gambiarra.domain.outbox import Outbox
from gambiarra.domain.protocol import (
    Challenge,
    ClientMessage,
    Complete,
    ErrorReport,
    Register,
    Registered,
    ServerError,
    decode_server,
    encode_client,
)
from gambiarra.domain.rejoin import OurRound, PlayRound, ResumeAt, RoundOnArena, after_registration
from gambiarra.errors import ArenaRejected, ArenaUnreachable, GambiarraError, ProtocolError, unwrap
from gambiarra.ports import (
    AnswerRecorded,
    Incoming,
    LateChallenge,
    LinkDown,
    LinkUp,
    Retrying,
    RoundDetails,
    SessionReplaced,
)

__all__ = ["ArenaLink"]

# A round's last frames. A tuple: ``Complete | ErrorReport`` would build a union
# on every call, and this runs for every token.
_FINALS = (Complete, ErrorReport)

log = structlog.get_logger("gambiarra.link")

Receive = Callable[[Incoming], Awaitable[None]]

# The look-ups after a registration hold the writer back: bound them, then
# fall back to re-sending what is unconfirmed.
REJOIN_BUDGET_S = 3.0
# A pong proves the arena read our complete, not that it stored it yet (it may
# await its database): look after this grace, and once more before re-sending.
RECORD_GRACE_S = 0.5
# The longest a round's look-up waits for the round's first token to be written.
LOOK_UP_AFTER_S = 1.0


class ArenaLink:
    """Connects, registers, reconnects, and delivers round messages exactly once.

    Args:
        url: the arena's ``ws://`` or ``wss://`` URL.
        register: the ``register`` message, sent on every (re)connection.
        http: the arena's HTTP side; None plays without it (the Python arena
            has none, and a swarm of hundreds must not poll it).
        max_reconnects: failed or short-lived links in a row before giving up.
        delays: the back-off schedule, restarted after a stable link.
        ack_interval: how often unconfirmed frames are confirmed with a ping.
        outbox: unconfirmed round frames (tests pass a small one).
        clock: monotonic seconds.
        record_grace: seconds between a confirmed complete and the look-up
            of the arena's record (and between the two look-ups before a re-send).
    """

    def __init__(
        self,
        url: str,
        register: Register,
        *,
        http: ArenaHttp | None = None,
        socket: SocketOptions | None = None,
        max_reconnects: int | None = None,
        delays: Callable[[], Iterator[float]] = backoff,
        ack_interval: float = 0.5,
        outbox: Outbox | None = None,
        clock: Callable[[], float] = time.monotonic,
        record_grace: float = RECORD_GRACE_S,
    ) -> None:
        self.url = url
        self._record_grace = record_grace
        self._challenges = 0  # challenges seen: a look-up older than one is stale
        self._session_gen = 0  # bumped when the organiser replaces the session
        self._checking = 0  # record checks in flight; flush waits for them
        self._checked = anyio.Event()
        self._register = register
        self._http = http
        self._socket = socket if socket is not None else SocketOptions()
        self._max_reconnects = max_reconnects
        self._policy = LinkPolicy(delays, max_reconnects)
        self._delivery = Delivery(outbox, ack_interval, self._final_confirmed)
        self._clock = clock
        self._reason = ""
        self._registrations = 0
        self._ours: OurRound | None = None
        self._rounds: dict[int, RoundOnArena] = {}
        self._resent_final: set[int] = set()
        self._bad_frames = Throttle(anyio.current_time)
        self._tg: anyio.abc.TaskGroup | None = None
        self._receive: Receive | None = None

    @property
    def outbox(self) -> Outbox:
        return self._delivery.outbox

    # ------------------------------------------------------------ the port

    def send(self, message: ClientMessage) -> bool:
        if isinstance(message, _FINALS):
            self._report_ignored(round=message.round)
        return self._delivery.send(message)

    def _report_ignored(self, **where: object) -> None:
        """Frames ignored past the log's rate limit are still counted, once per round."""
        suppressed, self._bad_frames.suppressed = self._bad_frames.suppressed, 0
        if suppressed:
            log.warning("arena_frames_ignored", count=suppressed, **where)

    async def flush(self) -> None:
        """Wait until the arena has everything, and its record of our last answer was checked."""
        await self._delivery.flush()
        while self._checking:
            await self._checked.wait()

    async def world_running(self) -> bool | None:
        return None if self._http is None else await self._http.world_running()

    async def run(self, receive: Receive) -> None:
        """Keep a registered link until a decision says stop.

        Raises:
            ArenaRejected: wrong or expired PIN, or another client plays as this id.
            ArenaUnreachable: not an arena, untrusted TLS, or --max-reconnects spent.
        """
        self._receive = receive
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                while True:
                    for decision in await self._one_link(receive):
                        await self._carry_out(decision, receive)
        except Exception as exc:  # task groups wrap what their tasks raise
            error = unwrap(exc)
            if isinstance(error, GambiarraError) and error is not exc:
                raise error from None
            raise
        finally:
            if self._http is not None:
                with anyio.move_on_after(1.0, shield=True):
                    await self._http.aclose()

    # ------------------------------------------------------------ one connection

    async def _one_link(self, receive: Receive) -> list[Decision]:
        try:
            ws = await open_socket(self.url, self._socket)
        except Refused as refused:
            self._reason = refused.reason
            return self._policy.handle(refused.event)
        registered_at: list[float] = []  # set once this link registers
        decisions: list[Decision] | None = None
        try:
            async with anyio.create_task_group() as tg:
                await ws.send(encode_client(self._register), text=True)
                decisions = await self._read(ws, tg, receive, registered_at)
                tg.cancel_scope.cancel()
        except Exception as exc:
            if not isinstance(unwrap(exc), ConnectionClosed):
                raise
        finally:
            self._delivery.linked = False
            with anyio.move_on_after(1.0, shield=True):
                await ws.close()  # a normal close (1000), also on Ctrl-C
        if decisions:
            return decisions  # an error frame decided; this close is part of it
        code = ws.close_code
        self._reason = texts.closed(code)
        self._report_ignored(link="closed")
        if registered_at:
            await receive(LinkDown(self._reason))
        lasted = self._clock() - (registered_at[0] if registered_at else self._clock())
        return self._policy.handle(LinkClosed(code, lasted, bool(registered_at)))

    async def _read(
        self,
        ws: ClientConnection,
        tg: anyio.abc.TaskGroup,
        receive: Receive,
        registered_at: list[float],
    ) -> list[Decision] | None:
        """Hand over frames until the link closes (None) or an error frame decides."""
        async for frame in ws:
            message = self._decode(frame)
            if isinstance(message, Registered):
                if not registered_at:  # a replayed frame changes nothing
                    registered_at.append(self._clock())
                    self._delivery.linked = True
                    self._policy.handle(LinkRegistered())
                    self._registrations += 1
                    first = self._registrations == 1
                    await receive(LinkUp(message.session_id, 0, first))
                    tg.start_soon(self._linked, ws, receive)
            elif isinstance(message, ServerError):
                decisions = await self._on_error(message, receive)
                if decisions:
                    return decisions
            elif isinstance(message, Challenge):
                self._challenges += 1
                self._ours = OurRound(message.round, message.session_id)
                await receive(message)
                self._learn_round(message.round)
            elif message is not None:
                await receive(message)
        return None

    async def _linked(self, ws: ClientConnection, receive: Receive) -> None:
        """Registered: settle what to (re)send, then write until the link ends."""
        late: PlayRound | None = None
        if self._http is None:
            self._delivery.rewind()
        else:
            seen = self._challenges
            with anyio.move_on_after(REJOIN_BUDGET_S) as budget:
                late = await self._rejoin()
            if budget.cancelled_caught:
                self._delivery.rewind()  # the HTTP side is too slow: the old way
            if self._challenges != seen:
                late = None  # a challenge came meanwhile: the looked-up round is old news
        if late is not None:
            self._ours = OurRound(late.challenge.round, late.challenge.session_id)
            await receive(LateChallenge(late.challenge, late.left_ms))
            known = self._rounds.get(late.challenge.round)
            if known is not None:  # looked up already: its details are known
                await receive(RoundDetails(known.index, known.svg_mode))
            self._learn_round(late.challenge.round)
        await self._delivery.serve(ws)

    async def _rejoin(self) -> PlayRound | None:
        """Ask the arena what it holds; position the outbox. Returns a round to join."""
        assert self._http is not None
        await self._drop_recorded_rounds()
        current = await self._http.current_round()
        now = await self._http.server_time_ms() if isinstance(current, RoundOnArena) else None
        if current is None or (isinstance(current, RoundOnArena) and now is None):
            self._delivery.rewind()  # the HTTP side did not answer: the old way
            return None
        arena = current if isinstance(current, RoundOnArena) else None
        decision = after_registration(arena, now or 0, self._ours)
        if isinstance(decision, ResumeAt) and arena is not None:
            self._rounds[decision.round] = arena
            await self._resume(decision)
            return None
        self._delivery.rewind()
        if isinstance(decision, PlayRound) and arena is not None:
            answered = await self._http.recorded_answer(arena.round_id)
            if not isinstance(answered, RecordedAnswer):
                self._rounds[arena.index] = arena
                return decision
        return None

    async def _drop_recorded_rounds(self) -> None:
        """Ended rounds still unconfirmed: the arena may have recorded them whole."""
        kept = self._delivery.log
        for round in sorted(self._delivery.outbox.rounds()):
            known = self._rounds.get(round)
            ended = round != kept.round or kept.final_is_complete
            if ended and known is not None and await self._recorded(known.round_id) is True:
                self._delivery.drop_round(round)

    async def _resume(self, resume: ResumeAt) -> None:
        kept = self._delivery.log
        final: bool | None = None  # an error report, or not known: only if unconfirmed
        if kept.round == resume.round and kept.final_is_complete:
            recorded = await self._recorded(resume.round_id)
            if recorded is True:
                # The arena has the whole answer (a restarted one too: in its database).
                self._delivery.drop_round(resume.round)
                log.info("resumed", round=resume.round, seq=resume.seq, resent=0)
                return
            final = None if recorded is None else True
        resent = self._delivery.resume(resume.round, resume.seq, final=final)
        if resent is None:
            self._delivery.rewind()
        log.info("resumed", round=resume.round, seq=resume.seq, final=final, resent=resent)

    # ------------------------------------------------------------ decisions

    async def _carry_out(self, decision: Decision, receive: Receive) -> None:
        if isinstance(decision, RetryAfter):
            await receive(Retrying(decision.seconds, decision.attempt, self._reason))
            await anyio.sleep(decision.seconds)
        elif isinstance(decision, Stop):
            raise self._stopped(decision)

    def _stopped(self, stop: Stop) -> GambiarraError:
        rejected = {
            StopReason.PIN_REJECTED: texts.PIN_REJECTED,
            StopReason.PIN_EXPIRED: texts.PIN_EXPIRED,
            StopReason.ID_IN_USE: texts.id_in_use(self._register.participant_id),
        }
        if stop.reason in rejected:
            return ArenaRejected(rejected[stop.reason])
        if stop.reason is StopReason.GAVE_UP:
            retries = self._policy.failures - 1  # the first connection is no retry
            return ArenaUnreachable(texts.gave_up(self._reason, retries, self._max_reconnects))
        return ArenaUnreachable(self._reason)

    async def _on_error(self, error: ServerError, receive: Receive) -> list[Decision]:
        kind = classify(error)
        if kind is ArenaErrorKind.SESSION_ENDED:
            self._delivery.forget()  # those rounds are gone; their numbers will be reused
            self._ours = None
            self._rounds.clear()
            self._resent_final.clear()
            self._session_gen += 1  # a record check still in flight is about the old session
            await receive(SessionReplaced())
            self._reason = texts.SESSION_ENDED
        elif kind is ArenaErrorKind.NO_SESSION:
            self._reason = texts.NO_SESSION
        elif kind is ArenaErrorKind.REGISTRATION_FAILED:
            self._reason = texts.REGISTRATION_FAILED
        elif kind is ArenaErrorKind.CLIENT_BUG:
            log.error("client_bug_reported_by_arena", message=error.message, after=self._last)
        decisions = self._policy.handle(ArenaErrorSeen(kind))
        if not decisions and kind in (ArenaErrorKind.CLIENT_BUG, ArenaErrorKind.OTHER):
            await receive(error)
        return decisions

    @property
    def _last(self) -> str:
        return self._delivery.last_sent

    # ------------------------------------------------------------ the arena's record

    def _learn_round(self, index: int) -> None:
        """Look the round up in the background: its id is needed to check the record."""
        if self._http is not None and self._tg is not None and index not in self._rounds:
            self._tg.start_soon(self._look_up_round, index)

    async def _look_up_round(self, index: int) -> None:
        assert self._http is not None
        # Not urgent: it waits for the round's first token to be written (or a
        # moment), so that its HTTP request never holds that token back.
        with anyio.move_on_after(LOOK_UP_AFTER_S):
            await self._delivery.next_write()
        current = await self._http.current_round()
        if isinstance(current, RoundOnArena) and current.index == index:
            self._rounds[index] = current
            if self._receive is not None:  # what the challenge does not say (svgMode)
                await self._receive(RoundDetails(index, current.svg_mode))

    def _final_confirmed(self, round: int, text: str | None) -> None:
        if self._http is not None and self._tg is not None and round in self._rounds:
            self._checking += 1
            self._tg.start_soon(self._check_record, round, text)

    async def _check_record(self, round: int, text: str | None) -> None:
        """After a confirmed complete: is it recorded? Re-send it only if it is missing.

        One look-up in the normal case; a second, after a grace, before a
        re-send: a needless complete makes the arena recompute (and lower)
        the participant's speed.
        """
        try:
            await self._look_for_record(round, text)
        finally:
            self._checking -= 1
            self._checked.set()
            self._checked = anyio.Event()

    async def _look_for_record(self, round: int, text: str | None) -> None:
        assert self._http is not None
        assert self._receive is not None
        round_id = self._rounds[round].round_id
        session = self._session_gen
        for look in range(2):
            await anyio.sleep(self._record_grace)
            answer = await self._http.recorded_answer(round_id)
            if session != self._session_gen:
                return  # round numbers start over in a new session: this one is gone
            if isinstance(answer, RecordedAnswer):
                exact = text is not None and answer.generated_content == text
                await self._receive(AnswerRecorded(round, len(answer.generated_content), exact))
                return
            if answer is None:
                return  # the arena does not say: nothing to go on
            first_look = look == 0
            if not first_look and round not in self._resent_final:
                self._resent_final.add(round)
                if self._delivery.resend_final(round):
                    log.warning("complete_missing_resent", round=round)

    async def _recorded(self, round_id: str) -> bool | None:
        """Whether the arena recorded our answer to that round; None when it does not say."""
        assert self._http is not None
        answer = await self._http.recorded_answer(round_id)
        if isinstance(answer, NoRound):
            return False
        return None if answer is None else True

    def _decode(self, frame: str | bytes) -> Incoming | None:
        try:
            return decode_server(frame)
        except ProtocolError as exc:
            allowed, suppressed = self._bad_frames.allow()
            if allowed:
                log.warning("arena_frame_ignored", reason=str(exc)[:200], suppressed=suppressed)
            return None
