"""`qapc lsp` never goes deaf: bytes written by hand to a real server's stdin (qapdsl/lsp/framing.py, rpc.py).

Every body that is not a well-formed message is answered (id null where its id
cannot be known) and the server answers the next request; a request with
invalid params gets Invalid Params; framing that cannot be followed ends the
server with exit status 1 and a line on stderr that says why.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsp_client import Client, frame, position

from qapdsl.lsp.framing import MAX_BODY, MAX_HEADER_LINE, FramingError, read_frame

pytest.importorskip("pygls")

SPEC = "model m {\n    input 64\n    dense out 10 softmax\n}\ntrain { data sklearn digits }\n"
QUICK = 10.0  # seconds: an answer, or the exit, comes within this


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[tuple[Client, str]]:
    c = Client(tmp_path)
    try:
        c.initialize(tmp_path)
        uri = (tmp_path / "m.qap").as_uri()
        c.open(uri, SPEC)
        assert all(d["severity"] > 1 for d in c.diagnostics(uri))  # checks clean (a warning at most)
        yield c, uri
    finally:
        c.close()


def _hover(uri: str, line: Any = 2, character: Any = 11) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def _still_answers(c: Client, uri: str) -> None:
    """The property: after whatever came before, a valid request is answered, with the right result."""
    result = c.request("textDocument/hover", _hover(uri), timeout=QUICK)
    assert result is not None and "**out**" in result["contents"]["value"]


def _request(rid: Any, method: str, params: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode()


# -- bodies that are not messages: an error with id null, and the server goes on ------------------------------

NOT_MESSAGES = [
    (b"42", -32600, "not a number"),
    (b"[]", -32600, "batches are not part of LSP"),
    (b"null", -32600, "not null"),
    (b'"x"', -32600, "not a string"),
    (b"true", -32600, "not a boolean"),
    (b"{}", -32600, "a 'method'"),
    (b"{", -32700, "not JSON"),
    (b"", -32700, "not JSON"),
    (b"\xff\xfe{}", -32700, "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, -32700, "nested too deeply"),
    (b'{"jsonrpc": "2.0", "id": 1.5, "method": "shutdown"}', -32600, "an integer or a string, not a number"),
    (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "shutdown"}', -32600, "not an object"),
    (b'{"jsonrpc": "2.0", "id": 1, "result": "' + b"9" * 5000 + b'"}', None, None),  # a response to no request: logged
    (b'{"jsonrpc": "2.0", "id": 1, "result": ' + b"9" * 5000 + b"}", -32700, "not JSON"),  # more digits than Python reads
]


def test_bodies_that_are_not_messages_are_answered_and_the_server_goes_on(opened: tuple[Client, str]) -> None:
    c, uri = opened
    for body, code, words in NOT_MESSAGES:
        c.send_bytes(body)
        if code is not None:
            error = c.response(None, timeout=QUICK)["error"]
            assert error["code"] == code and words in error["message"], (body[:40], error)
        _still_answers(c, uri)
    c.wait_for("window/logMessage", lambda p: "response to no request" in p["message"], timeout=QUICK)


def test_a_batch_answers_each_request_in_it_under_its_own_id(opened: tuple[Client, str]) -> None:
    c, uri = opened
    batch = [{"jsonrpc": "2.0", "id": "b1", "method": "textDocument/hover", "params": _hover(uri)}, {"jsonrpc": "2.0", "method": "initialized", "params": {}}]
    c.send_bytes(json.dumps(batch).encode())
    error = c.response("b1", timeout=QUICK)["error"]
    assert error["code"] == -32600 and "batches" in error["message"]
    _still_answers(c, uri)


# -- requests that cannot be carried out: an error under the request's id -----------------------------------------


def test_requests_with_invalid_params_get_invalid_params(opened: tuple[Client, str]) -> None:
    c, uri = opened
    cases: list[tuple[Any, str]] = [
        (_hover(uri, line=-3), "Position.line should be in range [0:2147483647], but was -3"),
        (_hover(uri, character=2**31), "Position.character should be in range [0:2147483647], but was 2147483648"),
        (_hover(uri, line=None), "expected int @ $.params.position.line"),
        ({"textDocument": {"uri": uri}}, "required field missing @ $.params.position"),
        (5, "params are an object or an array, not a number"),
        ([1, 2], "invalid params"),
    ]
    for params, words in cases:
        msg = c.request_raw("textDocument/hover", params, timeout=QUICK)
        assert msg["error"]["code"] == -32602 and words in msg["error"]["message"], (params, msg)
    # a request without params where they are required; a method the server does not have
    c.send_bytes(b'{"jsonrpc": "2.0", "id": "np", "method": "textDocument/hover"}')
    assert c.response("np", timeout=QUICK)["error"]["code"] == -32602
    assert c.request_raw("textDocument/noSuchThing", {}, timeout=QUICK)["error"]["code"] == -32601
    # a notification's name sent as a request (an id to answer): Invalid Request, not silence
    assert c.request_raw("initialized", {}, timeout=QUICK)["error"]["code"] == -32600
    # jsonrpc missing or wrong: Invalid Request under the request's id
    c.send_bytes(b'{"id": 77, "method": "shutdown"}')
    assert c.response(77, timeout=QUICK)["error"]["code"] == -32600
    # the largest valid position is fine (nothing there)
    assert c.request("textDocument/hover", _hover(uri, line=2**31 - 1, character=2**31 - 1), timeout=QUICK) is None
    _still_answers(c, uri)


def test_notifications_with_invalid_params_are_logged_and_dropped(opened: tuple[Client, str]) -> None:
    c, uri = opened
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": "two"}, "contentChanges": [{"text": "x"}]})
    _at, logged = c.wait_for("window/logMessage", lambda p: "textDocument/didChange" in p["message"], timeout=QUICK)
    assert "dropped" in logged["message"] and "version" in logged["message"]
    _still_answers(c, uri)  # the text did not change
    # a change to a document that is not open (pygls read it from disk, or failed to, with a traceback)
    for changes in ([], [{"text": "model x {"}]):
        c.notify("textDocument/didChange", {"textDocument": {"uri": "file:///nowhere/x.qap", "version": 2}, "contentChanges": changes})
        _at, logged = c.wait_for("window/logMessage", lambda p: "is not open" in p["message"], timeout=QUICK)
        assert logged["message"] == "qapc lsp: dropped textDocument/didChange: file:///nowhere/x.qap is not open (didOpen comes first)"
    _still_answers(c, uri)
    assert c.request("shutdown", None, timeout=QUICK) is None
    c.notify("exit", None)
    code, err = c.until_exit(QUICK)
    assert code == 0 and "Traceback" not in err, err


def test_before_initialize_and_after_shutdown(tmp_path: Path) -> None:
    c = Client(tmp_path)
    try:
        uri = (tmp_path / "m.qap").as_uri()
        assert c.request_raw("textDocument/hover", _hover(uri))["error"]["code"] == -32002  # the default timeout: the server is starting
        c.initialize(tmp_path)
        again = c.request_raw("initialize", {"processId": None, "rootUri": None, "capabilities": {}}, timeout=QUICK)
        assert again["error"]["code"] == -32600 and "already initialized" in again["error"]["message"]
        c.open(uri, SPEC)
        c.diagnostics(uri)  # checked: hover has figures to show
        _still_answers(c, uri)
        assert c.request("shutdown", None, timeout=QUICK) is None
        late = c.request_raw("textDocument/hover", _hover(uri), timeout=QUICK)["error"]
        assert late["code"] == -32600 and "shutting down" in late["message"]
        c.notify("exit", None)
        code, err = c.until_exit(QUICK)
        assert code == 0 and "Traceback" not in err
    finally:
        c.close()


# -- framing that cannot be followed: exit 1 with a line that says why ---------------------------------------------


def _short(by: int) -> bytes:
    """A hover request whose Content-Length is `by` bytes less (negative: more) than its body."""
    body = _request(7, "textDocument/hover", {"textDocument": {"uri": "file:///m.qap"}, "position": {"line": 0, "character": 0}})
    return b"Content-Length: %d\r\n\r\n" % (len(body) - by) + body


LIES = [
    ("abc", b"Content-Length: abc\r\n\r\n{}", "Content-Length 'abc' is not a number of bytes"),
    ("negative", b"Content-Length: -5\r\n\r\n{}", "Content-Length '-5' is not a number of bytes"),
    ("ten bytes short", _short(10), "not a header line"),
    ("ten bytes over", _short(-10), "a frame without a Content-Length header"),
    ("not a header", b"hello there\r\n\r\n{}", "not a header line: 'hello there'"),
    ("too long", b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1), "more than the"),
]


@pytest.mark.parametrize(("lie", "words"), [(raw, words) for _name, raw, words in LIES], ids=[name for name, _raw, _words in LIES])
def test_framing_that_cannot_be_followed_ends_the_server_with_a_log_line(opened: tuple[Client, str], lie: bytes, words: str) -> None:
    c, uri = opened
    c.write(lie)
    c.send(json.loads(_request(8, "textDocument/hover", _hover(uri))))  # a valid request after it: the stream is past saving
    code, err = c.until_exit(QUICK)
    assert code == 1
    assert words in err and "the server exits" in err, err
    assert "Traceback" not in err
    assert any(n["method"] == "window/logMessage" and words in n["params"]["message"] for _at, n in c.notifications)


def test_a_stream_that_ends_inside_a_frame(opened: tuple[Client, str]) -> None:
    c, _uri = opened
    c.write(b'Content-Length: 100\r\n\r\n{"jsonrpc"')
    assert c.proc.stdin is not None
    c.proc.stdin.close()
    code, err = c.until_exit(QUICK)
    assert code == 1 and "the stream ended 90 bytes short of the frame's Content-Length (100)" in err


# -- the framing layer alone ---------------------------------------------------------------------------------------


def _frames(data: bytes) -> list[bytes]:
    stream = io.BytesIO(data)
    out = []
    while (body := read_frame(stream)) is not None:
        out.append(body)
    return out


def test_read_frame_takes_what_clients_send() -> None:
    assert _frames(b"") == []
    assert _frames(frame(b"{}") + frame(b"[1]")) == [b"{}", b"[1]"]
    # header names in any case, other headers, bare \n line ends, blank lines between frames, an empty body
    data = b"content-length: 2\nContent-Type: application/vscode-jsonrpc; charset=utf-8\n\n{}\r\n\r\nContent-Length:0\r\n\r\n"
    assert _frames(data) == [b"{}", b""]
    # the body is bytes as they are: framing does not read JSON
    assert _frames(frame(b"\xff\r\n\r\nContent-Length: 9")) == [b"\xff\r\n\r\nContent-Length: 9"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"Content-Length: 1e3\r\n\r\n", "Content-Length '1e3' is not a number of bytes"),
        (b"Content-Length: 0x10\r\n\r\n", "is not a number of bytes"),
        (b"Content-Length: \r\n\r\n", "Content-Length '' is not a number of bytes"),
        (b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n", "is more than the"),
        (b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "two different Content-Length headers (2 and 3)"),
        (b"Content-Type: x\r\n\r\n{}", "a frame without a Content-Length header"),
        (b'{"jsonrpc": "2.0"}\r\n\r\n', "not a header line"),
        (b"Content-Length: 5\r\n", "the stream ended inside a frame's headers"),
        (b"Content-Length: 5", "the stream ended inside a header line"),
        (b"X" * (MAX_HEADER_LINE + 10), "a header line longer than"),
        (b"X-A: 1\r\n" * 40, "more than 32 header lines"),
        (b"Content-Length: 5\r\n\r\n{}", "3 bytes short of the frame's Content-Length (5)"),
        (b"\x00\x01: 2\r\n\r\n{}", "not a header line: '\\x00\\x01: 2'"),
    ],
)
def test_read_frame_refuses_what_cannot_be_followed(data: bytes, words: str) -> None:
    with pytest.raises(FramingError) as e:
        _frames(data)
    assert words in str(e.value)
    assert len(str(e.value)) < 200  # what the wire held is quoted, not dumped


# -- the protocol in process -----------------------------------------------------------------------------------------


class _Wire:
    """A transport that keeps what the server writes."""

    def __init__(self) -> None:
        self.out: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.out.append(json.loads(data.split(b"\r\n\r\n", 1)[1]))

    def close(self) -> None:
        pass


def test_an_internal_error_is_answered_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    from pygls.server import LanguageServer

    from qapdsl.lsp import rpc

    server = LanguageServer("t", "0", protocol_cls=rpc.Protocol)

    @server.feature("textDocument/hover")
    def broken(params: Any) -> None:
        raise RuntimeError("Symlink loop from '/w/loop.qap'")

    wire = _Wire()
    protocol = server.lsp
    assert isinstance(protocol, rpc.Protocol)
    protocol.connection_made(wire)  # type: ignore[arg-type]
    protocol.handle_body(_request(1, "initialize", {"processId": None, "rootUri": None, "capabilities": {}}))
    protocol.handle_body(_request(2, "textDocument/hover", _hover("file:///w/m.qap")))
    (error,) = [m["error"] for m in wire.out if m.get("id") == 2]
    assert error["code"] == -32603 and "Symlink loop" in error["message"] and "the server's log has the details" in error["message"]
    assert "data" not in error or error["data"] is None
    assert "Traceback" in caplog.text  # the log keeps it


def test_a_response_that_names_a_request_of_the_client_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    from pygls.server import LanguageServer

    from qapdsl.lsp import rpc

    server = LanguageServer("t", "0", protocol_cls=rpc.Protocol)

    @server.feature("textDocument/hover")
    async def slow(params: Any) -> None:  # pending while the test runs (the loop does not run)
        return None

    wire = _Wire()
    protocol = server.lsp
    assert isinstance(protocol, rpc.Protocol)
    protocol.connection_made(wire)  # type: ignore[arg-type]
    protocol.handle_body(_request(1, "initialize", {"processId": None, "rootUri": None, "capabilities": {}}))
    protocol.handle_body(_request(2, "textDocument/hover", _hover("file:///w/m.qap")))
    assert 2 in protocol._request_futures  # pygls keeps the client's pending requests beside the server's own
    protocol.handle_body(b'{"jsonrpc": "2.0", "id": 2, "result": 5}')
    assert "Traceback" not in caplog.text and "response to no request of the server (id 2)" in caplog.text
    assert [m["method"] for m in wire.out if "method" in m] == ["window/logMessage"]
    server.loop.run_until_complete(asyncio.sleep(0))  # the hover goes on: answered
    assert [m for m in wire.out if m.get("id") == 2] == [{"id": 2, "jsonrpc": "2.0", "result": None}]


# -- documents without a file: each its own ----------------------------------------------------------------------------

UNTITLED_A = "model a {\n    input 4\n    dense fc1 8 relu\n    dense out 3 softmax\n}\ntrain { data sklearn iris }\n"
UNTITLED_B = "model b {\n    input 4\n    dense fc1 5 relu\n    dense out 3 softmax\n}\ntrain { data sklearn iris }\nsweep { fc1.units in [2, 4]; fc9.units in [1] }\n"


def test_two_untitled_documents_are_two_documents(tmp_path: Path) -> None:
    """Two `untitled:` buffers (no file path) are keyed by their URIs: each one's diagnostics, definitions,
    references and renames are its own, whichever was opened last."""
    c = Client(tmp_path)
    try:
        c.initialize(tmp_path)
        a, b = "untitled:Untitled-1", "untitled:Untitled-2"
        c.open(a, UNTITLED_A)
        assert all(d["severity"] > 1 for d in c.diagnostics(a))
        c.open(b, UNTITLED_B)
        assert any(d["severity"] == 1 and "fc9" in d["message"] for d in c.diagnostics(b))

        def refs(uri: str, text: str, nth: int = 0) -> list[tuple[str, int, int]]:
            params = {"textDocument": {"uri": uri}, "position": position(text, "fc1", nth), "context": {"includeDeclaration": True}}
            return sorted((r["uri"], r["range"]["start"]["line"], r["range"]["start"]["character"]) for r in c.request("textDocument/references", params, timeout=QUICK))

        assert refs(a, UNTITLED_A) == [(a, 2, 10)]  # not b's sweep line, named as a's
        assert refs(b, UNTITLED_B) == [(b, 2, 10), (b, 6, 8)]
        where = c.request("textDocument/definition", {"textDocument": {"uri": b}, "position": position(UNTITLED_B, "fc1", 1)}, timeout=QUICK)
        assert where["uri"] == b and where["range"]["start"] == {"line": 2, "character": 10}
        edit = c.request("textDocument/rename", {"textDocument": {"uri": a}, "position": position(UNTITLED_A, "fc1"), "newName": "g1"}, timeout=QUICK)
        changes = edit.get("changes") or {e["textDocument"]["uri"]: e["edits"] for e in edit["documentChanges"]}
        assert list(changes) == [a] and [e["range"]["start"] for e in changes[a]] == [{"line": 2, "character": 10}]
        c.change(a, 2, UNTITLED_A.replace("fc1", "g1"))  # an edit of one leaves the other's diagnostics alone
        assert all(d["severity"] > 1 for d in c.diagnostics(a, version=2))
        assert refs(b, UNTITLED_B) == [(b, 2, 10), (b, 6, 8)]
    finally:
        c.close()
