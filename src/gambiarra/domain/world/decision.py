"""The decision parser: a compass direction out of whatever a model wrote.

Models ramble. The parser looks, in this order, for:
1. a ``MOVE:`` line (``MOVE: NE | indo atrás da comida``);
2. a quoted code (``"NE"``, ``'sw'``, JSON ``"direction": "E"``);
3. direction words in Portuguese or English (NORDESTE, NORTH-EAST, SUL,
   PARADO, STAY...), accents and case ignored, the earliest in the command
   part winning;
4. a bare code (``NE``) in a short answer.
Nothing found means ``STAY``. Single letters are codes only when they stand
alone in upper case and not at the start of a sentence, so Portuguese words
such as "e", "o" or "sem" never count. The text after ``|`` (or a cleaned
remainder) becomes ``say``: one line, at most 60 characters. For reasoning
models, an empty answer lets the reasoning text decide.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

from gambiarra.domain.text import utf16_len, utf16_truncate

__all__ = ["DIRECTIONS", "Decision", "Source", "parse_decision"]

DIRECTIONS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW", "STAY")
SAY_LIMIT = 60

_WORDS = {
    "NORDESTE": "NE", "NOROESTE": "NW", "SUDESTE": "SE", "SUDOESTE": "SW",
    "NORTE": "N", "SUL": "S", "LESTE": "E", "OESTE": "W",
    "NORTHEAST": "NE", "NORTHWEST": "NW", "SOUTHEAST": "SE", "SOUTHWEST": "SW",
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
    "PARADO": "STAY", "PARADA": "STAY", "PARAR": "STAY", "STAY": "STAY",
}  # fmt: skip
# Longest first, so NORDESTE wins over NORTE and NORTHEAST over NORTH.
_WORD = re.compile(
    r"\b(NORTH|SOUTH)[- ]?(EAST|WEST)\b|\b("
    + "|".join(sorted(_WORDS, key=len, reverse=True))
    + r")\b"
)
_CODE = r"(STAY|NE|NW|SE|SW|N|E|S|W)"
# "MOVE" then ":" or "=" (markdown around it allowed), so English prose such as
# "let's move south" is not taken for the format line.
_MOVE = re.compile(r"\bMOVE\b[\s*`]*[:=][\s*`\"'\[(]*([A-Z]+)(?:[- ]([A-Z]+))?")
_QUOTED = re.compile(r"[\"'`]\s*" + _CODE + r"\s*[\"'`]")
_BARE = re.compile(r"(?<![\w-])" + _CODE + r"(?![\w-])")
_MARKUP = re.compile(r"[*_`#>\"]+")
_SAY_FIELD = re.compile(
    r"[\"'](?:say|comment|comentario|comentário|fala|reason|motivo)[\"']\s*:\s*[\"']([^\"']*)[\"']",
    re.IGNORECASE,
)


class Source(enum.Enum):
    MOVE_LINE = "move"
    QUOTED = "quoted"
    WORD = "word"
    BARE = "bare"
    REASONING = "reasoning"
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class Decision:
    direction: str
    say: str | None
    source: Source

    @property
    def fallback(self) -> bool:
        """True when the model did not answer in the asked ``MOVE:`` format."""
        return self.source is not Source.MOVE_LINE


def parse_decision(answer: str, reasoning: str = "") -> Decision:
    """Find the direction and the speech bubble in a model's answer; never raises."""
    if not answer.strip() and reasoning.strip():
        found = _direction(reasoning)
        if found is not None:
            return Decision(found[0], None, Source.REASONING)
    found = _direction(answer)
    if found is None:
        return Decision("STAY", _say(answer, None, ""), Source.NOTHING)
    direction, source, line, rest = found
    if source is Source.QUOTED:
        # The quoted code is the decision, not part of what the avatar says.
        answer = re.sub(r"[\"'`]\s*" + direction + r"\s*[\"'`]", "", answer, count=1, flags=re.I)
    return Decision(direction, _say(answer, line, rest), source)


def _fold(text: str) -> str:
    """Upper case without accents, one character for one character."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped).upper()


def _code_of(token: str) -> str | None:
    token = token.replace(" ", "").replace("-", "")
    return token if token in DIRECTIONS else _WORDS.get(token)


def _direction(text: str) -> tuple[str, Source, str | None, str] | None:
    """The direction, how it was found, the MOVE line and what follows its code."""
    lines = text.splitlines()
    for line in lines:
        folded = _fold(line)
        move = _MOVE.search(folded)
        if move is None:
            continue
        first, second = move.groups()
        pair = _code_of(first + second) if second else None
        code = pair or _code_of(first) or _first_word(_command_part(folded[move.start(1) :]))
        if code is not None:
            rest = line[move.end() if pair else move.end(1) :]
            return code, Source.MOVE_LINE, line, rest
    folded = _fold(text)
    quoted = _QUOTED.search(folded)
    if quoted is not None:
        return quoted.group(1), Source.QUOTED, None, ""
    word = _first_word(_command_part(folded))
    if word is not None:
        return word, Source.WORD, None, ""
    bare = _bare_code(text)
    if bare is not None:
        return bare, Source.BARE, None, ""
    return None


def _command_part(folded: str) -> str:
    """What the model said it does, before any ``|`` comment."""
    return folded.split("|", 1)[0]


def _first_word(folded: str) -> str | None:
    match = _WORD.search(folded)
    if match is None:
        return None
    if match.group(3) is not None:
        return _WORDS[match.group(3)]
    return _code_of(match.group(1) + match.group(2))


def _bare_code(text: str) -> str | None:
    """A protocol code standing alone: the whole answer, or upper case in a short one."""
    stripped = text.strip().strip(".!?:;,()[]{}*`'\"").strip()
    if stripped.upper() in DIRECTIONS:
        return stripped.upper()
    if len(text.split()) > 12:
        return None
    for match in _BARE.finditer(text):
        code, start = match.group(1), match.start()
        if len(code) == 1 and _starts_sentence(text, start):
            continue  # "E aí..." is Portuguese for "and", not East
        return code
    return None


def _starts_sentence(text: str, index: int) -> bool:
    before = text[:index].rstrip()
    return not before or before[-1] in ".!?:\n"


def _say(answer: str, move_line: str | None, rest: str) -> str | None:
    """The speech bubble: what follows ``|``, else the first plain line of prose."""
    field = _SAY_FIELD.search(answer)
    if field is not None:
        return _one_line(field.group(1))
    source = move_line if move_line is not None else answer
    if "|" in source:
        text = source.split("|", 1)[1]
    elif move_line is not None:
        others = [line for line in answer.splitlines() if line != move_line and line.strip()]
        text = rest if _one_line(rest) else (others[0] if others else "")
    else:
        text = next((line for line in answer.splitlines() if _is_prose(line)), "")
    return _one_line(text)


def _is_prose(line: str) -> bool:
    """Not blank, not a code fence, not a JSON line."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith(("```", "{", "[", "}", "]"))


def _one_line(text: str) -> str | None:
    text = _MARKUP.sub("", text)
    text = "".join(c for c in text if c.isprintable()).strip(" \t-:|'")
    text = " ".join(text.split())
    bare = _fold(text).strip(" .!?")
    if not text or bare in DIRECTIONS or bare in _WORDS:
        return None  # a direction alone says nothing worth a speech bubble
    if utf16_len(text) <= SAY_LIMIT:  # the arena counts UTF-16 units
        return text
    return utf16_truncate(text, SAY_LIMIT - 1).rstrip() + "…"
