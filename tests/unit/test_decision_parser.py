"""The decision parser on real-looking model answers (the table goes in the closing note)."""

from __future__ import annotations

import pytest

from gambiarra.domain.world.decision import Source, parse_decision

# (answer, expected direction, expected say)
ANSWERS: list[tuple[str, str, str | None]] = [
    # clean MOVE lines
    ("MOVE: NE | indo atrás da comida", "NE", "indo atrás da comida"),
    ("MOVE: STAY | esperando a poeira baixar", "STAY", "esperando a poeira baixar"),
    ("MOVE: sw|fugindo da parede", "SW", "fugindo da parede"),
    ("move: nordeste | bora", "NE", "bora"),
    ("**MOVE:** `SE` | desviando da parede", "SE", "desviando da parede"),
    ("MOVE: [W] | oeste é o caminho", "W", "oeste é o caminho"),
    ("MOVE: NORTH-EAST | food is close", "NE", "food is close"),
    ("MOVE: N", "N", None),
    ("MOVE: E porque a comida está perto", "E", "porque a comida está perto"),
    ("Pensei bem.\nMOVE: S | descendo\nÉ isso.", "S", "descendo"),
    ("MOVE = NW | noroeste!", "NW", None),  # a direction alone is no speech
    ("MOVE: vou para o leste | bora", "E", "bora"),
    ("MOVE: Sudoeste | cuidado com a parede ao norte", "SW", "cuidado com a parede ao norte"),
    # JSON-ish output
    ('{"direction": "SW", "say": "oi"}', "SW", "oi"),
    ('{"move": "N", "comentario": "subindo"}', "N", "subindo"),
    ("```json\n{\"direcao\": \"E\"}\n```", "E", None),
    ("Resposta: 'NE'", "NE", "Resposta"),
    # rambling Portuguese prose
    ("Vou para o sul, tem comida lá.", "S", "Vou para o sul, tem comida lá."),
    ("Acho que o melhor é ir para NOROESTE. | cuidado", "NW", "cuidado"),
    ("A comida está a nordeste e perto, então sigo para nordeste.", "NE",
     "A comida está a nordeste e perto, então sigo para nordeste."),
    ("Hmm, sem comida à vista. Vou explorar o oeste.", "W",
     "Hmm, sem comida à vista. Vou explorar o oeste."),
    ("Melhor ficar PARADO por enquanto.", "STAY", "Melhor ficar PARADO por enquanto."),
    ("vou pro sudeste", "SE", "vou pro sudeste"),
    ("Direção escolhida: LÉSTE", "E", "Direção escolhida: LÉSTE"),
    ("Como há parede ao norte, sigo para o sul.", "N", "Como há parede ao norte, sigo para o sul."),
    ("Decisão: ir ao Norte!", "N", "Decisão: ir ao Norte!"),
    # rambling English prose
    ("I will go North-East to get the food", "NE", "I will go North-East to get the food"),
    ("The food is to the west, so I head west.", "W", "The food is to the west, so I head west."),
    ("Let's move south east.", "SE", "Let's move south east."),
    ("I'd rather stay here for a moment.", "STAY", "I'd rather stay here for a moment."),
    ("Going northwest!", "NW", "Going northwest!"),
    # bare codes, upper and lower case
    ("NE", "NE", None),
    ("sw", "SW", None),
    ("S.", "S", None),
    ("E aí, vou pro N", "N", "E aí, vou pro N"),
    ("Vou de W agora", "W", "Vou de W agora"),
    # words that only contain letters of a code must not count
    ("e agora? sem ideia", "STAY", "e agora? sem ideia"),
    ("o que eu faço?", "STAY", "o que eu faço?"),
    ("Não sei. E você?", "STAY", "Não sei. E você?"),
    ("sem sinal de comida nenhuma", "STAY", "sem sinal de comida nenhuma"),
    # several directions: the earliest in the command part wins
    ("Sul ou leste? Vou de sul. | talvez leste depois", "S", "talvez leste depois"),
    ("NE, depois N", "NE", "NE, depois N"),
    # empty and junk
    ("", "STAY", None),
    ("   \n  ", "STAY", None),
    ("🤔🤔🤔", "STAY", "🤔🤔🤔"),
    ("MOVE: XYZ | não sei", "STAY", "não sei"),
    # a say longer than the bubble
    ("MOVE: N | " + "muito texto " * 10, "N",
     "muito texto muito texto muito texto muito texto muito texto…"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "direction", "say"), ANSWERS)
def test_parser_table(answer: str, direction: str, say: str | None) -> None:
    decision = parse_decision(answer)
    assert (decision.direction, decision.say) == (direction, say)


def test_the_table_is_large_enough() -> None:
    assert len(ANSWERS) >= 40


def test_only_the_move_line_counts_as_the_asked_format() -> None:
    assert not parse_decision("MOVE: NE | ok").fallback
    assert parse_decision("Vou para o norte").fallback
    assert parse_decision("").fallback


def test_reasoning_decides_when_the_answer_is_empty() -> None:
    decision = parse_decision("", reasoning="A comida está a leste. Então: leste.")
    assert (decision.direction, decision.source) == ("E", Source.REASONING)


def test_reasoning_is_ignored_when_there_is_an_answer() -> None:
    assert parse_decision("MOVE: N | sobe", reasoning="talvez sul").direction == "N"


def test_say_is_always_one_printable_line_of_at_most_60() -> None:
    decision = parse_decision("MOVE: E | linha um\x1b[31m vermelho\nlinha dois")
    assert decision.say == "linha um[31m vermelho"
    assert len(parse_decision("MOVE: E | " + "x" * 200).say or "") == 60


def test_say_is_cut_in_utf16_units_as_the_arena_counts() -> None:
    """40 emoji are 80 UTF-16 units: the bubble text must fit the arena's 60."""
    from gambiarra.domain.text import utf16_len

    decision = parse_decision("MOVE: N | " + "🦊" * 40)
    assert decision.say
    assert utf16_len(decision.say) <= 60
