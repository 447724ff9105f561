"""JSON-RPC over stdio for the language server: every frame is dispatched, answered, or logged; none is lost.

pygls 1.3 dropped what it could not parse without a word: a body that is JSON
but not an object, a request whose params do not validate (`"line": -3`), a
request after `shutdown`; the client's request then waited for ever. Here a
frame's body goes to pygls's handlers only once it is a well-formed message
with valid params, and everything else gets the answer JSON-RPC 2.0 and LSP
ask for: Parse error (-32700) and Invalid Request (-32600) with the request's
id, or `null` where the id cannot be known; Invalid Params (-32602);
ServerNotInitialized (-32002) before `initialize`; notifications (which take
no answer) are logged and dropped. An internal error is answered without the
traceback pygls would send (it goes to the log). A stream whose framing cannot
be followed any more (qapdsl.lsp.framing) ends the server: a log line on
stderr and in the client's log, exit status 1, and the editor starts another.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

import attrs
from cattrs import transform_error
from cattrs.v import format_exception
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.protocol import JsonRPCRequestMessage, JsonRPCResponseMessage, LanguageServerProtocol
from pygls.server import LanguageServer, StdOutTransportAdapter

from qapdsl.lsp.framing import FramingError, read_frame

log = logging.getLogger("qapc.lsp")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002

EXIT_CODE_BROKEN_STREAM = 1


def _valid_id(value: object) -> bool:
    """LSP's request ids: integers and strings (JSON-RPC allows null, and advises against it)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def _leaf(exc: BaseException, type_: Any) -> str:
    """A validation error as cattrs says it, except the validators' own words (`Position.line should be in range ...`)."""
    if type(exc) is ValueError:
        return str(exc).rstrip(".")
    return format_exception(exc, type_)


def params_problem(exc: Exception) -> str:
    """What is wrong with a message's params, in a line (cattrs's errors, with where in the message)."""
    try:
        problems = transform_error(exc, format_exception=_leaf)
    except Exception:  # not a cattrs error
        problems = [f"{type(exc).__name__}: {exc}"]
    return "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")


def _has_id_field(message_type: Any) -> bool:
    return attrs.has(message_type) and "id" in attrs.fields_dict(message_type)


