/* Client-side uses of libssh's private session struct (see pylibssh_server.c for why and how
 * the private headers are used; without them the answer is "unknown").
 *
 * - ssh_message_get() polls the socket when nothing is queued; the client takes queued channel
 *   opens after every poll of a busy session, so it first asks whether any are queued.
 * - Replies to global requests (SSH_MSG_REQUEST_SUCCESS / FAILURE) carry no request id: they
 *   come in the order of the requests that want one. libssh keeps one reply state per session,
 *   which its keepalive and its tcpip-forward senders share, so a keepalive's reply could be
 *   taken for a forward's. A packet handler placed before libssh's keeps a FIFO of the
 *   outstanding want-reply requests and gives each reply to its own request: to libssh's
 *   waiting call (tcpip-forward, cancel), to pylibssh (its own requests:
 *   streamlocal-forward@openssh.com and its cancel, which libssh cannot send), or to nobody
 *   (keepalives). It also records the port of a tcpip-forward's success: libssh reads it from
 *   whatever packet it processed last (its own FIXME).
 * - The negotiated host-key algorithm (rsa-sha2-512, ssh-ed25519...), which libssh has no getter
 *   for (it has them for the cipher, MAC and key exchange).
 * - forwarded-streamlocal@openssh.com channel opens: libssh queues them as "unknown" without
 *   the socket path; the same handler queues them as messages of pylibssh's own subtype with
 *   the path as the destination.
 * This file must not include Python.h (libssh's config.h and pyconfig.h clash). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

#include "pylibssh_glue.h"

#ifdef PYLIBSSH_PRIVATE_HEADERS
#include "config.h" /* libssh's generated configuration: priv.h needs it */
#include <libssh/priv.h>
#include <libssh/session.h>
#include <libssh/buffer.h>
#include <libssh/messages.h>
#include <libssh/misc.h>
#include <libssh/ssh2.h>
#include <libssh/crypto.h>

#include "pylibssh_wire.h"

int pylibssh_session_has_messages(ssh_session session)
{
    if (session == NULL) {
        return -1;
    }
    return session->ssh_message_list != NULL && session->ssh_message_list->root != NULL;
}

const char *pylibssh_session_hostkey_algo(ssh_session session)
{
    struct ssh_crypto_struct *crypto;

    if (session == NULL) {
        return NULL;
    }
    crypto = session->current_crypto != NULL ? session->current_crypto : session->next_crypto;
    if (crypto == NULL) {
        return NULL;
    }
    return crypto->kex_methods[SSH_HOSTKEYS];
}

#define RING(seq) ((seq) % PYLIBSSH_GLOBAL_QUEUE)

