"""The supervisor's framing speaks ``Connection``'s, both ways, on a real pipe."""

from __future__ import annotations

import multiprocessing
import os
import struct

from django_tasks_local.pools.process.framing import frame, take_frames


def test_frames_cross_a_real_pipe_both_ways():
    ours, theirs = multiprocessing.Pipe(duplex=True)
    try:
        payloads = [b"", b"x", os.urandom(5_000), b"last"]
        for payload in payloads:
            os.write(ours.fileno(), frame(payload))  # small enough not to block
            assert theirs.recv_bytes() == payload

        for payload in payloads:
            theirs.send_bytes(payload)
        received: list[bytes] = []
        inbox = bytearray()
        expected_bytes = sum(4 + len(p) for p in payloads)
        read = 0
        while read < expected_bytes:
            # A few bytes at a time: frames arrive split at every boundary.
            chunk = os.read(ours.fileno(), 7)
            read += len(chunk)
            inbox += chunk
            received += take_frames(inbox)
        assert received == payloads
        assert inbox == bytearray()
    finally:
        ours.close()
        theirs.close()


def test_the_long_length_form_reads_as_connection_reads_it():
    """Payloads of 2 GiB or more carry length -1 and then an 8-byte length.
    Connection reads that form for any size, so a small payload proves that
    the supervisor parses it the same way, whatever the read boundaries."""
    payload = b"long form"
    message = struct.pack("!i", -1) + struct.pack("!Q", len(payload)) + payload
    ours, theirs = multiprocessing.Pipe(duplex=True)
    try:
        os.write(ours.fileno(), message)
        assert theirs.recv_bytes() == payload
    finally:
        ours.close()
        theirs.close()
    for cut in range(len(message) + 1):
        inbox = bytearray(message[:cut])
        first = take_frames(inbox)
        inbox += message[cut:]
        assert first + take_frames(inbox) == [payload]
        assert inbox == bytearray()