class Protocol(LanguageServerProtocol):
    """pygls's LSP protocol, fed one frame's body at a time by `serve_stdio` instead of pygls's own reader."""

    def __init__(self, server: LanguageServer, converter: Any) -> None:
        super().__init__(server, converter)
        self.initialize_received = False

    # -- one body --------------------------------------------------------------------------------------

    def handle_body(self, body: bytes) -> None:
        """Dispatch one frame's body, or answer (or log) why it cannot be. SystemExit (the `exit` notification) goes through."""
        try:
            data = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as e:
            self.reply_error(None, PARSE_ERROR, f"the message is not UTF-8 (byte {e.start} of {len(body)})")
            return
        except RecursionError:
            self.reply_error(None, PARSE_ERROR, "the message is JSON nested too deeply to read")
            return
        except ValueError as e:  # JSONDecodeError, and integers of more digits than Python reads
            self.reply_error(None, PARSE_ERROR, f"the message is not JSON: {e}")
            return
        if isinstance(data, list):
            self._batch(data)
        elif not isinstance(data, dict):
            self.reply_error(None, INVALID_REQUEST, f"a message is a JSON object, not {_kind(data)}")
        elif "method" in data:
            self._call(data)
        elif "result" in data or "error" in data:
            self._response(data)
        else:
            self.reply_error(None, INVALID_REQUEST, "a message has a 'method' (a request or notification) or a 'result' or 'error' (a response)")

    def _batch(self, items: list[Any]) -> None:
        """LSP has no batches: each request in one gets Invalid Request under its own id, so none stays pending."""
        why = "JSON-RPC batches are not part of LSP: send each message in a frame of its own"
        ids = [i["id"] for i in items if isinstance(i, dict) and "method" in i and _valid_id(i.get("id"))]
        for rid in dict.fromkeys(ids):
            self.reply_error(rid, INVALID_REQUEST, why)
        if not ids:
            self.reply_error(None, INVALID_REQUEST, why)

    def _call(self, data: dict[str, Any]) -> None:
        """A request (with an id) or a notification."""
        method = data["method"]
        is_request = "id" in data
        rid = data.get("id")
        if is_request and not _valid_id(rid):
            self.reply_error(None, INVALID_REQUEST, f"a request's id is an integer or a string, not {_kind(rid)}")
            return
        reply = rid if is_request else None
        if data.get("jsonrpc") != "2.0":
            self.reply_error(reply, INVALID_REQUEST, f'a message says "jsonrpc": "2.0" (this one: {json.dumps(data.get("jsonrpc"))[:40]})')
            return
        if not isinstance(method, str):
            self.reply_error(reply, INVALID_REQUEST, f"a message's method is a string, not {_kind(method)}")
            return
        if "params" in data and not isinstance(data["params"], (dict, list)) and data["params"] is not None:
            if is_request:
                self.reply_error(rid, INVALID_PARAMS, f"{method}: params are an object or an array, not {_kind(data['params'])}")
            else:
                self.complain(f"dropped the notification {method}: its params are {_kind(data['params'])}, not an object")
            return
        if not self._accepts(method, rid, is_request):
            return
        message_type = self.get_message_type(method)
        if message_type is not None and _has_id_field(message_type) != is_request:
            if is_request:
                self.reply_error(rid, INVALID_REQUEST, f"{method} is a notification: it takes no id")
            else:
                self.complain(f"dropped {method}: it is a request, and this message has no id to answer")
            return
        try:
            message = self._converter.structure(data, message_type or JsonRPCRequestMessage)
        except Exception as e:  # cattrs's validation errors, and the TypeError of a generic message's fields
            if is_request:
                self.reply_error(rid, INVALID_PARAMS, f"{method}: invalid params: {params_problem(e)}")
            else:
                self.complain(f"dropped the notification {method}: invalid params: {params_problem(e)}")
            return
        if method == lsp.INITIALIZE:
            self.initialize_received = True
        elif method == lsp.TEXT_DOCUMENT_DID_CHANGE and message.params.text_document.uri not in self.workspace.text_documents:
            # pygls would read the file from disk (or fail to) and check that as if the client had opened it
            self.complain(f"dropped {method}: {message.params.text_document.uri} is not open (didOpen comes first)")
            return
        self._dispatch(message, rid if is_request else None)

    def _accepts(self, method: str, rid: Any, is_request: bool) -> bool:
        """What LSP says of a message before `initialize`, after `shutdown`, and of unknown methods."""
        problem: tuple[int, str] | None = None
        if method == lsp.EXIT:
            return True
        if not self.initialize_received and method != lsp.INITIALIZE:
            problem = (SERVER_NOT_INITIALIZED, f"{method}: the server is not initialized yet (send initialize first)")
        elif self.initialize_received and method == lsp.INITIALIZE:
            problem = (INVALID_REQUEST, "initialize: the server is already initialized (initialize is sent once)")
        elif self._shutdown:
            problem = (INVALID_REQUEST, f"{method}: the server is shutting down (shutdown was received); only exit is accepted")
        elif method != lsp.CANCEL_REQUEST and method not in self.fm.builtin_features and method not in self.fm.features:
            problem = (METHOD_NOT_FOUND, f"{method}: the server has no such method")
        if problem is None:
            return True
        if is_request:
            self.reply_error(rid, *problem)
        elif not method.startswith("$/"):  # `$/` notifications may be ignored without a word
            log.info("dropped a notification: %s", problem[1])
        return False

    def _dispatch(self, message: Any, rid: Any) -> None:
        try:
            self._procedure_handler(message)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception as e:  # pygls answers its handlers' errors itself; this is the rest
            log.exception("internal error handling %s", getattr(message, "method", "a message"))
            if rid is not None:
                self.reply_error(rid, INTERNAL_ERROR, f"internal error: {type(e).__name__}: {e} (the server's log has the details)")

    def _response(self, data: dict[str, Any]) -> None:
        """A response from the client to one of the server's requests."""
        rid = data.get("id")
        # `_result_types` holds the server's own requests only (`_request_futures` the client's as well)
        if not _valid_id(rid) or rid not in self._result_types or rid not in self._request_futures:
            self.complain(f"dropped a response to no request of the server (id {json.dumps(rid)[:40]})")
            return
        result_type = self._result_types.pop(rid, None) or JsonRPCResponseMessage
        try:
            message = self._converter.structure(data, lsp.ResponseErrorMessage if "error" in data else result_type)
        except Exception as e:
            future = self._request_futures.pop(rid)
            future.set_exception(JsonRpcException(message=f"invalid response: {params_problem(e)}", code=INVALID_PARAMS))
            self.complain(f"the client's response to request {rid} is invalid: {params_problem(e)}")
            return
        self._dispatch(message, None)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        """pygls's, for an id that can be one (cattrs lets a list through as `int | str`)."""
        if not _valid_id(msg_id):
            self.complain(f"dropped {lsp.CANCEL_REQUEST}: a request's id is an integer or a string, not {_kind(msg_id)}")
            return
        super()._handle_cancel_notification(msg_id)

    # -- answers ---------------------------------------------------------------------------------------

    def reply_error(self, rid: Any, code: int, message: str) -> None:
        """An error response; id null when the request's id cannot be known (JSON-RPC 2.0, section 5)."""
        log.info("answered %s with error %d: %s", json.dumps(rid), code, message)
        self._send_data({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})

    def complain(self, message: str) -> None:
        """Something dropped without an answer (a notification cannot have one): the server's log and the client's."""
        log.warning("%s", message)
        self.notify(lsp.WINDOW_LOG_MESSAGE, lsp.LogMessageParams(type=lsp.MessageType.Warning, message=f"qapc lsp: {message}"))

    def _send_response(self, msg_id: Any, result: Any = None, error: lsp.ResponseError | None = None) -> None:
        """pygls's, without the traceback it puts in an internal error's data (the log has it)."""
        if error is not None and isinstance(error.data, dict) and "traceback" in error.data:
            error = lsp.ResponseError(code=error.code, message=f"{error.message} (the server's log has the details)")
        super()._send_response(msg_id, result, error)

    def _execute_request_callback(self, msg_id: Any, future: asyncio.Future[Any]) -> None:
        """An async handler's JsonRpcException goes to the client as it is (pygls 1.3 makes it an internal error)."""
        if not future.cancelled() and isinstance(future.exception(), JsonRpcException):
            error = future.exception()
            assert isinstance(error, JsonRpcException)
            self._request_futures.pop(msg_id, None)
            self._send_response(msg_id, error=error.to_response_error())
            return
        super()._execute_request_callback(msg_id, future)