static int global_reply_cb(ssh_session session, uint8_t type, ssh_buffer packet, void *user)
{
    struct pylibssh_global_replies *r = user;
    int success = type == SSH2_MSG_REQUEST_SUCCESS;
    int32_t port = -1;
    uint32_t seq;
    const uint8_t *p;

    if (success) {
        r->successes++;
        if (ssh_buffer_get_len(packet) >= 4) { /* peek: libssh's own handler may run next */
            p = ssh_buffer_get(packet);
            port = (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
                             ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
        }
        r->last_port = port;
    }
    if (r->answered == r->sent) {
        return SSH_PACKET_NOT_USED; /* nothing of ours outstanding: libssh's */
    }
    seq = r->answered++;
    r->results[RING(seq)] = (int8_t)success;
    r->ports[RING(seq)] = port;
    if (r->kinds[RING(seq)] == PYLIBSSH_GLOBAL_LIBSSH) {
        return SSH_PACKET_NOT_USED; /* libssh's waiting call takes it */
    }
    (void)session;
    return SSH_PACKET_USED; /* pylibssh's own request, or nobody waits (keepalive) */
}

static int forwarded_streamlocal_open(ssh_session session, uint8_t type, ssh_buffer packet,
                                    void *user)
{
    (void)type;
    (void)user;
    if (!session->client) {
        return SSH_PACKET_NOT_USED;
    }
    return queue_streamlocal_open(session, packet, "forwarded-streamlocal@openssh.com",
                                  PYLIBSSH_CHANNEL_FORWARDED_STREAMLOCAL);
}

/* SSH2_MSG_REQUEST_SUCCESS (81), SSH2_MSG_REQUEST_FAILURE (82) .. SSH2_MSG_CHANNEL_OPEN (90) */
static ssh_packet_callback client_callbacks[SSH2_MSG_CHANNEL_OPEN - SSH2_MSG_REQUEST_SUCCESS + 1] = {
    [0] = global_reply_cb,
    [1] = global_reply_cb,
    [SSH2_MSG_CHANNEL_OPEN - SSH2_MSG_REQUEST_SUCCESS] = forwarded_streamlocal_open,
};

int pylibssh_track_global_replies(ssh_session session, struct pylibssh_global_replies *r)
{
    if (session == NULL || r == NULL || session->packet_callbacks == NULL) {
        return -1;
    }
    memset(r, 0, sizeof(*r));
    r->last_port = -1;
    r->callbacks.start = SSH2_MSG_REQUEST_SUCCESS;
    r->callbacks.n_callbacks = SSH2_MSG_CHANNEL_OPEN - SSH2_MSG_REQUEST_SUCCESS + 1;
    r->callbacks.callbacks = client_callbacks;
    r->callbacks.user = r;
    /* first in the list, before libssh's handlers */
    return list_add(session->packet_callbacks, &r->callbacks, 1);
}

int pylibssh_global_idle(ssh_session session)
{
    if (session == NULL) {
        return -1;
    }
    return session->global_req_state == SSH_CHANNEL_REQ_STATE_NONE;
}

int64_t pylibssh_global_expect(struct pylibssh_global_replies *r, int kind)
{
    uint32_t seq;

    if (r->sent - r->answered >= PYLIBSSH_GLOBAL_QUEUE) {
        return -1; /* too many outstanding */
    }
    seq = r->sent++;
    r->kinds[RING(seq)] = (uint8_t)kind;
    r->results[RING(seq)] = -1;
    return seq;
}

void pylibssh_global_unexpect(struct pylibssh_global_replies *r, uint32_t seq)
{
    if (r->sent == seq + 1 && r->answered <= seq) {
        r->sent = seq; /* the request was not sent after all */
    }
}

void pylibssh_global_forget(ssh_session session, struct pylibssh_global_replies *r,
                            uint32_t seq)
{
    if (r->answered > seq || r->sent <= seq) {
        return; /* answered already, or not ours */
    }
    if (r->kinds[RING(seq)] == PYLIBSSH_GLOBAL_LIBSSH && session != NULL &&
        session->global_req_state == SSH_CHANNEL_REQ_STATE_PENDING) {
        /* libssh's call was abandoned (timeout): free its state for the next request */
        session->global_req_state = SSH_CHANNEL_REQ_STATE_NONE;
    }
    r->kinds[RING(seq)] = PYLIBSSH_GLOBAL_NOBODY; /* its reply is dropped */
}

int pylibssh_global_result(struct pylibssh_global_replies *r, uint32_t seq, int32_t *port)
{
    if (r->answered <= seq) {
        return -1; /* not answered yet */
    }
    if (r->answered - seq > PYLIBSSH_GLOBAL_QUEUE) {
        return -2; /* too old: its result was overwritten */
    }
    if (port != NULL) {
        *port = r->ports[RING(seq)];
    }
    return r->results[RING(seq)];
}

int pylibssh_send_keepalive(ssh_session session, struct pylibssh_global_replies *r)
{
    int64_t seq;

    if (session == NULL || r == NULL) {
        return SSH_ERROR;
    }
    if (session->global_req_state != SSH_CHANNEL_REQ_STATE_NONE) {
        /* libssh waits for a forward's reply: its keepalive would take that reply. The
         * forward's reply is traffic too; skip this one. */
        return SSH_AGAIN;
    }
    seq = pylibssh_global_expect(r, PYLIBSSH_GLOBAL_NOBODY);
    if (seq < 0) {
        return SSH_AGAIN; /* many unanswered already */
    }
    ssh_send_keepalive(session); /* sends, leaves libssh's state pending */
    if (session->global_req_state == SSH_CHANNEL_REQ_STATE_PENDING) {
        session->global_req_state = SSH_CHANNEL_REQ_STATE_NONE; /* our handler takes the reply */
    }
    if (session->session_state == SSH_SESSION_STATE_ERROR) {
        pylibssh_global_unexpect(r, (uint32_t)seq);
        return SSH_ERROR;
    }
    return SSH_OK;
}

int pylibssh_global_request_path(ssh_session session, const char *name, const char *path)
{
    ssh_buffer out;

    if (session == NULL || name == NULL || path == NULL) {
        return SSH_ERROR;
    }
    out = session->out_buffer;
    if (put_u8(out, SSH2_MSG_GLOBAL_REQUEST) < 0 ||
        put_string(out, name, (uint32_t)strlen(name)) < 0 || put_u8(out, 1) < 0 ||
        put_string(out, path, (uint32_t)strlen(path)) < 0) {
        ssh_buffer_reinit(out);
        return SSH_ERROR;
    }
    /* a trailing string (ignored by OpenSSH, which reads only the path) absorbs the trailer */
    return send_with_trailer(session);
}

int pylibssh_global_request_raw(ssh_session session, const char *name, const uint8_t *data,
                                size_t len, int want_reply)
{
    ssh_buffer out;

    if (session == NULL || name == NULL || (data == NULL && len != 0)) {
        return SSH_ERROR;
    }
    out = session->out_buffer;
    if (put_u8(out, SSH2_MSG_GLOBAL_REQUEST) < 0 ||
        put_string(out, name, (uint32_t)strlen(name)) < 0 || put_u8(out, want_reply ? 1 : 0) < 0 ||
        (len != 0 && ssh_buffer_add_data(out, data, (uint32_t)len) < 0)) {
        ssh_buffer_reinit(out);
        return SSH_ERROR;
    }
    /* one more string after the data absorbs the trailer (servers that read the request's
     * fields in order and not to the end, as OpenSSH's, do not see it) */
    return send_with_trailer(session);
}

#else /* !PYLIBSSH_PRIVATE_HEADERS */

int pylibssh_global_request_raw(ssh_session session, const char *name, const uint8_t *data,
                                size_t len, int want_reply)
{
    (void)session;
    (void)name;
    (void)data;
    (void)len;
    (void)want_reply;
    return SSH_ERROR;
}

int pylibssh_global_idle(ssh_session session)
{
    (void)session;
    return -1;
}

int64_t pylibssh_global_expect(struct pylibssh_global_replies *r, int kind)
{
    (void)r;
    (void)kind;
    return -1;
}

void pylibssh_global_unexpect(struct pylibssh_global_replies *r, uint32_t seq)
{
    (void)r;
    (void)seq;
}

void pylibssh_global_forget(ssh_session session, struct pylibssh_global_replies *r,
                            uint32_t seq)
{
    (void)session;
    (void)r;
    (void)seq;
}

int pylibssh_global_result(struct pylibssh_global_replies *r, uint32_t seq, int32_t *port)
{
    (void)r;
    (void)seq;
    (void)port;
    return -2;
}

int pylibssh_send_keepalive(ssh_session session, struct pylibssh_global_replies *r)
{
    (void)r;
    /* the first call clears a reply to the previous keepalive, the second sends; while one is
     * unanswered both only check for its reply */
    ssh_send_keepalive(session);
    ssh_send_keepalive(session);
    return SSH_OK;
}

int pylibssh_global_request_path(ssh_session session, const char *name, const char *path)
{
    (void)session;
    (void)name;
    (void)path;
    return SSH_ERROR;
}

int pylibssh_track_global_replies(ssh_session session, struct pylibssh_global_replies *r)
{
    (void)session;
    (void)r;
    return -1;
}

int pylibssh_session_has_messages(ssh_session session)
{
    (void)session;
    return -1;
}

const char *pylibssh_session_hostkey_algo(ssh_session session)
{
    (void)session;
    return NULL;
}

#endif

/* Acknowledge received segments at once (Linux; elsewhere a no-op). A server that sends two
 * small packets in a row without TCP_NODELAY (sshd outside interactive sessions: its post-login
 * messages, then the channel-open confirmation) holds the second until the first is
 * acknowledged, and a delayed ACK costs 40 ms. The flag does not stick: set after each read. */
int pylibssh_tcp_quickack(int fd)
{
#ifdef TCP_QUICKACK
    int one = 1;

    return setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
    (void)fd;
    return 0;
#endif
}

/* SO_RCVLOWAT: poll reports the socket readable only once this many bytes wait (or the
 * connection ends). A bulk reader then wakes once per that many bytes instead of once per
 * arriving segment; it must also wait with a timeout, since the rest of a stream may be less. */
int pylibssh_tcp_rcvlowat(int fd, int bytes)
{
    return setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof(bytes));
}
