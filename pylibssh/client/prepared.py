"""libssh client sessions made from options prepared once per set of values.

A client session's options are a dozen ``ssh_options_set`` calls (host, port, user, the
known_hosts files, each direction's algorithm lists, which libssh parses and filters), made again
for every connection, and a fan-out makes hundreds of connections with the same values.
:func:`new_session` keeps one libssh session configured with each set of values it was given
(the last :data:`MAX_TEMPLATES` sets used) and returns a copy of it (``ssh_options_copy``, one C
call) for each connection. What ``ssh_options_copy`` leaves out (the rekey limits) is not taken
here: the caller sets it on the copy.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from .._binding import CData
from .._binding import client as client_api

__all__ = ["new_session", "MAX_TEMPLATES"]

#: sets of option values kept configured (least recently used dropped first)
MAX_TEMPLATES = 32

OptionValues = Sequence[tuple[str, Any]]

_templates: OrderedDict[tuple[tuple[str, Any], ...], CData] = OrderedDict()
_lock = threading.Lock()


def new_session(values: OptionValues) -> CData:
    """A new libssh session (the caller owns it) with ``values`` set: (option, value) pairs of
    :func:`pylibssh._binding.client.set_option`, set in order, none of them a rekey limit.
    Raises what ``set_option`` raises for a value libssh refuses (then nothing is kept for those
    values) and MemoryError."""
    key = tuple(values)
    with _lock:
        template = _templates.get(key)
        if template is None:
            template = client_api.new_template()
            for name, value in key:
                client_api.set_option(template, name, value)
            _templates[key] = template
            while len(_templates) > MAX_TEMPLATES:
                _templates.popitem(last=False)
        else:
            _templates.move_to_end(key)
        # (under the lock: the template is read while it is copied, never changed)
        return client_api.copy_options(template)
