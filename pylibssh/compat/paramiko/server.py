"""paramiko.server: ``ServerInterface`` and ``SubsystemHandler``, so code that defines paramiko
servers imports. Running them (``Transport.start_server``) is not supported yet: pylibssh's own
server (:mod:`pylibssh.server`) is the way to serve SSH with pylibssh."""

from __future__ import annotations

import threading

from .common import (
    AUTH_FAILED,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
)

__all__ = ["ServerInterface", "SubsystemHandler", "InteractiveQuery"]


class ServerInterface:
    """paramiko's server-side policy interface, with paramiko's documented defaults (refuse)."""

    def check_channel_request(self, kind, chanid):
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def get_allowed_auths(self, username):
        return "password"

    def check_auth_none(self, username):
        return AUTH_FAILED

    def check_auth_password(self, username, password):
        return AUTH_FAILED

    def check_auth_publickey(self, username, key):
        return AUTH_FAILED

    def check_auth_interactive(self, username, submethods):
        return AUTH_FAILED

    def check_auth_interactive_response(self, responses):
        return AUTH_FAILED

    def check_auth_gssapi_with_mic(self, username, gss_authenticated=AUTH_FAILED,
                                   cc_file=None):
        return AUTH_FAILED

    def check_auth_gssapi_keyex(self, username, gss_authenticated=AUTH_FAILED, cc_file=None):
        return AUTH_FAILED

    def enable_auth_gssapi(self):
        return False

    def check_port_forward_request(self, address, port):
        return False

    def cancel_port_forward_request(self, address, port):
        pass

    def check_global_request(self, kind, msg):
        return False

    def check_channel_pty_request(self, channel, term, width, height, pixelwidth,
                                  pixelheight, modes):
        return False

    def check_channel_shell_request(self, channel):
        return False

    def check_channel_exec_request(self, channel, command):
        return False

    def check_channel_subsystem_request(self, channel, name):
        return False

    def check_channel_window_change_request(self, channel, width, height, pixelwidth,
                                            pixelheight):
        return False

    def check_channel_x11_request(self, channel, single_connection, auth_protocol,
                                  auth_cookie, screen_number):
        return False

    def check_channel_forward_agent_request(self, channel):
        return False

    def check_channel_direct_tcpip_request(self, chanid, origin, destination):
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_env_request(self, channel, name, value):
        return False

    def get_banner(self):
        return (None, None)


class InteractiveQuery:
    """A keyboard-interactive query: a name, instructions and prompts (text, echo)."""

    def __init__(self, name="", instructions="", *prompts):
        self.name = name
        self.instructions = instructions
        self.prompts = []
        for x in prompts:
            if isinstance(x, str):
                self.add_prompt(x)
            else:
                self.add_prompt(x[0], x[1])

    def add_prompt(self, prompt, echo=True):
        self.prompts.append((prompt, echo))


class SubsystemHandler(threading.Thread):
    """paramiko's base for subsystem handlers (``SFTPServer``)."""

    def __init__(self, channel, name, server):
        threading.Thread.__init__(self, target=self._run)
        self.__channel = channel
        self.__transport = channel.get_transport()
        self.__name = name
        self.__server = server

    def get_server(self):
        return self.__server

    def _run(self):
        self.start_subsystem(self.__name, self.__transport, self.__channel)

    def start_subsystem(self, name, transport, channel):
        pass

    def finish_subsystem(self):
        self.__channel.close()
