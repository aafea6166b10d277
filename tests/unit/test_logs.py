"""One log pipeline: the libraries' stdlib logging goes through structlog, secrets masked."""

from __future__ import annotations

import logging

import pytest
import structlog

from gambiarra.logs import configure

PIN, KEY = "482913", "sk-segredo-42"


def log_a_failure(logger: logging.Logger) -> None:
    try:
        raise ConnectionError(f"register refused for pin {PIN}")
    except ConnectionError:
        logger.error("connection handler failed (pin=%s, key=%s)", PIN, KEY, exc_info=True)


@pytest.mark.parametrize("name", ["websockets.server", "httpx"])
def test_a_library_record_is_rendered_by_structlog_with_the_pin_masked(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("warning", secrets=(PIN, KEY), cache=False)
    log_a_failure(logging.getLogger(name))
    err = capsys.readouterr().err
    assert PIN not in err
    assert KEY not in err
    assert "connection handler failed (pin=***, key=***)" in err
    assert "[error    ]" in err  # structlog's console renderer, not logging's default
    assert f"[{name}]" in err
    assert "exception='ConnectionError: register refused for pin ***'" in err
    assert "Traceback" not in err  # one line below debug level


def test_at_debug_level_the_traceback_is_shown_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure("debug", secrets=(PIN,), cache=False)
    log_a_failure(logging.getLogger("websockets.client"))
    structlog.get_logger("gambiarra").debug("own_event", detail=f"pin {PIN}")
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "ConnectionError: register refused for pin ***" in err
    assert "detail='pin ***'" in err
    assert PIN not in err


def test_library_chatter_below_the_level_stays_hidden(capsys: pytest.CaptureFixture[str]) -> None:
    configure("warning", cache=False)
    logging.getLogger("websockets.client").info('> TEXT \'{"type":"register"}\'')
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:11434/api/tags")
    assert capsys.readouterr().err == ""


def test_configuring_again_does_not_print_twice(capsys: pytest.CaptureFixture[str]) -> None:
    configure("warning", cache=False)
    configure("warning", cache=False)
    logging.getLogger("asyncio").warning("slow callback")
    assert capsys.readouterr().err.count("slow callback") == 1


@pytest.mark.parametrize("secrets", [(), (PIN,)])
def test_a_model_urls_password_never_reaches_the_log(
    secrets: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """httpx logs every request's URL whole at info level, user:password included."""
    configure("info", secrets=secrets, cache=False)
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s"', "GET", "http://ana:s3gr%40d0@127.0.0.1:11434/api/tags", "200"
    )
    structlog.get_logger().info("model_request", url="https://bob:segredo@llm.lan/v1")
    err = capsys.readouterr().err
    assert "s3gr" not in err
    assert "segredo" not in err
    assert "http://ana:***@127.0.0.1:11434/api/tags" in err
    assert "https://bob:***@llm.lan/v1" in err
