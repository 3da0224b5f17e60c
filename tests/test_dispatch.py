"""``dispatch.send``/``send_robust`` behave as Django's ``Signal`` methods, cache
or no cache: connect, disconnect, dead weak receivers, senders, async, errors."""

import gc
import logging

import pytest
from django.dispatch import Signal

from django_tasks_local import dispatch


class Sender:
    pass


class OtherSender:
    pass


def _names(responses):
    return [
        (getattr(receiver, "__name__", receiver), value)
        for receiver, value in responses
    ]


def _both(signal, sender, robust=False):
    ours = (dispatch.send_robust if robust else dispatch.send)(signal, sender, x=1)
    django = (signal.send_robust if robust else signal.send)(sender, x=1)
    assert _names(ours) == _names(django)
    return _names(ours)


def test_follows_connect_disconnect_and_sender_filters():
    signal = Signal()

    def first(sender, x, **kwargs):
        return ("first", x)

    def only_other(sender, **kwargs):
        return "other"

    assert _both(signal, Sender) == []
    signal.connect(first)
    assert _both(signal, Sender) == [("first", ("first", 1))]
    signal.connect(only_other, sender=OtherSender)
    assert _both(signal, Sender) == [("first", ("first", 1))]
    assert _both(signal, OtherSender) == [
        ("first", ("first", 1)),
        ("only_other", "other"),
    ]
    signal.disconnect(first)
    assert _both(signal, Sender) == []
    assert _both(signal, OtherSender) == [("only_other", "other")]


def test_a_collected_weak_receiver_is_skipped_not_kept_alive():
    signal = Signal()

    def make():
        def temporary(sender, **kwargs):
            return "temporary"

        return temporary

    receiver = make()
    signal.connect(receiver)
    assert _both(signal, Sender) == [("temporary", "temporary")]
    del receiver
    gc.collect()
    assert _both(signal, Sender) == []


def test_a_strong_receiver_survives_its_name():
    signal = Signal()

    def make():
        def kept(sender, **kwargs):
            return "kept"

        return kept

    signal.connect(make(), weak=False)
    gc.collect()
    assert _both(signal, Sender) == [("kept", "kept")]


def test_async_receivers_go_through_django():
    signal = Signal()
    calls = []

    async def asynchronous(sender, **kwargs):
        calls.append("async")
        return "async"

    signal.connect(asynchronous)
    assert dispatch.send(signal, Sender) == [(asynchronous, "async")]
    assert calls == ["async"]


def test_send_propagates_and_send_robust_logs_and_returns_the_error(caplog):
    signal = Signal()

    def broken(sender, **kwargs):
        raise ValueError("boom")

    def after(sender, **kwargs):
        return "after"

    signal.connect(broken)
    signal.connect(after)
    with pytest.raises(ValueError, match="boom"):
        dispatch.send(signal, Sender)
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        responses = dispatch.send_robust(signal, Sender)
    assert [type(value) for _, value in responses] == [ValueError, str]
    assert "Error calling" in caplog.text
    assert "boom" in caplog.text
