"""The shortcut for plain arguments gives exactly what ``normalize_json`` gives."""

import enum

import pytest
from django.utils.json import normalize_json

from django_tasks_local.results import normalize_args, normalize_kwargs


class Colour(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    "args",
    [
        (),
        (1, "a", 2.5, True, None),
        (Colour.RED,),
        ((1, 2), [3]),
        ({"a": (1,)},),
        (b"bytes",),
        [1, 2],
    ],
)
def test_normalize_args_matches_normalize_json(args):
    result = normalize_args(args)
    assert result == normalize_json(args)
    assert type(result) is list
    assert result is not args


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"a": 1, "b": None}, {"a": (1, 2)}, {"a": Colour.RED}, {1: "int key"}],
)
def test_normalize_kwargs_matches_normalize_json(kwargs):
    result = normalize_kwargs(kwargs)
    assert result == normalize_json(kwargs)
    assert type(result) is dict
    assert result is not kwargs


def test_unserialisable_arguments_still_raise():
    with pytest.raises(TypeError):
        normalize_args((object(),))
    with pytest.raises(TypeError):
        normalize_kwargs({"a": object()})
