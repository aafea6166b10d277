"""The agent state machine and its prompt: pure, no event loop."""

from __future__ import annotations

import json

import msgspec

from gambiarra.domain.events import Send
from gambiarra.domain.protocol import (
    AgentAction,
    AgentPrompt,
    Food,
    Perception,
    WorldJoin,
    decode_server,
    encode_client,
)
from gambiarra.domain.world.agent import (
    AgentMachine,
    CancelDecision,
    Decide,
    DecisionFailed,
    DecisionMade,
    Joined,
    PerceptionReceived,
    PulseAnswered,
    RoundBusy,
    RoundFree,
)
from gambiarra.domain.world.prompt import (
    DEFAULT_TEMPLATE,
    PROTOCOL_BLOCK,
    STRATEGIES,
    Briefing,
    prepare_template,
    resolve_strategy,
)
from tests.conftest import shared_file


def pulse(number: int, score: int = 0) -> Perception:
    return Perception(
        pulse=number,
        objective="Colete comidas",
        nearest_food=Food(direction="NE", distance="perto"),
        walls="sem paredes por perto",
        score=score,
        radar_text=f"RADAR #{number}: comida mais próxima a NE (perto).",
    )


def test_protocol_md_world_examples_round_trip() -> None:
    text = shared_file("protocol.md").read_text(encoding="utf-8").split("## World mode")[1]
    decoder = json.JSONDecoder()
    examples = []
    start = text.find('{"type":')
    while start >= 0:
        _, end = decoder.raw_decode(text, start)
        examples.append(text[start:end])
        start = text.find('{"type":', end)
    kinds = {json.loads(e)["type"] for e in examples}
    assert kinds == {"world_join", "perception", "agent_action", "agent_prompt"}
    for example in examples:
        if json.loads(example)["type"] == "perception":
            assert isinstance(decode_server(example), Perception)
            continue
        message = msgspec.json.decode(example.encode(), type=WorldJoin | AgentAction | AgentPrompt)
        assert json.loads(encode_client(message)) == json.loads(example)


def test_a_perception_with_no_food_decodes() -> None:
    perception = decode_server('{"type":"perception","pulse":3,"nearest_food":null}')
    assert perception == Perception(pulse=3)


def test_joining_sends_world_join_and_the_template() -> None:
    machine = AgentMachine("ana-pc", emoji="🦊", color="#ff5e5e")
    join, prompt = machine.handle(Joined(at=0.0))
    assert isinstance(join, Send)
    assert isinstance(prompt, Send)
    assert join.message == WorldJoin(
        participant_id="ana-pc", emoji="🦊", color="#ff5e5e",
        strategy_summary=STRATEGIES["greedy"],
    )  # fmt: skip
    assert prompt.message == AgentPrompt(
        participant_id="ana-pc", template=DEFAULT_TEMPLATE, is_default=True
    )


def test_each_pulse_gets_exactly_one_action() -> None:
    machine = AgentMachine("ana-pc")
    (decide,) = machine.handle(PerceptionReceived(pulse(7, score=2), at=1.0))
    assert isinstance(decide, Decide)
    assert "RADAR #7" in decide.prompt
    assert PROTOCOL_BLOCK in decide.prompt
    send, answered = machine.handle(DecisionMade(7, "MOVE: NE | bora", "", at=1.5))
    assert isinstance(send, Send)
    assert send.message == AgentAction(participant_id="ana-pc", direction="NE", pulse=7, say="bora")
    assert isinstance(answered, PulseAnswered)
    assert answered.report.took == 0.5
    assert answered.report.score == 2
    assert machine.handle(DecisionMade(7, "MOVE: S", "", at=1.6)) == []  # never twice


def test_a_newer_pulse_cancels_the_older_decision() -> None:
    machine = AgentMachine("ana-pc")
    machine.handle(PerceptionReceived(pulse(1), at=0.0))
    actions = machine.handle(PerceptionReceived(pulse(2), at=0.5))
    assert actions == [CancelDecision(1), Decide(2, actions[1].prompt)]  # type: ignore[union-attr]
    assert machine.handle(DecisionMade(1, "MOVE: N", "", at=0.6)) == []  # late: dropped
    (send, _) = machine.handle(DecisionMade(2, "MOVE: S", "", at=0.9))
    assert isinstance(send, Send)
    assert isinstance(send.message, AgentAction)
    assert (send.message.pulse, send.message.direction) == (2, "S")


def test_a_model_error_answers_stay_with_a_reason() -> None:
    machine = AgentMachine("ana-pc")
    machine.handle(PerceptionReceived(pulse(4), at=0.0))
    send, _ = machine.handle(DecisionFailed(4, "Ollama answered 500: out of memory", at=0.2))
    assert isinstance(send, Send)
    assert isinstance(send.message, AgentAction)
    assert send.message.direction == "STAY"
    assert isinstance(send.message.say, str)
    assert send.message.say.startswith("erro do modelo: Ollama answered 500")
    assert len(send.message.say) <= 60
    assert machine.summary.errors == 1


def test_a_timed_out_empty_decision_stays() -> None:
    machine = AgentMachine("ana-pc")
    machine.handle(PerceptionReceived(pulse(5), at=0.0))
    send, _ = machine.handle(DecisionMade(5, "", "", at=10.0, timed_out=True))
    assert isinstance(send, Send)
    assert isinstance(send.message, AgentAction)
    assert (send.message.direction, send.message.say) == ("STAY", "pensei demais e o tempo acabou")


def test_a_round_pauses_the_world_and_the_newest_pulse_waits() -> None:
    machine = AgentMachine("ana-pc")
    machine.handle(PerceptionReceived(pulse(1), at=0.0))
    assert machine.handle(RoundBusy(at=0.1)) == [CancelDecision(1)]
    assert machine.handle(PerceptionReceived(pulse(2), at=0.2)) == []
    (decide,) = machine.handle(RoundFree(at=5.0))
    assert isinstance(decide, Decide)
    assert decide.pulse == 2


def test_summary_counts_pulses_fallbacks_and_time() -> None:
    machine = AgentMachine("ana-pc")
    for number, answer in ((1, "MOVE: N"), (2, "vou pro sul"), (3, "MOVE: E")):
        machine.handle(PerceptionReceived(pulse(number, score=number), at=float(number)))
        machine.handle(DecisionMade(number, answer, "", at=number + 0.5))
    summary = machine.summary
    assert (summary.pulses, summary.fallbacks, summary.score) == (3, 1, 3)
    assert summary.average_decision == 0.5


def test_template_fills_every_placeholder() -> None:
    briefing = Briefing("{{objetivo}} / {{estrategia}} / {{radar}} / {{protocolo}}", "vá")
    assert briefing.render("comer", "RADAR #1") == f"comer / vá / RADAR #1 / {PROTOCOL_BLOCK}"
    assert not briefing.is_default


def test_a_template_missing_radar_or_protocol_gets_them_appended_with_warnings() -> None:
    template, warnings = prepare_template("Você é um robô. {{estrategia}}")
    assert template.endswith("{{radar}}\n\n{{protocolo}}")
    assert len(warnings) == 2
    complete, none = prepare_template(DEFAULT_TEMPLATE)
    assert (complete, none) == (DEFAULT_TEMPLATE, [])


def test_strategy_presets_by_name_in_english_or_portuguese() -> None:
    assert resolve_strategy("explorer") == STRATEGIES["explorer"]
    assert resolve_strategy("Cauteloso") == STRATEGIES["cautious"]
    assert resolve_strategy("ande em zigue-zague") == "ande em zigue-zague"
