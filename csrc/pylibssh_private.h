/* What pylibssh needs from libssh beyond its public API, in one place (csrc/pylibssh_private.c).
 *
 * libssh 0.12 has no public way to do a few things pylibssh relies on: reading the pty modes and
 * the want-reply flag of a queued request, the size of the output libssh holds for the socket,
 * putting a packet handler before libssh's own, queueing a request libssh does not parse, the
 * negotiated host-key algorithm. pylibssh_private.c does each of them with the private struct
 * layouts of the pinned release (its own headers, found only when the extension is built against
 * the vendored libssh: setup.py then defines PYLIBSSH_PRIVATE_HEADERS), and calls the functions
 * our patches add (vendor/libssh/patches). No other C file reads or writes a libssh struct that
 * its public headers do not declare.
 *
 * Each capability has a flag, 1 when this build has it (cryptography's Cryptography_HAS_* style).
 * Python reads them once (pylibssh/_binding.py, HAS) and switches the feature off cleanly
 * without them; the functions then answer "unknown" (-1, NULL) or fail (SSH_ERROR).
 * vendor/libssh/README.md lists each private use with the public API that would replace it. */
#ifndef PYLIBSSH_PRIVATE_H
#define PYLIBSSH_PRIVATE_H

#include <stddef.h>
#include <stdint.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>

#ifdef PYLIBSSH_PRIVATE_HEADERS
#define PYLIBSSH_PRIVATE 1
#else
#define PYLIBSSH_PRIVATE 0
#endif

/* a pty-req's terminal modes (pylibssh_message_pty_modes) */
#define PYLIBSSH_HAS_PTY_MODES PYLIBSSH_PRIVATE
/* whether a queued request wants a reply (pylibssh_message_want_reply) */
#define PYLIBSSH_HAS_WANT_REPLY PYLIBSSH_PRIVATE
/* the bytes libssh holds for the socket, and writing them without a poll */
#define PYLIBSSH_HAS_PENDING_OUTPUT PYLIBSSH_PRIVATE
/* how the socket failed (pylibssh_session_socket_errno) */
#define PYLIBSSH_HAS_SOCKET_STATE PYLIBSSH_PRIVATE
/* channel data beyond the window ends the session (pylibssh_enforce_windows) */
#define PYLIBSSH_HAS_WINDOW_GUARD PYLIBSSH_PRIVATE
/* whether libssh queued messages, without polling (pylibssh_session_has_messages) */
#define PYLIBSSH_HAS_MESSAGE_PEEK PYLIBSSH_PRIVATE
/* the negotiated host-key algorithm (pylibssh_session_hostkey_algo) */
#define PYLIBSSH_HAS_HOSTKEY_ALGO PYLIBSSH_PRIVATE
/* replies to global requests given to their own request; global requests of any kind */
#define PYLIBSSH_HAS_GLOBAL_REPLIES PYLIBSSH_PRIVATE
/* OpenSSH's UNIX-socket forwarding (streamlocal) on both sides */
#define PYLIBSSH_HAS_STREAMLOCAL PYLIBSSH_PRIVATE
/* a channel open refused with a reason code of the application's */
#define PYLIBSSH_HAS_OPEN_FAILURE_REASON PYLIBSSH_PRIVATE

/* -- the socket ------------------------------------------------------------------------------- */
/* bytes of SSH packets libssh holds for the session's socket (with ``queued``, also those held
 * back during a key re-exchange); -1 unknown */
int64_t pylibssh_session_pending_output(ssh_session session, int queued);
/* write libssh's output buffer to the socket as far as it takes it, reading nothing; the bytes
 * left, or -1 (an error, left for libssh's next poll to report; or unknown) */
int64_t pylibssh_session_flush_output(ssh_session session);
/* the errno of the socket's failed read or write, 0 when none failed, -1 unknown */
int pylibssh_session_socket_errno(ssh_session session);

/* -- the session -------------------------------------------------------------------------------- */
/* put ``cb`` before libssh's own packet handlers (libssh keeps the pointer: ``cb`` must live as
 * long as the session); SSH_OK or SSH_ERROR */
int pylibssh_packet_handler_add(ssh_session session, struct ssh_packet_callbacks_struct *cb);
/* 1 for a client session, 0 for a server's, -1 unknown */
int pylibssh_session_is_client(ssh_session session);
/* 1 once the user is authenticated, 0 before, -1 unknown */
int pylibssh_session_authenticated(ssh_session session);
/* end the session with libssh's own error state and ``message`` (from a packet handler) */
void pylibssh_session_fail(ssh_session session, const char *message);
/* the window libssh grants the peer on the channel with local number ``id``: 0 and *window
 * set, or -1 (no such channel, or unknown) */
int pylibssh_channel_local_window(ssh_session session, uint32_t id, uint32_t *window);
/* the negotiated host-key algorithm (rsa-sha2-512, ssh-ed25519...); NULL before the key
 * exchange, or unknown; owned by the session */
const char *pylibssh_session_hostkey_algo(ssh_session session);

/* -- queued messages ---------------------------------------------------------------------------- */
/* 1/0: whether libssh has queued ssh_messages (ssh_message_get polls when none are); -1 unknown */
int pylibssh_session_has_messages(ssh_session session);
/* a pty-req's encoded terminal modes (RFC 4254 8): 0 and *data (points into msg: copy it before
 * freeing msg) and *len, or -1 (not a pty-req, or unknown) */
int pylibssh_message_pty_modes(ssh_message msg, const unsigned char **data, size_t *len);
/* 1/0: whether the peer wants a reply to a channel or global request; -1 unknown */
int pylibssh_message_want_reply(ssh_message msg);
/* queue, as libssh queues what it parses, a global request of pylibssh's own ``subtype`` with
 * ``path`` (its bind address), or a channel open of subtype ``subtype`` with ``path`` (its
 * destination); ``path`` is copied (``path_len`` bytes, refused when it holds a NUL); SSH_OK, or
 * SSH_ERROR (nothing queued) */
int pylibssh_queue_global_request(ssh_session session, int subtype, int want_reply,
                                  const void *path, uint32_t path_len);
int pylibssh_queue_channel_open(ssh_session session, int subtype, uint32_t sender,
                                uint32_t window, uint32_t packet_size, const void *path,
                                uint32_t path_len);
/* the session a queued message came on; NULL unknown */
ssh_session pylibssh_message_session(ssh_message msg);
/* the peer's channel number of a queued channel open; -1 unknown */
int64_t pylibssh_message_open_sender(ssh_message msg);

/* -- global requests ---------------------------------------------------------------------------- */
/* 1: libssh waits for no reply to a global request of its own (tcpip-forward, keepalive); 0: it
 * does; -1 unknown */
int pylibssh_global_idle(ssh_session session);
/* libssh stops waiting for its global request's reply (it goes to pylibssh's handler) */
void pylibssh_global_release(ssh_session session);

/* -- what our patches add to libssh --------------------------------------------------------------- */
/* ssh_send_packet (patch 0011): send a connection-protocol message encoded by the caller */
int pylibssh_send_packet(ssh_session session, const void *payload, size_t len);
/* ssh_channel_open_reverse_forward_unix (patch 0012): open forwarded-streamlocal@openssh.com */
int pylibssh_channel_open_reverse_unix(ssh_channel channel, const char *socket_path);

#endif
