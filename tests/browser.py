"""A page opened in a real headless Chromium (Debian's ``chromium``), driven over the
DevTools protocol on a pipe (``--remote-debugging-pipe``: file descriptors 3 and 4, JSON
messages ended by NUL), so that the tests need no browser driver package: what the page
logged (console messages, script exceptions, failed loads), its text, and a screenshot."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 60


def find() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


@dataclass(frozen=True)
class Page:
    problems: list[str]  # console errors and warnings, exceptions, failed loads
    values: dict[str, object]  # each expression asked for -> its value in the page
    screenshot: bytes  # PNG of the whole page


class _Pipe:
    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int):
        self.proc, self.to_browser, self.from_browser = proc, to_browser, from_browser
        self.buffer, self.next_id, self.events = b"", 0, []

    def receive(self) -> dict:
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError(f"the browser closed its pipe (exit {self.proc.poll()})")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self.receive())


def _launch(browser: str, profile: str) -> _Pipe:
    browser_reads, we_write = os.pipe()
    we_read, browser_writes = os.pipe()

    def descriptors() -> None:  # in the child: its ends as fds 3 and 4, kept across exec
        os.dup2(os.dup(browser_reads), 3)
        os.dup2(os.dup(browser_writes), 4)

    proc = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
         f"--user-data-dir={profile}", "--window-size=1100,900", "about:blank"],
        close_fds=False, preexec_fn=descriptors,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(browser_reads)
    os.close(browser_writes)
    return _Pipe(proc, we_write, we_read)


def _problems(events: list[dict]) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning"):
            found.append(f"console.{params['type']}: {params['args']}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            found.append(f"{params['entry']['source']}: {params['entry']['text']}")
    return found


def open_page(path: Path, expressions: dict[str, str]) -> Page:
    """Load ``path`` in headless Chromium, evaluate ``expressions`` (name -> JavaScript)
    after it loaded, and take a screenshot of the whole page."""
    browser = find()
    if browser is None:
        raise FileNotFoundError("no Chromium: `apt-get install chromium`")
    with tempfile.TemporaryDirectory() as profile:
        pipe = _launch(browser, profile)
        watchdog = threading.Timer(TIMEOUT_S, pipe.proc.kill)  # a hung page: its pipe closes
        watchdog.start()
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"})
            attached = pipe.call("Target.attachToTarget", {**target, "flatten": True})
            session = attached["sessionId"]
            for domain in ("Runtime", "Log", "Page"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call("Page.navigate", {"url": Path(path).resolve().as_uri()}, session)
            pipe.wait_for("Page.loadEventFired")
            values = {
                name: pipe.call(
                    "Runtime.evaluate", {"expression": code, "returnByValue": True}, session
                )["result"].get("value")
                for name, code in expressions.items()
            }
            shot = pipe.call(
                "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session
            )
            pipe.call("Browser.close")
            return Page(_problems(pipe.events), values, base64.b64decode(shot["data"]))
        finally:
            watchdog.cancel()
            if pipe.proc.poll() is None:
                try:
                    pipe.proc.wait(TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    pipe.proc.kill()
            os.close(pipe.to_browser)
            os.close(pipe.from_browser)
