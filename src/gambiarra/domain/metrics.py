"""Round metrics as pure functions of timestamps (seconds) and counts.

Timestamps come from one monotonic clock chosen by the caller; this module
never reads a clock. Runner-specific units are converted in the adapters.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelFigures", "RoundMetrics", "ms", "ns_to_ms", "summarize", "tokens_per_second"]


@dataclass(frozen=True, slots=True)
class RoundMetrics:
    tokens: int
    first_token_ms: int | None
    duration_ms: int
    tokens_per_second: float


@dataclass(frozen=True, slots=True)
class ModelFigures:
    """What the model server itself reports of one generation, in ms and tokens.

    The client's figures (``RoundMetrics``) include everything between the
    challenge and the first token; these say where the model's own time went,
    so a round that was slow because the model had to load says so. Each is
    None when the server does not report it.
    """

    load_ms: int | None = None
    prompt_ms: int | None = None
    prompt_tokens: int | None = None
    generation_ms: int | None = None
    generated_tokens: int | None = None


def ns_to_ms(nanoseconds: int | None) -> int | None:
    """Ollama reports durations in nanoseconds."""
    return None if nanoseconds is None else max(0, round(nanoseconds / 1_000_000))


def ms(seconds: float) -> int:
    """Seconds to whole milliseconds, never negative (the wire wants integers)."""
    return max(0, round(seconds * 1000))


def tokens_per_second(tokens: int, first_token: float | None, ended: float) -> float:
    """Tokens over the streaming window, from the first token to the end.

    This is how the arena judges speed (arrival of the first ``token`` to the
    arrival of ``complete``), so the participant sees the organiser's figure.
    """
    if tokens == 0 or first_token is None:
        return 0.0
    window = ended - first_token
    return tokens / window if window > 0 else 0.0


def summarize(started: float, first_token: float | None, ended: float, tokens: int) -> RoundMetrics:
    """Everything the participant and the arena are told about one round."""
    return RoundMetrics(
        tokens=tokens,
        first_token_ms=None if first_token is None else ms(first_token - started),
        duration_ms=ms(ended - started),
        tokens_per_second=tokens_per_second(tokens, first_token, ended),
    )
