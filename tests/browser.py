"""Debian's Chromium, headless, for the tests that look at pages as a reader does.

One browser serves every page a test opens (starting one costs more than loading a page). It is
driven over the DevTools protocol through the ``websockets`` client the tests already have, on a
port Chromium picks itself on 127.0.0.1. Host names resolve to nothing but 127.0.0.1, so a page
that wanted a CDN shows it: ``requests`` lists every URL the pages asked for.
"""
import base64
import contextlib
import json
import subprocess
import tempfile
import time
from pathlib import Path

from websockets.sync.client import connect

from tests.peers import chromium_binary

# The flags that keep a headless Chromium from reaching for the network (updates, sync, field
# trials) and working without a display or a sandbox (the tests run as root).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--force-device-scale-factor=1"]


class Browser:
    """A headless Chromium with one tab of ``width`` x ``height`` CSS pixels; close() ends it."""

    def __init__(self, workdir: Path, width: int = 1280, height: int = 900):
        self.width, self.height = width, height
        self.requests = []  # every URL a page asked for, in order
        profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir))  # nothing from an earlier run
        self._log = workdir / "chromium.log"
        with open(self._log, "wb") as log:
            self.process = subprocess.Popen(
                [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 "--remote-debugging-port=0", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            port, path = self._devtools_address(profile / "DevToolsActivePort")
            self._closing = contextlib.ExitStack()
            self._socket = self._closing.enter_context(
                connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=10))
            self._next_id = 0
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for method in ("Page.enable", "Network.enable", "DOM.enable"):
                self.call(method)
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                      mobile=False)
        except BaseException:
            self.close()
            raise

    def _devtools_address(self, port_file: Path):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lines = port_file.read_text().split() if port_file.exists() else []
            if len(lines) == 2:
                return lines
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"Chromium did not start its DevTools endpoint:\n{self._log.read_text(errors='replace')}")

    def _call(self, method: str, params: dict, session=None, timeout: float = 30) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._socket.recv(timeout=max(0.0, deadline - time.monotonic())))
            if reply.get("method") == "Network.requestWillBeSent":
                self.requests.append(reply["params"]["request"]["url"])
            elif reply.get("method") == "Page.loadEventFired":
                self._loaded = True
            elif reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def call(self, method: str, **params) -> dict:
        """A DevTools command in the tab (``Page.navigate``, ``DOM.getDocument``...)."""
        return self._call(method, params, self._session)

    def evaluate(self, expression: str, timeout: float = 30):
        """The value of a JavaScript expression in the page; a promise is awaited."""
        result = self._call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                 "returnByValue": True}, self._session, timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, timeout: float = 30) -> None:
        """Load ``url`` and wait for its load event."""
        self._loaded = False
        navigation = self.call("Page.navigate", url=url)
        if navigation.get("errorText"):
            raise RuntimeError(f"{url}: {navigation['errorText']}")
        deadline = time.monotonic() + timeout
        while not self._loaded:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: no load event within {timeout} s")
            self.evaluate("0")  # reads the events that came meanwhile

    def shadow_texts(self, selector_class: str):
        """The text inside each element of class ``selector_class`` whose content is in a shadow
        root (closed ones too, which page scripts cannot read), as one string per element, with
        whether that shadow root holds an ``<svg>``."""
        found = []

        def texts(node):
            if node.get("nodeType") == 3:
                yield node["nodeValue"]
            for child in node.get("children", []) + node.get("shadowRoots", []):
                yield from texts(child)

        def has_svg(node):
            return node.get("localName") == "svg" or any(has_svg(c) for c in node.get("children", []))

        def walk(node):
            attributes = dict(zip(node.get("attributes", [])[::2], node.get("attributes", [])[1::2]))
            if selector_class in attributes.get("class", "").split() and node.get("shadowRoots"):
                root = node["shadowRoots"][0]
                found.append((has_svg(root), " ".join(" ".join(texts(root)).split())))
            for child in node.get("children", []) + node.get("shadowRoots", []):
                walk(child)

        walk(self.call("DOM.getDocument", depth=-1, pierce=True)["root"])
        return found

    def screenshot(self, path: Path, top: float = 0, height: float = 6000) -> Path:
        """The page from ``top`` down, ``height`` pixels of it at most, as a PNG at ``path``."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": top, "width": self.width, "height": min(size["height"] - top, height), "scale": 1}
        shot = self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        if hasattr(self, "_closing"):
            self._closing.close()
        self.process.terminate()  # Chromium ends its renderers and itself on SIGTERM
        self.process.wait(30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
