"""SilentView (shows nothing) and MultiView (shows through several views at once)."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from gambiarra.events import SessionEvent
from gambiarra.ports import RoundView

__all__ = ["MultiView", "SilentView"]


class SilentView:
    """For when something else owns the terminal (practice, swarm, doctor),
    and for the rest of a run whose stdout was closed."""

    tick_interval: float | None = None

    async def run(self) -> None:
        pass

    def close(self) -> None:
        pass

    def token(self, text: str, count: int = 1) -> None:
        pass

    def reasoning(self, text: str) -> None:
        pass

    def show(self, event: SessionEvent) -> None:
        pass

    def tick(self) -> None:
        pass


class MultiView:
    """Fans every call out, in order: the screen first, then the archive and listeners."""

    def __init__(self, views: Sequence[RoundView]) -> None:
        self._views = tuple(views)
        intervals = [v.tick_interval for v in self._views if v.tick_interval is not None]
        self.tick_interval = min(intervals) if intervals else None

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            for view in self._views:
                tg.start_soon(view.run)

    def close(self) -> None:
        for view in self._views:
            view.close()

    def token(self, text: str, count: int = 1) -> None:
        for view in self._views:
            view.token(text, count)

    def reasoning(self, text: str) -> None:
        for view in self._views:
            view.reasoning(text)

    def show(self, event: SessionEvent) -> None:
        for view in self._views:
            view.show(event)

    def tick(self) -> None:
        for view in self._views:
            view.tick()
