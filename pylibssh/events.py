"""A small event emitter, after Node's EventEmitter (node-libssh's objects are emitters).

Listeners run in the emitting thread (the loop thread for everything pylibssh emits). ``emit``
lets a listener's exception propagate to the emitter's owner, which decides what a failure means
(the server logs it and gives the request its default reply).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import Self  # typing's own from Python 3.11

__all__ = ["EventEmitter"]

Listener = Callable[..., Any]
#: a listener's own type, which the decorator form of ``on`` and ``once`` gives back
ListenerT = TypeVar("ListenerT", bound=Listener)

#: how an ``async def`` listener is called: set by :mod:`pylibssh.asyncio` to a function that
#: wraps it (``(event, listener) -> listener``) so that each call runs as a task on the running
#: asyncio loop; without it a coroutine listener is a plain function (its coroutine never runs)
coroutine_listener: Callable[[str, Listener], Listener] | None = None


def _adapt(event: str, listener: Listener) -> Listener:
    if coroutine_listener is not None and inspect.iscoroutinefunction(listener):
        wrapper = coroutine_listener(event, listener)
        wrapper._pylibssh_once_of = listener  # type: ignore[attr-defined]  # (for off())
        return wrapper
    return listener


class EventEmitter:
    """Node's EventEmitter in Python: ``on(event, listener)`` (or ``@obj.on(event)``), ``once``,
    ``off`` and ``emit``. Listeners of one event run in the order they were added, in the
    emitting thread; an exception a listener raises propagates to the emitter's owner (see the
    module's text)."""

    #: the names of the events this emitter emits (None: any name); ``on`` and ``once`` refuse a
    #: listener for another name, which would never be called
    events: ClassVar[frozenset[str] | None] = None

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}

    def _check_event(self, event: str) -> None:
        known = self.events
        if known is not None and event not in known:
            raise ValueError(f"{type(self).__name__} emits no {event!r} event; its events are "
                             + ", ".join(sorted(known)))

    @overload
    def on(self, event: str) -> Callable[[ListenerT], ListenerT]: ...
    @overload
    def on(self, event: str, listener: Listener) -> Self: ...

    def on(self, event: str, listener: Listener | None = None
           ) -> Callable[[ListenerT], ListenerT] | Self:
        """Add a listener; without one, return a decorator (``@server.on("connection")``).
        Raises ValueError for an event name this emitter never emits (:attr:`events`)."""
        self._check_event(event)
        if listener is None:
            def decorator(fn: ListenerT) -> ListenerT:
                self.on(event, fn)
                return fn
            return decorator
        self._listeners.setdefault(event, []).append(_adapt(event, listener))
        return self

    add_listener = on

    @overload
    def once(self, event: str) -> Callable[[ListenerT], ListenerT]: ...
    @overload
    def once(self, event: str, listener: Listener) -> Self: ...

    def once(self, event: str, listener: Listener | None = None
             ) -> Callable[[ListenerT], ListenerT] | Self:
        """Add a listener that is removed after its first call (ValueError as :meth:`on`)."""
        self._check_event(event)
        if listener is None:
            def decorator(fn: ListenerT) -> ListenerT:
                self.once(event, fn)
                return fn
            return decorator
        target = _adapt(event, listener)

        def wrapper(*args: Any) -> Any:
            self.off(event, wrapper)
            return target(*args)

        wrapper._pylibssh_once_of = listener  # type: ignore[attr-defined]
        return self.on(event, wrapper)

    def off(self, event: str, listener: Listener) -> Any:
        """Remove a listener (added with ``on`` or ``once``); unknown listeners are ignored."""
        listeners = self._listeners.get(event)
        if listeners:
            for i, fn in enumerate(listeners):
                # == so that a bound method (a new object at each access) finds itself
                if fn == listener or getattr(fn, "_pylibssh_once_of", None) == listener:
                    del listeners[i]
                    break
            if not listeners:
                del self._listeners[event]
        return self

    remove_listener = off

    def remove_all_listeners(self, event: str | None = None) -> Any:
        """Remove every listener of ``event``, or of every event when ``event`` is None (the
        default). Returns the emitter, for chaining."""
        if event is None:
            self._listeners.clear()
        else:
            self._listeners.pop(event, None)
        return self

    def listeners(self, event: str) -> list[Listener]:
        """A copy of the listeners of ``event``, in the order they run (empty when there are none).
        """
        return list(self._listeners.get(event, ()))

    def listener_count(self, event: str) -> int:
        """How many listeners ``event`` has."""
        return len(self._listeners.get(event, ()))

    def emit(self, event: str, *args: Any) -> bool:
        """Call every listener of ``event`` in order; True when there was at least one."""
        listeners = self._listeners.get(event)
        if not listeners:
            return False
        for fn in tuple(listeners):  # a listener may add or remove listeners
            fn(*args)
        return True
