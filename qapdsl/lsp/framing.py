"""LSP's framing of a byte stream: header lines (`Content-Length: N`), a blank line, then N bytes of body.

pygls 1.3's stdio reader waits for ever when a frame is not what it expects
(`Content-Length: abc`, a body that is not a JSON object, a length that is a
lie), so one bad frame left a live server that never answered again. Here a
frame is either its body, or a `FramingError`: the stream can no longer be
followed, because where the next frame starts is unknown. Nothing after that
can be trusted, so the server says why and exits (qapdsl.lsp.rpc), and the
editor starts a new one. What a body holds is not this module's business.
"""

from __future__ import annotations

import re
from typing import BinaryIO

MAX_HEADER_LINE = 8192  # bytes; a header line is a few dozen
MAX_HEADERS = 32
MAX_BODY = 128 * 1024 * 1024  # a spec has at most 16 MiB (qapdsl.loader), its JSON a few times that
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a header name (RFC 9110's token)


class FramingError(Exception):
    """The byte stream is not (or no longer) LSP framing: where the next frame starts is unknown."""


def shown(data: bytes, limit: int = 40) -> str:
    """Bytes from the wire as a short, printable quote (never control characters)."""
    text = data[:limit].decode("utf-8", errors="replace")
    return repr(text) + ("…" if len(data) > limit else "")


def read_frame(stream: BinaryIO) -> bytes | None:
    """The body of the next frame; None when the stream ends between frames.

    Raises FramingError for headers that are not LSP's (a line that is not `Name: value`, no
    Content-Length or one that is not a number of bytes), and for a stream that ends inside a frame.
    Blank lines between frames are skipped; header names are not case-sensitive; `\\n` alone ends a
    line as well as `\\r\\n`.
    """
    length: int | None = None
    headers = 0
    while True:
        line = stream.readline(MAX_HEADER_LINE + 1)
        if not line:
            if headers:
                raise FramingError("the stream ended inside a frame's headers")
            return None
        if not line.endswith(b"\n"):
            if len(line) > MAX_HEADER_LINE:
                raise FramingError(f"a header line longer than {MAX_HEADER_LINE:,} bytes: {shown(line)}")
            raise FramingError(f"the stream ended inside a header line: {shown(line)}")
        content = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        if not content:
            if headers:
                break
            continue  # blank lines before a frame
        headers += 1
        if headers > MAX_HEADERS:
            raise FramingError(f"more than {MAX_HEADERS} header lines in one frame")
        name, colon, value = content.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise FramingError(f"not a header line: {shown(content)}")
        if name.lower() == b"content-length":
            length = _length(value.strip(), length)
    if length is None:
        raise FramingError("a frame without a Content-Length header")
    body = stream.read(length)
    if len(body) < length:
        raise FramingError(f"the stream ended {length - len(body):,} bytes short of the frame's Content-Length ({length:,})")
    return body


def _length(value: bytes, before: int | None) -> int:
    if not value.isdigit():  # ASCII digits only: no sign, no space, no '0x'
        raise FramingError(f"Content-Length {shown(value)} is not a number of bytes")
    if len(value) > len(str(MAX_BODY)) or int(value) > MAX_BODY:
        raise FramingError(f"Content-Length {shown(value)} is more than the {MAX_BODY:,} bytes a message may have")
    n = int(value)
    if before is not None and n != before:
        raise FramingError(f"two different Content-Length headers ({before} and {n})")
    return n