# -- the stdio loop -----------------------------------------------------------------------------------------


def serve_stdio(server: LanguageServer, log_to_stderr: bool, rfile: BinaryIO | None = None, wfile: BinaryIO | None = None) -> int:
    """Read frames from stdin and hand them to the server's protocol until `exit` or the end of the stream; the exit status.

    `log_to_stderr`: the log already goes to stderr (else a broken stream is said there as well as in the log file)."""
    rfile = rfile or sys.stdin.buffer
    wfile = wfile or sys.stdout.buffer
    protocol = server.lsp
    assert isinstance(protocol, Protocol)
    protocol.connection_made(StdOutTransportAdapter(rfile, wfile))  # type: ignore[arg-type]
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qapc-stdin")

    async def pump() -> int:
        loop = asyncio.get_running_loop()
        while True:
            try:
                body = await loop.run_in_executor(reader, read_frame, rfile)
            except FramingError as e:
                return broken_stream(protocol, str(e), log_to_stderr)
            except (OSError, ValueError) as e:  # stdin itself failed, or was closed
                return broken_stream(protocol, f"cannot read stdin: {e}", log_to_stderr)
            if body is None:
                if protocol._shutdown:
                    return 0
                log.warning("the client closed the connection without shutdown and exit; exiting")
                return EXIT_CODE_BROKEN_STREAM
            protocol.handle_body(body)

    try:
        code = server.loop.run_until_complete(pump())
    except SystemExit as e:  # the exit notification (pygls: 0 after shutdown, else 1)
        code = e.code if isinstance(e.code, int) else 1
    except BrokenPipeError:
        log.error("the client closed the server's output; exiting")
        code = EXIT_CODE_BROKEN_STREAM
    finally:
        reader.shutdown(wait=False)
        server.shutdown()
    return code


def broken_stream(protocol: Protocol, why: str, log_to_stderr: bool) -> int:
    """The framing cannot be followed any more: say so on stderr and in the client's log, and exit non-zero."""
    line = f"qapc lsp: {why}; the messages after it cannot be told apart, so the server exits (the editor can start it again)"
    log.error("%s", line)
    if not log_to_stderr:
        print(line, file=sys.stderr, flush=True)
    try:
        protocol.notify(lsp.WINDOW_LOG_MESSAGE, lsp.LogMessageParams(type=lsp.MessageType.Error, message=line))
    except Exception:  # the client may be gone already
        pass
    return EXIT_CODE_BROKEN_STREAM
