/* What needs libssh's private structs or our patches (csrc/pylibssh_private.c). Each flag is 1
 * when this build has the capability (built against the vendored libssh); Python reads them in
 * pylibssh/_binding.py (HAS) and switches a feature off without it. Without it the functions
 * answer "unknown" (-1, NULL) or fail (SSH_ERROR). */
#define PYLIBSSH_HAS_PTY_MODES ...
#define PYLIBSSH_HAS_WANT_REPLY ...
#define PYLIBSSH_HAS_PENDING_OUTPUT ...
#define PYLIBSSH_HAS_SOCKET_STATE ...
#define PYLIBSSH_HAS_WINDOW_GUARD ...
#define PYLIBSSH_HAS_MESSAGE_PEEK ...
#define PYLIBSSH_HAS_HOSTKEY_ALGO ...
#define PYLIBSSH_HAS_GLOBAL_REPLIES ...
#define PYLIBSSH_HAS_STREAMLOCAL ...
#define PYLIBSSH_HAS_OPEN_FAILURE_REASON ...

/* bytes of SSH packets libssh holds for the session's socket: its output buffer, and with
 * ``queued`` the packets held back during a key re-exchange; -1 unknown */
int64_t pylibssh_session_pending_output(ssh_session session, int queued);
/* write libssh's output buffer to the socket as far as it takes it, reading nothing; the bytes
 * left, or -1 (an error, for libssh's next poll to report; or unknown) */
int64_t pylibssh_session_flush_output(ssh_session session);
/* the errno of the socket's failed read or write; 0 none failed; -1 unknown */
int pylibssh_session_socket_errno(ssh_session session);
/* the negotiated host-key algorithm (NULL before the key exchange, or unknown); owned by the
 * session */
const char *pylibssh_session_hostkey_algo(ssh_session session);
/* 1/0: whether libssh has queued ssh_messages (ssh_message_get would poll when none are);
 * -1 unknown */
int pylibssh_session_has_messages(ssh_session session);
/* a pty-req's encoded terminal modes (RFC 4254 8); *data points into msg: copy before freeing;
 * -1 unknown */
int pylibssh_message_pty_modes(ssh_message msg, const unsigned char **data, size_t *len);
/* 1/0: whether the peer asked for a reply to a channel or global request; -1 unknown */
int pylibssh_message_want_reply(ssh_message msg);
/* 1: libssh waits for no reply to a global request of its own; 0: it does; -1 unknown */
int pylibssh_global_idle(ssh_session session);
