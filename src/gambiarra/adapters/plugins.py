"""Runner plugins: any async generator function can be the model.

A plugin is ``async def runner(request: RunnerRequest) -> AsyncIterator[str |
TokenChunk]``. It is named on the command line as ``pacote.modulo:funcao``, or
by the name a pip-installed package registers under the entry-point group
``gambiarra.runners``. ``PluginRunner`` makes one a ``ModelRunner``, so every
limit of the client applies to it as to the built-in runners: the round
machine closes the generator after ``max_tokens`` pieces, the service at the
deadline and when a new challenge supersedes the round.

Boundary rule: whatever a plugin raises becomes ``RunnerFailed`` carrying its
message (the round fails, the session goes on); a plugin that cannot be loaded
is ``RunnerUnavailable`` naming it (exit 4, before the arena is joined).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import anyio
import anyio.lowlevel
import structlog

from gambiarra.config import PLUGIN_GROUP, RUNNERS
from gambiarra.domain.events import GenerationRequest
from gambiarra.errors import RunnerError, RunnerFailed, RunnerUnavailable
from gambiarra.ports import ModelDescription, RunnerFunction, RunnerRequest, TokenChunk

log = structlog.get_logger("gambiarra.plugins")

__all__ = ["GROUP", "PluginRunner", "RunnerInfo", "available_runners", "load_runner"]

GROUP = PLUGIN_GROUP  # where installed plugins register (pyproject entry-points)
# How long a plugin's own cleanup may take once its round is over.
CLOSE_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class RunnerInfo:
    """One runner ``--runner`` can name.

    ``target``: where an installed plugin lives (``pacote.modulo:funcao``);
    ``distribution``: the package that installed it, with its version. Both
    are None for the built-in runners.
    """

    name: str
    builtin: bool
    target: str | None = None
    distribution: str | None = None


def available_runners() -> list[RunnerInfo]:
    """The built-in runners, then the installed plugins sorted by name.

    A plugin with a built-in's name is listed but never chosen: the built-in wins.
    """
    found = [RunnerInfo(name, builtin=True) for name in RUNNERS]
    plugins = sorted(metadata.entry_points(group=GROUP), key=lambda point: point.name)
    for point in plugins:
        dist = point.dist
        origin = None if dist is None else f"{dist.name} {dist.version}"
        found.append(RunnerInfo(point.name, builtin=False, target=point.value, distribution=origin))
    return found


def load_runner(spec: str) -> RunnerFunction:
    """The function ``spec`` names: ``pacote.modulo:funcao`` or an installed plugin's name.

    Raises:
        RunnerUnavailable: it cannot be imported, or is not a runner function;
            one Portuguese line naming it.
    """
    try:
        found = _import(spec) if ":" in spec else _entry_point(spec)
    except RunnerUnavailable:
        raise
    except Exception as exc:  # whatever importing someone else's module raises
        raise RunnerUnavailable(
            f"não consegui carregar o runner {spec}: {_said(exc)}; confira se o pacote está "
            "instalado neste ambiente (gambiarra-client runners lista os instalados)"
        ) from None
    return _checked(spec, found)


def _import(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def _entry_point(name: str) -> Any:
    points = metadata.entry_points(group=GROUP, name=name)
    for point in points:
        return point.load()
    raise RunnerUnavailable(
        f"o runner {name} não está instalado: instale o pacote do plugin ou use "
        "--runner pacote.modulo:funcao (gambiarra-client runners lista os instalados)"
    )


def _checked(spec: str, found: Any) -> RunnerFunction:
    # A coroutine function would fail every round with a confusing error: say it now.
    if not callable(found) or inspect.iscoroutinefunction(found):
        raise RunnerUnavailable(
            f"o runner {spec} não é uma função geradora assíncrona: escreva-o como "
            "async def runner(request) com yield de cada pedaço de texto"
        )
    function: RunnerFunction = found
    return function


def _said(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class PluginRunner:
    """A runner function as a ``ModelRunner``.

    Args:
        name: the runner name the arena is told (the plugin's name or spec).
        function: the plugin.
        model: the model name the arena is told, and the plugin is given.
    """

    def __init__(self, name: str, function: RunnerFunction, model: str) -> None:
        self._name = name
        self._function = function
        self._model = model

    @property
    def kind(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model

    async def check(self) -> None:
        """A plugin was imported and checked when it was loaded; nothing more to ask."""

    async def models(self) -> list[ModelDescription]:
        return [ModelDescription(self._model)]

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TokenChunk, None]:
        pieces = self._start(request)
        try:
            async for piece in pieces:
                if isinstance(piece, str):
                    yield TokenChunk(piece)
                elif isinstance(piece, TokenChunk):
                    yield piece
                else:
                    raise RunnerFailed(
                        f"o runner {self._name} produziu {type(piece).__name__}: "
                        "produza str (ou TokenChunk) a cada pedaço"
                    )
                # A plugin that never awaits (text it already had) would hold the
                # event loop: pings unanswered, and a cancel (deadline, max_tokens,
                # a new challenge) never landing. One checkpoint per piece.
                await anyio.lowlevel.checkpoint()
        except RunnerError:
            raise
        except Exception as exc:  # the plugin's own failure fails this round only
            raise RunnerFailed(f"o runner {self._name} falhou: {_said(exc)}") from exc
        finally:
            # Closing it runs the plugin's own cleanup (closing the HTTP stream it
            # opened is what tells a model server to stop computing); shielded
            # from the cancel that got us here, but bounded.
            close = getattr(pieces, "aclose", None)
            if close is not None:
                with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
                    try:
                        await close()
                    except Exception as exc:  # its cleanup must not change the round's end
                        log.warning("plugin_cleanup_failed", runner=self._name, error=_said(exc))

    def _start(self, request: GenerationRequest) -> AsyncIterator[str | TokenChunk]:
        asked = RunnerRequest(
            round=request.round,
            prompt=request.prompt,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            model=self._model,
            seed=request.seed,
            system=request.system,
            deadline_at=request.deadline_at,
        )
        try:
            pieces = self._function(asked)
        except Exception as exc:
            raise RunnerFailed(f"o runner {self._name} falhou: {_said(exc)}") from exc
        if not hasattr(pieces, "__aiter__"):
            raise RunnerFailed(
                f"o runner {self._name} não devolveu um gerador assíncrono: escreva-o como "
                "async def runner(request) com yield de cada pedaço de texto"
            )
        return pieces
