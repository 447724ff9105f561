"""Property-based fuzzing of `qapc lsp` over stdio: it never goes silent, never shows a traceback.

FUZZ_TOTAL (10,000) generated inputs per run, BATCHES batches of BATCH: valid
LSP messages with values mutated (wrong types, missing or extra keys, extreme
numbers, odd ids, batches of one), bodies that are random bytes, JSON that is
no message or a valid body with bytes flipped, cut or inserted, and header
variations a client may send (extra headers, any case, LF line ends). A batch
ends, now and then, with random bytes in a header. Hypothesis draws one seed
per batch and the batch is made from it with `random` (drawing each of 10,000
inputs through Hypothesis took minutes); a failure names the batch's seed and
the input. All batches go to ONE server process (tests/lsp_client.py), a new
one only after a batch that ended its stream. After each batch: every request
among the inputs with a valid id has been answered, a valid request is answered
within ANSWER_S seconds, and stderr holds no traceback; after random bytes in
a header, the server answers, or exits with status 1 and a line on stderr that
says why. qapdsl/lsp/framing.py gets FRAMING_INPUTS more inputs in process.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import string
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lsp_client import Client, frame

from qapdsl.lsp.framing import FramingError, read_frame

pytest.importorskip("pygls")

SPECS = Path(__file__).resolve().parent.parent / "specs"
CORPUS = [p.read_text(encoding="utf-8") for p in sorted(SPECS.glob("*.qap"))]
BATCHES = 40
BATCH = 250
FUZZ_TOTAL = BATCHES * BATCH
ENDS_STREAM = 8  # one batch in about this many ends with random bytes in a header
FRAMING_INPUTS = 1000
ANSWER_S = 10.0
RUN: Counter[str] = Counter()
# In CI the seeds are drawn derandomized, so a landing never depends on luck; locally every run draws new ones.
FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI")))

URIS = ["file:///qap-fuzz/a.qap", "file:///qap-fuzz/b.qap", "untitled:fuzz"]
NAMES = ["fc1", "fc2", "out", "first", "input", "out_softmax", "2x", "", "a" * 70, "model", "é", "x y"]
REQUESTS = [
    "textDocument/hover",
    "textDocument/completion",
    "textDocument/definition",
    "textDocument/references",
    "textDocument/prepareRename",
    "textDocument/rename",
    "textDocument/documentSymbol",
    "textDocument/formatting",
    "textDocument/codeAction",
    "textDocument/implementation",  # a method the server does not have
]
NOTIFICATIONS = [
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didSave",
    "textDocument/didClose",
    "workspace/didChangeWatchedFiles",
    "$/cancelRequest",
    "$/setTrace",
    "workspace/didChangeConfiguration",
]
NUMBERS = [0, 1, 3, 40, -1, -3, 2**31 - 1, 2**31, 2**32, 2**63, -(2**31), 1.5, 1e300, float("nan")]
TEXT = string.printable + "é𝔮\x00\ufeff\u2028"
_ids = itertools.count(1000)


# -- inputs made from one seed ------------------------------------------------------------------------------------


def rand_text(rng: random.Random, most: int = 20) -> str:
    return "".join(rng.choice(TEXT) for _ in range(rng.randint(0, most)))


def rand_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([rng.randint(-(2**64), 2**64), rng.randint(-5, 100)])
    if kind == 3:
        return rng.choice([rng.uniform(-1e9, 1e9), float("inf"), -0.0])
    if kind in (4, 5):
        return rand_text(rng)
    if kind == 6:
        return [rand_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rand_text(rng, 8): rand_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def rand_number(rng: random.Random, most: int) -> Any:
    return rng.randint(0, most) if rng.random() < 0.7 else rng.choice(NUMBERS)


def position(rng: random.Random) -> dict[str, Any]:
    return {"line": rand_number(rng, 60), "character": rand_number(rng, 90)}


def valid_message(rng: random.Random) -> dict[str, Any]:
    """A message a real client could send (bar its positions and names, which may be anything in range)."""
    uri = rng.choice(URIS)
    doc = {"uri": uri}
    text = rng.choice(CORPUS)
    if rng.random() < 0.5:
        method = rng.choice(REQUESTS)
        pos = position(rng)
        params: dict[str, Any] = {"textDocument": doc, "position": pos}
        if method == "textDocument/references":
            params["context"] = {"includeDeclaration": rng.random() < 0.5}
        elif method == "textDocument/rename":
            params["newName"] = rng.choice(NAMES)
        elif method == "textDocument/documentSymbol":
            params = {"textDocument": doc}
        elif method == "textDocument/formatting":
            params = {"textDocument": doc, "options": {"tabSize": 4, "insertSpaces": True}}
        elif method == "textDocument/codeAction":
            params = {"textDocument": doc, "range": {"start": pos, "end": position(rng)}, "context": {"diagnostics": []}}
        rid: Any = next(_ids)
        rid = rid if rng.random() < 0.7 else f"r{rid}"
        SENT[:] = [*SENT[-20:], rid]
        return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
    method = rng.choice(NOTIFICATIONS)
    if method == "textDocument/didOpen":
        params = {"textDocument": {"uri": uri, "languageId": "qap", "version": rng.randint(0, 5), "text": text}}
    elif method == "textDocument/didChange":
        change: dict[str, Any] = {"text": rng.choice([text, text[:40], "", "model m {", "}}}", rand_text(rng)])}
        if rng.random() < 0.5:
            change["range"] = {"start": position(rng), "end": position(rng)}
        params = {"textDocument": {"uri": uri, "version": rng.randint(0, 50)}, "contentChanges": [change] if rng.random() < 0.9 else []}
    elif method == "workspace/didChangeWatchedFiles":
        params = {"changes": [{"uri": uri, "type": rng.randint(1, 3)}]}
    elif method == "$/cancelRequest":
        params = {"id": rng.randint(0, 12000)}
    elif method == "$/setTrace":
        params = {"value": rng.choice(["off", "messages", "verbose"])}
    elif method == "workspace/didChangeConfiguration":
        params = {"settings": rand_json(rng)}
    else:
        params = {"textDocument": doc}
    return {"jsonrpc": "2.0", "method": method, "params": params}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def mutated_message(rng: random.Random) -> Any:
    """A valid message with one to three values replaced, keys dropped or added (never the method: no shutdown, no exit)."""
    msg = valid_message(rng)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(msg) if p and p[0] != "method"]
        if not paths:
            break
        path = rng.choice(paths)
        parent: Any = msg
        for key in path[:-1]:
            parent = parent[key]
        op = rng.choice(["replace", "number", "drop", "add", "wrap"])
        if op == "replace":
            parent[path[-1]] = rand_json(rng)
        elif op == "number":
            parent[path[-1]] = rng.choice(NUMBERS)
        elif op == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif op == "add" and isinstance(parent, dict):
            parent[rand_text(rng, 8)] = rand_json(rng)
        elif op == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
    if msg.get("method") in ("shutdown", "exit"):  # an added key may have replaced it
        msg["method"] = "textDocument/hover"
    return [msg] if rng.random() < 0.05 else msg  # now and then a batch of one


def damaged_body(rng: random.Random) -> bytes:
    """Bytes that are not a message: random, JSON that is no object, a valid body with bytes flipped, cut or inserted."""
    kind = rng.choice(["random", "json", "flip", "cut", "insert"])
    if kind == "random":
        return rng.randbytes(rng.randint(0, 300))
    if kind == "json":
        return json.dumps(rand_json(rng)).encode()
    body = bytearray(json.dumps(valid_message(rng)).encode())
    i = rng.randrange(len(body))
    if kind == "flip":
        body[i] = rng.randrange(256)
    elif kind == "cut":
        del body[i:]
    else:
        body[i:i] = rng.choice([b"\x00", b"\xff", b"{", b"}", b'"', b",", b"\\", b"\xed\xa0\x80", b"\r\n\r\n", b"Content-Length: 5\r\n"])
    return bytes(body)


SENT: list[Any] = []  # ids of requests made lately: a "response" may name one of the client's own pending requests


def response(rng: random.Random) -> dict[str, Any]:
    """A response from the client, to no request of the server (or to one of its own)."""
    rid = rng.choice(SENT) if SENT and rng.random() < 0.7 else rand_json(rng)
    answer = {"result": rand_json(rng)} if rng.random() < 0.5 else {"error": rng.choice([{"code": -32603, "message": "no"}, rand_json(rng)])}
    return {"jsonrpc": "2.0", "id": rid, **answer}


TOKEN = string.ascii_letters + string.digits + "-_.!#$%&'*+^`|~"


def header_variant(rng: random.Random) -> tuple[bytes, bytes]:
    """A message in a frame with headers a client may write: extra ones, any case, LF line ends, blank lines first."""
    body = json.dumps(valid_message(rng) if rng.random() < 0.5 else mutated_message(rng)).encode()
    eol = rng.choice([b"\r\n", b"\n"])
    name = rng.choice([b"Content-Length", b"content-length", b"CONTENT-LENGTH", b"Content-length"])
    lines = [name + b":" + rng.choice([b" ", b"", b"  ", b"\t"]) + str(len(body)).encode() + rng.choice([b"", b" "])]
    for _ in range(rng.randint(0, 3)):
        extra = "".join(rng.choice(TOKEN) for _ in range(rng.randint(1, 20))).encode()
        if extra.lower() != b"content-length":
            value = "".join(rng.choice(string.printable[:95]) for _ in range(rng.randint(0, 40))).encode()
            lines.insert(rng.randint(0, len(lines)), extra + b": " + value)
    return rng.choice([b"", b"\r\n", b"\n\n"]) + eol.join(lines) + eol + eol + body, body


def _framed(make: Callable[[random.Random], Any]) -> Callable[[random.Random], tuple[bytes, bytes]]:
    def framed(rng: random.Random) -> tuple[bytes, bytes]:
        value = make(rng)
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        return frame(body), body

    return framed


KINDS: dict[str, Callable[[random.Random], tuple[bytes, bytes]]] = {
    "mutated message": _framed(mutated_message),
    "valid message": _framed(valid_message),
    "damaged body": _framed(damaged_body),
    "header variant": header_variant,
    "response": _framed(response),
}
WEIGHTS = [43, 10, 30, 14, 3]


def header_garbage(rng: random.Random) -> bytes:
    """Random bytes somewhere in the headers of a frame (a `shutdown` request, id "last")."""
    body = json.dumps({"jsonrpc": "2.0", "id": "last", "method": "shutdown"}).encode()
    garbage = rng.randbytes(rng.randint(1, 60))
    header = b"Content-Length: %d\r\n" % len(body)
    return rng.choice([garbage + header, header + garbage, b"Content-" + garbage + b"Length: %d\r\n" % len(body)]) + b"\r\n" + body


# -- the property ---------------------------------------------------------------------------------------------------


def ids_to_answer(body: bytes) -> list[Any]:
    """The ids JSON-RPC says must be answered: those of requests (objects with a method) with an integer or string id."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return []
    items = data if isinstance(data, list) else [data]
    return [i["id"] for i in items if isinstance(i, dict) and "method" in i and isinstance(i.get("id"), (int, str)) and not isinstance(i.get("id"), bool)]


