"""Messages on a pipe, framed as ``multiprocessing.connection.Connection`` frames
them, for the supervisor's non-blocking end of each worker's pipe.

::

    parent (non-blocking fd)                    child (a blocking Connection)
    frame(payload) ──► outbox ──► os.write ───► conn.recv_bytes()
    take_frames(inbox) ◄── inbox ◄── os.read ◄── conn.send_bytes(payload)

A frame is a 4-byte big-endian signed length and the payload; a payload of 2 GiB
or more has length -1 followed by an 8-byte unsigned length. Keeping the child on
``Connection`` means only the parent side is written here: the parent must never
block on one child, and one ``read`` may bring many small reports at once.
"""

from __future__ import annotations

import struct

_HEADER = struct.Struct("!i")
_BIG_HEADER = struct.Struct("!Q")
#: Payloads this long or longer use the 8-byte length, as ``Connection`` does.
_BIG = 0x7FFFFFFF


def frame(payload: bytes) -> bytes:
    """``payload`` with its length in front, ready to write."""
    size = len(payload)
    if size < _BIG:
        return _HEADER.pack(size) + payload
    return _HEADER.pack(-1) + _BIG_HEADER.pack(size) + payload


def take_frames(buffer: bytearray) -> list[bytes]:
    """Remove every complete frame from the front of ``buffer``; return their
    payloads in order. A partial frame stays for the next read."""
    payloads = []
    start = 0
    available = len(buffer)
    while available - start >= 4:
        (size,) = _HEADER.unpack_from(buffer, start)
        header = 4
        if size == -1:
            if available - start < 12:
                break
            (size,) = _BIG_HEADER.unpack_from(buffer, start + 4)
            header = 12
        end = start + header + size
        if end > available:
            break
        payloads.append(bytes(buffer[start + header : end]))
        start = end
    if start:
        del buffer[:start]
    return payloads
