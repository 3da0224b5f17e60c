"""The supervisor's framing speaks ``Connection``'s, both ways, on a real pipe."""

from __future__ import annotations

import multiprocessing
import os

from django_tasks_local.pools.framing import frame, take_frames


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