class Servers:
    """The server process the batches go to (a new one only after a batch that ended the stream)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.client: Client | None = None
        self.started = 0

    def current(self) -> Client:
        if self.client is None:
            self.client = Client(self.tmp)
            self.client.initialize(self.tmp)
            self.started += 1
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


def run_batch(servers: Servers, seed: int) -> None:
    rng = random.Random(seed)
    c = servers.current()
    pending: set[Any] = set()
    for i in range(BATCH):
        kind = rng.choices(list(KINDS), WEIGHTS)[0]
        raw, body = KINDS[kind](rng)
        RUN[kind] += 1
        pending.update(ids_to_answer(body))
        try:
            c.write(raw)
        except OSError:
            pytest.fail(f"seed {seed}, input {i} ({kind}): the server is gone: {raw[:300]!r}\n{c.stderr()}")
    where = f"batch of seed {seed}"
    assert c.proc.poll() is None, f"{where}: the server exited ({c.proc.returncode}): {c.stderr()}"
    c.await_ids(pending, timeout=ANSWER_S)  # first: waiting for another answer would pass these by
    answer = c.request_raw("textDocument/hover", {"textDocument": {"uri": URIS[0]}, "position": {"line": 0, "character": 0}}, timeout=ANSWER_S)
    assert "result" in answer or "error" in answer
    c.notifications.clear()
    err = c.stderr(whole=True)
    assert "Traceback" not in err, f"{where}: {err[max(err.index('Traceback') - 500, 0) : err.index('Traceback') + 3000]}"
    if rng.randrange(ENDS_STREAM) == 0:
        RUN["header garbage"] += 1
        c.write(header_garbage(rng) + frame(json.dumps({"jsonrpc": "2.0", "id": "after", "method": "shutdown"}).encode()))
        try:
            c.response("after", timeout=ANSWER_S)  # the garbage happened to be a header: answered
        except EOFError:
            code, err = c.until_exit(ANSWER_S)
            assert code == 1 and "qapc lsp: " in err and "the server exits" in err and "Traceback" not in err, (where, code, err)
        servers.close()


def test_fuzz_the_server_over_stdio(tmp_path: Path) -> None:
    (tmp_path / "base.qap").write_text(CORPUS[0], encoding="utf-8")  # a file of the workspace for references and renames
    servers = Servers(tmp_path)
    batches = 0

    @settings(FUZZ, max_examples=BATCHES, phases=[Phase.generate])  # a smaller seed is no simpler batch: no shrinking
    @given(st.integers(0, 2**32))
    def run(seed: int) -> None:
        nonlocal batches
        batches += 1
        run_batch(servers, seed)

    try:
        run()
    finally:
        servers.close()
    print(f"{batches} batches, {sum(RUN[k] for k in KINDS)} inputs ({dict(RUN)}), {servers.started} server processes")
    assert batches >= BATCHES and sum(RUN[k] for k in KINDS) >= FUZZ_TOTAL >= 10_000
    assert all(RUN[k] > 0 for k in KINDS)


# -- the framing layer alone, on random header bytes ---------------------------------------------------------------


def test_fuzz_framing_of_random_bytes() -> None:
    count = 0

    @settings(FUZZ, max_examples=FRAMING_INPUTS)
    @given(
        st.binary(max_size=200)
        | st.lists(st.sampled_from([b"Content-Length: ", b"1", b"-", b"\r\n", b"\n", b":", b" ", b"\xff", b"{}", b"X-A: b"]), max_size=30).map(b"".join)
    )
    def run(data: bytes) -> None:
        nonlocal count
        count += 1
        stream = io.BytesIO(data)
        try:
            while (body := read_frame(stream)) is not None:
                assert len(body) <= len(data)
        except FramingError as e:
            assert str(e) and len(str(e)) < 200 and "\n" not in str(e)

    run()
    assert count >= FRAMING_INPUTS
