"""Setting Django up in a fresh worker process, however it was started.

A worker process started with ``spawn`` or ``forkserver`` begins from nothing and
must configure Django before it can import task modules; one made by ``fork``
inherits a configured Django but must not touch the parent's database
connections. ``ChildSetup`` captures in the parent what a child needs for either
and applies it there. It knows nothing of the process pool, so any pool that
starts interpreters of its own can use it.
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("django_tasks_local")

#: The pickle protocol used to check that settings can cross to a child.
PROTOCOL = pickle.HIGHEST_PROTOCOL

#: References to database and cache connections inherited through ``fork``. They
#: belong to the parent: closing them here (even by garbage collection) could end
#: the parent's sessions, so they are kept, unused, for the child's lifetime.
_inherited_connections: list[Any] = []


@dataclass(frozen=True)
class ChildSetup:
    """How a worker process gets Django ready. Picklable: it crosses to the child.

    Under ``fork`` the child inherits a configured Django and only has to drop the
    parent's connections. Under ``spawn`` and ``forkserver`` it starts from
    nothing: it configures settings from ``settings_module``, or (when the parent
    used ``settings.configure()``) from ``explicit_settings``, a copy of the
    values given in code, taken when the pool started.
    """

    start_method: str
    settings_module: str | None = None
    explicit_settings: dict[str, Any] | None = None
    #: Module the configured settings fall back to (``django.conf.global_settings``
    #: unless ``settings.configure(default_settings=...)`` named another).
    defaults_module: str | None = None
    skipped: tuple[str, ...] = field(default=())

    @classmethod
    def capture(cls, start_method: str) -> ChildSetup:
        """What a child needs to set up Django like this process did."""
        if start_method == "fork":
            return cls(start_method)
        from django.conf import Settings, UserSettingsHolder, settings

        wrapped = settings._wrapped
        holder = wrapped
        # override_settings() stacks holders over the real settings; the child
        # wants the real ones (the overrides are this process's test-time state).
        while isinstance(holder, UserSettingsHolder):
            inner = holder.default_settings
            if isinstance(inner, UserSettingsHolder | Settings):
                holder = inner
                continue
            # settings.configure(): a holder over a module of defaults.
            explicit, skipped = {}, []
            for name, value in vars(holder).items():
                if not name.isupper():
                    continue
                try:
                    pickle.dumps(value, PROTOCOL)
                except Exception:  # noqa: BLE001 - any pickling failure skips it
                    skipped.append(name)
                else:
                    explicit[name] = value
            if skipped:
                logger.warning(
                    "Settings %s cannot be pickled and are not copied to worker "
                    "processes (start method %r); they fall back to defaults there.",
                    ", ".join(skipped),
                    start_method,
                )
            return cls(
                start_method,
                explicit_settings=explicit,
                defaults_module=getattr(inner, "__name__", None),
                skipped=tuple(skipped),
            )
        module = getattr(holder, "SETTINGS_MODULE", None) or os.environ.get(
            "DJANGO_SETTINGS_MODULE"
        )
        return cls(start_method, settings_module=module)

    def apply(self) -> None:
        """Make Django usable in this (child) process."""
        if self.start_method == "fork":
            discard_inherited_connections()
            return
        import django
        from django.apps import apps
        from django.conf import settings

        if not settings.configured:
            # The main module, imported again by spawn/forkserver, may already
            # have configured settings (a script without a __main__ guard).
            if self.explicit_settings is not None:
                from importlib import import_module

                defaults = import_module(
                    self.defaults_module or "django.conf.global_settings"
                )
                settings.configure(defaults, **self.explicit_settings)
            elif self.settings_module:
                os.environ["DJANGO_SETTINGS_MODULE"] = self.settings_module
        if not apps.ready:
            django.setup()


def discard_inherited_connections() -> None:
    """Forget the parent's database and cache connections without closing them.

    A forked child shares the parent's sockets and SQLite handles; using or
    closing them would corrupt or end the parent's sessions. The child gets
    empty connection handlers and opens its own connections when it needs them.
    """
    from asgiref.local import Local
    from django.core.cache import caches
    from django.db import connections

    for handler in (connections, caches):
        _inherited_connections.append(handler._connections)
        handler._connections = Local(handler.thread_critical)
