"""The engine's channel callback structs, from the binding layer
(:mod:`pylibssh._binding.callbacks`, where libssh's callbacks call into Python)."""

from ._binding.callbacks import new_agent_request_callbacks, new_channel_callbacks

__all__ = ["new_agent_request_callbacks", "new_channel_callbacks"]
