"""Template filters of the admin pages: JSON shown as JSON, ages and durations
in seconds."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """A stored value as indented JSON (what the task got or returned)."""
    try:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


@register.filter
def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long before ``now`` (default: this moment) ``moment`` was, short."""
    if moment is None:
        return "-"
    seconds = ((now or timezone.now()) - moment).total_seconds()
    if seconds < 0:
        return f"in {duration(-seconds)}"
    return f"{duration(seconds)} ago"


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as ``0.42 s``, ``12 s``, ``3 min 5 s`` or ``2 h 3 min``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
