"""Sending the task signals as Django does, with less work per send.

Django's task signals are made without ``use_caching``, so every
``Signal.send()`` takes the signal's lock and filters every connected receiver
against the sender again (``Signal._live_receivers``), about 1.5 µs before any
receiver runs. A backend sends three signals per task, so this module keeps,
per (signal, sender), the receivers that match, and reuses them for as long as
the signal's list of connected receivers is unchanged.

::

    send(signal, sender)
        signal.receivers == the list the cache was made from?   (k identity checks)
            yes ─► matching entries from the cache
            no  ─► filter as Django does, cache (list copy, matching entries)
        each entry: dereference weak receiver and sender (dead ones skipped)
                    call receiver(signal=, sender=, **named)

Semantics kept: receivers are held exactly as Django holds them (weak ones stay
weak, so a receiver that was garbage collected is skipped, not kept alive); the
list comparison notices every ``connect()``, ``disconnect()`` and clean-up of
dead receivers; receivers run in connection order; ``send_robust`` catches and
logs ``Exception`` through Django's own ``_log_robust_failure``. Whenever
something is not what this module expects (an async receiver, a receiver entry
of a shape a later Django may use), it calls Django's own method instead.
"""

from __future__ import annotations

import weakref
from typing import Any

from django.dispatch import Signal
from django.dispatch.dispatcher import NONE_ID, _make_id

#: (signal, sender) -> (copy of ``signal.receivers`` it was made from, matching
#: entries as (receiver or weak reference, sender weak reference or None)), or
#: None as the entries when Django's own ``send`` must be used.
_cache: dict[tuple[Signal, Any], tuple[list, list | None]] = {}

_WeakReference = weakref.ReferenceType


def _matching(signal: Signal, sender: Any) -> list | None:
    """The entries of ``signal`` that match ``sender``, or None for Django's path."""
    key = (signal, sender)
    connected = signal.receivers
    cached = _cache.get(key)
    if cached is not None and cached[0] == connected:
        return cached[1]
    snapshot = list(connected)
    entries = _filter(signal, snapshot, sender)
    _cache[key] = (snapshot, entries)
    return entries


def _filter(signal: Signal, snapshot: list, sender: Any) -> list | None:
    """Django's own filter (``Signal._live_receivers``), without dereferencing."""
    if not hasattr(signal, "_log_robust_failure"):
        return None  # not the Django this module was written against
    sender_key = _make_id(sender)
    entries = []
    try:
        for (_, receiver_sender_key), receiver, sender_ref, is_async in snapshot:
            if receiver_sender_key in (NONE_ID, sender_key):
                if is_async:
                    return None  # Django runs async receivers on an event loop
                entries.append((receiver, sender_ref))
    except (TypeError, ValueError):
        return None  # not the entry shape this module was written against
    return entries


def _live(entries: list) -> list[Any]:
    """The receivers of ``entries`` still alive, whose sender is alive too, in
    connection order: what Django's ``_live_receivers`` returns."""
    receivers = []
    for receiver, sender_ref in entries:
        if isinstance(receiver, _WeakReference):
            receiver = receiver()
            if receiver is None:
                continue
        if sender_ref is not None and sender_ref() is None:
            continue
        receivers.append(receiver)
    return receivers


def send(signal: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    """``signal.send(sender, **named)``: a receiver's exception propagates."""
    entries = _matching(signal, sender)
    if entries is None:
        return signal.send(sender, **named)
    return [
        (receiver, receiver(signal=signal, sender=sender, **named))
        for receiver in _live(entries)
    ]


def send_robust(signal: Signal, sender: Any, **named: Any) -> list[tuple[Any, Any]]:
    """``signal.send_robust(sender, **named)``: an ``Exception`` from a receiver is
    logged by Django and returned as that receiver's response."""
    entries = _matching(signal, sender)
    if entries is None:
        return signal.send_robust(sender, **named)
    responses = []
    for receiver in _live(entries):
        try:
            response = receiver(signal=signal, sender=sender, **named)
        except Exception as error:  # noqa: BLE001 - send_robust's own contract
            signal._log_robust_failure(receiver, error)
            responses.append((receiver, error))
        else:
            responses.append((receiver, response))
    return responses
