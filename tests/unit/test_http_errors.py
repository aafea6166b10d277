"""What the participant reads when the model server's HTTP fails, by how far the request got."""

from __future__ import annotations

import httpx
import pytest

from gambiarra.adapters.http_errors import translate_http_errors
from gambiarra.errors import RunnerFailed, RunnerUnavailable

WHERE = "http://127.0.0.1:11434"
HINT = "inicie o Ollama (ollama serve)"
REQUEST = httpx.Request("POST", WHERE + "/api/generate")


@pytest.mark.parametrize(
    ("error", "answered", "kind", "said"),
    [
        (httpx.ConnectError("refused"), False, RunnerUnavailable,
         f"o Ollama não responde em {WHERE}: {HINT}"),
        (httpx.ReadTimeout("slow"), True, RunnerFailed,
         "o Ollama ficou tempo demais sem mandar nada: confira se o modelo travou ou aumente "
         "--runner-timeout"),
        (httpx.ConnectTimeout("handshake"), False, RunnerFailed,
         f"o Ollama não completou a conexão em {WHERE}: confira o endereço (http:// ou "
         "https://?) e se o servidor está rodando"),
        (httpx.PoolTimeout("pool"), False, RunnerFailed,
         "o Ollama parou de responder: confira se ele ainda está rodando"),
        (httpx.RemoteProtocolError("Bad status line"), False, RunnerFailed,
         f"o Ollama não respondeu como um servidor de modelo em {WHERE} (fechou a conexão ou "
         "mandou algo que não é HTTP): confira se o endereço é mesmo o dele"),
        (httpx.RemoteProtocolError("incomplete chunked read"), True, RunnerFailed,
         "o modelo parou no meio da resposta: o Ollama fechou a conexão; confira se o servidor "
         "caiu"),
        (httpx.ReadError("reset"), True, RunnerFailed,
         "o modelo parou no meio da resposta: o Ollama fechou a conexão; confira se o servidor "
         "caiu"),
    ],
)  # fmt: skip
def test_each_failure_is_told_in_the_participants_terms(
    error: httpx.HTTPError, answered: bool, kind: type[Exception], said: str
) -> None:
    def fail() -> None:
        with translate_http_errors("o Ollama", WHERE, HINT) as exchange:
            exchange.answered = answered
            raise error

    with pytest.raises(kind) as raised:
        fail()
    assert str(raised.value) == said
    assert raised.value.__cause__ is None  # no library traceback behind it
