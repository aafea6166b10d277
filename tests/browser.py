"""Headless Chromium for tests of the live page, driven over the DevTools protocol.

Chromium's own CLI and its DevTools WebSocket are all we need (no driver to
download): ``Chromium()`` starts the browser on a private profile, ``open()``
loads a page, ``Page.wait_for()`` waits for a condition in the page without
polling from here (a MutationObserver resolves a promise when it holds).

Nothing leaves this machine: every host name but localhost fails to resolve,
and anything not for loopback goes to a proxy address where nothing listens.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
from anyio.streams.text import TextReceiveStream
from websockets.asyncio.client import ClientConnection, connect

__all__ = ["CHROMIUM", "NO_BROWSER", "Chromium", "Page"]

CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)
NO_BROWSER = "headless Chromium is not installed (Debian: apt-get install chromium)"

_FLAGS = [
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--metrics-recording-only",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",  # loopback itself is never proxied
    "--remote-debugging-port=0",
]
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")

# Installed before any script of the page runs (the page's policy does not apply to it).
_WATCH = """
window.__violations = [];
window.__errors = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(e.violatedDirective + " " + e.blockedURI));
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
"""


# A promise that resolves once CONDITION holds, checked after every change of the document.
_WAIT_FOR = """new Promise((resolve) => {
  const check = () => {
    let value;
    try { value = (CONDITION); } catch (error) { value = undefined; }
    if (value) { observer.disconnect(); resolve(value); }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, {subtree: true, childList: true, characterData: true,
                              attributes: true});
  check();
})"""


@dataclass
class _Inbox:
    """DevTools events read while waiting for answers, kept for ``events()``."""

    events: list[dict[str, Any]] = field(default_factory=list)


class Chromium:
    """A headless Chromium for the length of an ``async with`` block."""

    def __init__(self) -> None:
        assert CHROMIUM is not None, NO_BROWSER
        self._profile = tempfile.mkdtemp(prefix="gambiarra-chromium-")
        self._process: anyio.abc.Process | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._endpoint: str | None = None
        self._listening = anyio.Event()
        self._ws: ClientConnection | None = None
        self._next_id = 0
        self._inbox = _Inbox()
        self.log: list[str] = []  # what the browser printed, for failure messages

    async def __aenter__(self) -> Chromium:
        assert CHROMIUM is not None
        sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []  # root: CI containers
        args = [CHROMIUM, *_FLAGS, *sandbox, f"--user-data-dir={self._profile}", "about:blank"]
        self._process = await anyio.open_process(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._read_stderr)
        await self._listening.wait()
        assert self._endpoint is not None, "\n".join(self.log[-20:])
        self._ws = await connect(self._endpoint, max_size=None)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            if self._ws is not None:
                await self._ws.close()
            if self._process is not None:
                self._process.terminate()
                with anyio.move_on_after(5):
                    await self._process.wait()
                if self._process.returncode is None:
                    self._process.kill()
                    await self._process.wait()
        assert self._group is not None
        self._group.cancel_scope.cancel()  # the stderr reader (scopes close in order)
        await self._group.__aexit__(None, None, None)
        shutil.rmtree(self._profile, ignore_errors=True)

    async def _read_stderr(self) -> None:
        # Read to the end: a full pipe would stall the browser.
        assert self._process is not None
        assert self._process.stderr is not None
        pending = ""
        async for text in TextReceiveStream(self._process.stderr, errors="replace"):
            pending += text
            *lines, pending = pending.split("\n")
            for line in lines:
                self.log.append(line)
                found = _LISTENING.search(line)
                if found and self._endpoint is None:
                    self._endpoint = found[1]
                    self._listening.set()
        self._listening.set()  # the browser ended before listening: __aenter__ says so

    # ------------------------------------------------------------ DevTools

    async def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """One DevTools command; its result (events read meanwhile are kept)."""
        assert self._ws is not None
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        await self._ws.send(json.dumps(message))
        while True:
            answer = json.loads(await self._ws.recv())
            if answer.get("id") != self._next_id:
                self._inbox.events.append(answer)
                continue
            if "error" in answer:
                raise RuntimeError(f"{method}: {answer['error']}")
            result: dict[str, Any] = answer.get("result", {})
            return result

    async def wait_event(
        self, method: str, session: str, matches: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """The parameters of the first event ``method`` of ``session`` that ``matches``."""
        assert self._ws is not None
        seen = 0
        while True:
            for event in self._inbox.events[seen:]:
                if (
                    event.get("method") == method
                    and event.get("sessionId") == session
                    and matches(event["params"])
                ):
                    params: dict[str, Any] = event["params"]
                    return params
            seen = len(self._inbox.events)
            self._inbox.events.append(json.loads(await self._ws.recv()))

    def events(self, method: str) -> Iterator[dict[str, Any]]:
        """Every event ``method`` read so far (parameters only)."""
        return (e["params"] for e in self._inbox.events if e.get("method") == method)

    async def open(self, url: str) -> Page:
        """A new tab showing ``url`` (its document committed; wait for what it shows)."""
        target = await self.call("Target.createTarget", {"url": "about:blank"})
        attached = await self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            await self.call(f"{domain}.enable", session=session)
        await self.call("Page.addScriptToEvaluateOnNewDocument", {"source": _WATCH}, session)
        await self.call("Page.navigate", {"url": url}, session)
        # The page's own document is in place (or an error page, if it could not load).
        navigated = await self.wait_event(
            "Page.frameNavigated",
            session,
            lambda params: (
                "parentId" not in params["frame"] and params["frame"]["url"] != "about:blank"
            ),
        )
        failed = [e["errorText"] for e in self.events("Network.loadingFailed")]
        assert navigated["frame"]["url"] == url, f"{url} did not load: {failed}"
        return Page(self, session)


@dataclass
class Page:
    """One tab."""

    browser: Chromium
    session: str

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (a promise is awaited)."""
        answer = await self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            self.session,
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def wait_for(self, condition: str) -> Any:
        """Wait until ``condition`` (a JavaScript expression) is truthy in the page; its value.

        Checked now and after every change of the document: no polling.
        """
        return await self.evaluate(_WAIT_FOR.replace("CONDITION", condition))

    def requested(self) -> list[str]:
        """Every URL the page asked the network for."""
        return [e["request"]["url"] for e in self.browser.events("Network.requestWillBeSent")]
