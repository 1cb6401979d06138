"""A real headless Chromium that opens a page and reports what it shows.

Driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: commands on the
browser's fd 3, answers on its fd 4, each a JSON message ending in a NUL byte), so no driver
package and no network port are needed. CI installs Debian's ``chromium``; elsewhere the tests
that need it skip when it is absent.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]

# Every <img> of the page: its source (shortened), whether it finished, its natural size; and
# whether the page is wider than the window (a phone would have to scroll sideways).
_INSPECT = """JSON.stringify({
  images: Array.from(document.images).map(i => ({
    src: i.getAttribute('src').slice(0, 60), complete: i.complete,
    width: i.naturalWidth, height: i.naturalHeight})),
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  title: document.title,
  text: document.body.innerText})"""


@dataclass
class PageReport:
    images: list[dict]
    scroll_width: int
    inner_width: int
    title: str
    text: str
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads


class Chromium:
    """One browser process; `open` loads a page in a fresh tab."""

    def __init__(self, exe: str, timeout: float = 60.0):
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="diffdepth-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()
        # a small Python trampoline moves the pipe ends to fds 3 and 4, then becomes the
        # browser; they are moved above 9 first, so that neither is 3 or 4 already
        cmd_r, out_w = (self._high_fd(fd) for fd in (cmd_r, out_w))
        trampoline = (
            "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
            "os.execv(sys.argv[3], sys.argv[3:])"
        )
        self._log = open(Path(self._profile.name) / "stderr.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                trampoline,
                str(cmd_r),
                str(out_w),
                exe,
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
            ],
            pass_fds=(cmd_r, out_w),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        os.close(cmd_r)
        os.close(out_w)
        self._buf = b""
        self._id = 0
        self._events: list[dict] = []

    @staticmethod
    def _high_fd(fd: int) -> int:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return high

    def _stderr_tail(self) -> str:
        self._log.flush()
        text = (Path(self._profile.name) / "stderr.log").read_text(errors="replace")
        return text[-2000:]

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        except BrokenPipeError:
            raise RuntimeError(f"chromium has exited: {self._stderr_tail()}") from None
        while True:
            m = self._read()
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self._events.append(m)

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._out_r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._out_r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium closed the pipe: {self._stderr_tail()}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _wait_event(self, method: str, session: str) -> None:
        for i, m in enumerate(self._events):
            if m.get("method") == method and m.get("sessionId") == session:
                del self._events[i]
                return
        while True:
            m = self._read()
            if m.get("method") == method and m.get("sessionId") == session:
                return
            self._events.append(m)

    def open(
        self, path: Path, width: int = 1280, height: int = 900, screenshot: Path | None = None
    ) -> PageReport:
        """Load ``path`` in a ``width`` x ``height`` window (a phone when width < 600), wait
        for its load event, and report its images and every error it logged."""
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self._send(f"{domain}.enable", session=session)
        self._send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
            session,
        )
        self._events = [m for m in self._events if m.get("sessionId") != session]
        self._send("Page.navigate", {"url": path.resolve().as_uri()}, session)
        self._wait_event("Page.loadEventFired", session)
        value = self._send(
            "Runtime.evaluate", {"expression": _INSPECT, "returnByValue": True}, session
        )["result"]["value"]
        info = json.loads(value)
        if screenshot is not None:
            size = self._send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = self._send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
                },
                session,
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        errors = []
        for m in self._events:
            if m.get("sessionId") != session:
                continue
            p = m.get("params", {})
            if m.get("method") == "Runtime.consoleAPICalled" and p.get("type") in (
                "error",
                "assert",
            ):
                errors.append(f"console: {p.get('args')}")
            elif m.get("method") == "Runtime.exceptionThrown":
                errors.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
            elif m.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
                errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        self._send("Target.closeTarget", {"targetId": target})
        return PageReport(
            images=info["images"],
            scroll_width=info["scrollWidth"],
            inner_width=info["innerWidth"],
            title=info["title"],
            text=info["text"],
            errors=errors,
        )

    def close(self) -> None:
        try:
            self._send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._out_r)
        self._log.close()
        self._profile.cleanup()


@pytest.fixture(scope="session")
def chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium for the report tests (.ci/run installs it)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    browser = Chromium(exe)
    yield browser
    browser.close()


@pytest.fixture
def artifacts() -> Path:
    """Folder for screenshots kept after the tests (git ignores it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
