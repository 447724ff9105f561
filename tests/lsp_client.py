"""A minimal LSP client over stdio for the language-server tests and benchmarks/lsp_latency.py.

Content-Length framing, requests with ids, notifications kept in order with the
time they arrived. Every read has a timeout and `close` kills the server
whatever happens, so a broken server fails a test instead of hanging it.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TIMEOUT = 15.0


def qapc_lsp() -> list[str]:
    exe = Path(sys.executable).with_name("qapc")
    if exe.exists():
        return [str(exe), "lsp"]
    found = shutil.which("qapc")
    return [found, "lsp"] if found else [sys.executable, "-m", "qapdsl.cli", "lsp"]


class ResponseError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.code = error.get("code")
        self.message = error.get("message", "")


class Client:
    """Talks to `qapc lsp` in a subprocess."""

    def __init__(self, cwd: Path, argv: list[str] | None = None) -> None:
        self.proc = subprocess.Popen(argv or qapc_lsp(), cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: queue.Queue[tuple[float, dict[str, Any]] | None] = queue.Queue()
        self.notifications: list[tuple[float, dict[str, Any]]] = []
        self.next_id = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._err: list[bytes] = []  # read all along: a server that logs much must never block on a full pipe
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()

    def _read_err(self) -> None:
        err = self.proc.stderr
        assert err is not None
        try:
            for chunk in iter(lambda: err.read1(65536), b""):
                self._err.append(chunk)
        except (OSError, ValueError):
            pass

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                headers: dict[str, str] = {}
                while True:
                    line = out.readline()
                    if not line:
                        self.messages.put(None)
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = out.read(int(headers["content-length"]))
                self.messages.put((time.monotonic(), json.loads(body)))
        except (OSError, ValueError, KeyError):
            self.messages.put(None)

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8"))

    def send_bytes(self, body: bytes) -> None:
        self.write(frame(body))

    def write(self, raw: bytes) -> None:
        """Bytes as they are: no framing added (tests of what the server makes of bad frames)."""
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(raw)
        stdin.flush()

    def _next(self, deadline: float) -> tuple[float, dict[str, Any]]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no message from the server in time")
        try:
            msg = self.messages.get(timeout=remaining)
        except queue.Empty:
            raise TimeoutError("no message from the server in time") from None
        if msg is None:
            self.messages.put(None)  # for every later read too
            raise EOFError("the server closed its output: " + self.stderr())
        return msg

    def _keep(self, at: float, msg: dict[str, Any]) -> None:
        if "method" in msg and "id" in msg:  # a request from the server (e.g. registerCapability)
            self.send({"id": msg["id"], "result": None})
        elif "method" in msg:
            self.notifications.append((at, msg))

    def request_raw(self, method: str, params: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The whole response message (result or error)."""
        self.next_id += 1
        rid = self.next_id
        self.send({"id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            at, msg = self._next(deadline)
            if msg.get("id") == rid and "method" not in msg:
                return msg
            self._keep(at, msg)

    def response(self, rid: int | str | None, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next response with this id (None: an error about a message whose id the server could not know)."""
        deadline = time.monotonic() + timeout
        while True:
            at, msg = self._next(deadline)
            if "method" not in msg and "id" in msg and msg["id"] == rid:
                return msg
            self._keep(at, msg)

    def await_ids(self, pending: set[Any], timeout: float = TIMEOUT) -> None:
        """Wait until every request id in `pending` has been answered (removing them); TimeoutError names the rest."""
        deadline = time.monotonic() + timeout
        while pending:
            try:
                at, msg = self._next(deadline)
            except TimeoutError:
                raise TimeoutError(f"no answer in {timeout:.0f} s to the requests {sorted(map(str, pending))[:10]}") from None
            if "method" not in msg and "id" in msg:
                pending.discard(msg["id"])
            else:
                self._keep(at, msg)

    def until_exit(self, timeout: float = TIMEOUT) -> tuple[int, str]:
        """Wait for the server to exit (keeping what it sends until then): its exit status and stderr."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                at, msg = self._next(deadline)
            except EOFError:
                break
            self._keep(at, msg)
        code = self.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        return code, self.stderr(whole=True)

    def request(self, method: str, params: Any, timeout: float = TIMEOUT) -> Any:
        msg = self.request_raw(method, params, timeout)
        if "error" in msg:
            raise ResponseError(msg["error"])
        return msg.get("result")

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def wait_for(self, method: str, match: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT) -> tuple[float, dict[str, Any]]:
        """The first notification (already received or to come) with this method whose params match, with its arrival time."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (at, n) in enumerate(self.notifications):
                if n["method"] == method and match(n["params"]):
                    del self.notifications[i]
                    return at, n["params"]
            at, msg = self._next(deadline)
            self._keep(at, msg)

    def diagnostics(self, uri: str, version: int | None = None) -> list[dict[str, Any]]:
        """The next diagnostics published for the document (for exactly `version`, when given)."""

        def match(p: dict[str, Any]) -> bool:
            return bool(p["uri"] == uri and (version is None or p.get("version") == version))

        return self.wait_for("textDocument/publishDiagnostics", match)[1]["diagnostics"]  # type: ignore[no-any-return]

    def drain(self, seconds: float) -> None:
        """Collect whatever arrives in the next `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                at, msg = self._next(deadline)
            except TimeoutError:
                return
            self._keep(at, msg)

    def initialize(self, root: Path | None) -> dict[str, Any]:
        caps = {"workspace": {"workspaceEdit": {"documentChanges": True}}, "textDocument": {"publishDiagnostics": {"relatedInformation": True}}}
        result = self.request("initialize", {"processId": None, "rootUri": root.as_uri() if root else None, "capabilities": caps})
        self.notify("initialized", {})
        return result  # type: ignore[no-any-return]

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "qap", "version": version, "text": text}})

    def change(self, uri: str, version: int, text: str) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]})

    def insert(self, uri: str, version: int, line: int, character: int, text: str) -> None:
        """An incremental change: `text` typed at (line, character)."""
        pos = {"line": line, "character": character}
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": {"start": pos, "end": pos}, "text": text}]},
        )

    def stderr(self, whole: bool = False) -> str:
        """What the server wrote on stderr so far (all of it once it has exited); the end of it unless `whole`."""
        if self.proc.poll() is not None:
            self.err_reader.join(timeout=TIMEOUT)
        text = b"".join(self._err).decode("utf-8", "replace")
        return text if whole else text[-2000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def position(text: str, needle: str, nth: int = 0, offset: int = 0) -> dict[str, int]:
    """The LSP position of the nth occurrence of `needle` (plus `offset` characters)."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    return {"line": line, "character": index - (text.rfind("\n", 0, index) + 1)}
