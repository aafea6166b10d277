"""A small 2-D world for the practice arena: grid, walls, food, avatars, score.

It produces the same ``perception`` fields as the real arena (protocol.md)
and follows its rules: a perception whenever an avatar is idle; actions that
arrive while the avatar is still hopping, or that answer an old pulse, are
ignored; ``STAY`` re-pulses after a short pause; no answer for a while
re-sends a perception; an avatar leaves (score and all) when its link drops.
Seeded, so a practice game repeats.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MOVES", "Avatar", "World"]

MOVES = {
    "N": (0, -1), "NE": (1, -1), "E": (1, 0), "SE": (1, 1),
    "S": (0, 1), "SW": (-1, 1), "W": (-1, 0), "NW": (-1, -1), "STAY": (0, 0),
}  # fmt: skip
_SIDES = {(0, -1): "norte", (1, 0): "leste", (0, 1): "sul", (-1, 0): "oeste"}
_CORNERS = {
    ("norte", "leste"): "nordeste", ("norte", "oeste"): "noroeste",
    ("sul", "leste"): "sudeste", ("sul", "oeste"): "sudoeste",
}  # fmt: skip
OBJECTIVE = "Colete o máximo de comidas que conseguir!"


@dataclass
class Avatar:
    participant_id: str
    x: int
    y: int
    emoji: str = "🙂"
    score: int = 0
    pulse: int = 0
    bumped: bool = False
    busy_until: float = 0.0
    pulsed_at: float | None = None  # when the unanswered pulse went out
    says: list[str] = field(default_factory=list)
    accepted: int = 0
    ignored: int = 0


class World:
    def __init__(
        self,
        width: int = 13,
        height: int = 9,
        food_count: int = 4,
        seed: int = 7,
        walls: set[tuple[int, int]] | None = None,
        objective: str = OBJECTIVE,
    ) -> None:
        self.width, self.height, self.objective = width, height, objective
        self.walls = walls if walls is not None else set()
        self.avatars: dict[str, Avatar] = {}
        self.departed: list[Avatar] = []  # avatars that left, oldest first (organiser's log)
        self.running = True  # the organiser's start/stop; a world_join starts it again
        self._rng = random.Random(seed)
        self.food: set[tuple[int, int]] = set()
        for _ in range(food_count):
            self.food.add(self._free_cell())

    def join(self, participant_id: str, emoji: str | None) -> Avatar:
        avatar = self.avatars.get(participant_id)
        if avatar is None:
            x, y = self._free_cell()
            avatar = Avatar(participant_id, x, y, emoji or "🙂")
            self.avatars[participant_id] = avatar
        return avatar

    def leave(self, participant_id: str) -> Avatar | None:
        """Remove the avatar and its score (its connection dropped), as the real arena does."""
        avatar = self.avatars.pop(participant_id, None)
        if avatar is not None:
            self.departed.append(avatar)
        return avatar

    def last_avatar(self, participant_id: str) -> Avatar | None:
        """The participant's avatar in the world now, else the last one that left."""
        if participant_id in self.avatars:
            return self.avatars[participant_id]
        return next(
            (a for a in reversed(self.departed) if a.participant_id == participant_id), None
        )

    def perceive(self, avatar: Avatar, now: float) -> dict[str, Any]:
        """The next radar pulse for this avatar, as the arena sends it."""
        avatar.pulse += 1
        avatar.pulsed_at = now
        food = self._nearest_food(avatar)
        walls = self._walls_text(avatar)
        position = self._position(avatar)
        food_text = (
            f"comida mais próxima a {food['direction']} ({food['distance']})"
            if food
            else "nenhuma comida à vista"
        )
        radar = (
            f"RADAR #{avatar.pulse}: {food_text}; {walls}; você está no {position} da arena; "
            f"comidas coletadas: {avatar.score}."
        )
        return {
            "type": "perception",
            "pulse": avatar.pulse,
            "objective": self.objective,
            "nearest_food": food,
            "walls": walls,
            "position": position,
            "score": avatar.score,
            "bumped": avatar.bumped,
            "radar_text": radar,
        }

    def act(self, avatar: Avatar, direction: str) -> None:
        """Move one cell (or bump, or stay); eat food on arrival."""
        dx, dy = MOVES[direction]
        target = (avatar.x + dx, avatar.y + dy)
        avatar.bumped = direction != "STAY" and self._blocked(target)
        if not avatar.bumped:
            avatar.x, avatar.y = target
        if (avatar.x, avatar.y) in self.food:
            avatar.score += 1
            self.food.discard((avatar.x, avatar.y))
            self.food.add(self._free_cell())

    # ------------------------------------------------------------ radar

    def _nearest_food(self, avatar: Avatar) -> dict[str, str] | None:
        if not self.food:
            return None
        fx, fy = min(self.food, key=lambda f: (max(abs(f[0] - avatar.x), abs(f[1] - avatar.y)), f))
        steps = max(abs(fx - avatar.x), abs(fy - avatar.y))
        distance = "perto" if steps <= 2 else "média" if steps <= 5 else "longe"
        return {"direction": _compass(fx - avatar.x, fy - avatar.y), "distance": distance}

    def _walls_text(self, avatar: Avatar) -> str:
        near = [
            side
            for (dx, dy), side in _SIDES.items()
            if self._blocked((avatar.x + dx, avatar.y + dy))
        ]
        if not near:
            return "sem paredes por perto"
        return "parede a " + " e a ".join(near)

    def _position(self, avatar: Avatar) -> str:
        """Where the avatar is, as the arena says it: centro, lado norte, canto nordeste..."""
        ns = (
            "norte"
            if avatar.y < self.height / 3
            else "sul"
            if avatar.y >= 2 * self.height / 3
            else ""
        )
        ew = (
            "oeste"
            if avatar.x < self.width / 3
            else "leste"
            if avatar.x >= 2 * self.width / 3
            else ""
        )
        if ns and ew:
            return "canto " + _CORNERS[ns, ew]
        return f"lado {ns or ew}" if ns or ew else "centro"

    def _blocked(self, cell: tuple[int, int]) -> bool:
        x, y = cell
        return not (0 <= x < self.width and 0 <= y < self.height) or cell in self.walls

    def _free_cell(self) -> tuple[int, int]:
        taken = self.walls | self.food | {(a.x, a.y) for a in self.avatars.values()}
        while True:
            cell = (self._rng.randrange(self.width), self._rng.randrange(self.height))
            if cell not in taken:
                return cell


def _compass(dx: int, dy: int) -> str:
    """One of 8 directions from a vector (y grows southwards)."""
    angle = math.degrees(math.atan2(-dy, dx)) % 360  # 0 = east, counter-clockwise
    return ("E", "NE", "N", "NW", "W", "SW", "S", "SE")[round(angle / 45) % 8]
