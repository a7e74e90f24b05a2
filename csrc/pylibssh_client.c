/* The client's side of global requests and of OpenSSH's UNIX-socket forwarding.
 *
 * Replies to global requests (SSH_MSG_REQUEST_SUCCESS / FAILURE) carry no request id: they come
 * in the order of the requests that want one. libssh keeps one reply state per session, which
 * its keepalive and its tcpip-forward senders share, so a keepalive's reply could be taken for a
 * forward's. A packet handler placed before libssh's keeps a FIFO of the outstanding want-reply
 * requests and gives each reply to its own request: to libssh's waiting call (tcpip-forward,
 * cancel), to pylibssh (its own requests: streamlocal-forward@openssh.com and its cancel, which
 * libssh cannot send, and any request of the paramiko layer's), or to nobody (keepalives). It
 * also records the port of a tcpip-forward's success: libssh reads it from whatever packet it
 * processed last (its own FIXME).
 *
 * forwarded-streamlocal@openssh.com channel opens: libssh queues them as "unknown" without the
 * socket path; the same handler queues them as messages of pylibssh's own subtype with the path
 * as the destination.
 *
 * What needs libssh's private state (the handler's place, libssh's reply state, the queued
 * messages, sending a message libssh has no function for) is pylibssh_private.c's; without it
 * pylibssh_track_global_replies() fails and none of this is used. */
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
#include "pylibssh_private.h"
#include "pylibssh_wire.h"

#define RING(seq) ((seq) % PYLIBSSH_GLOBAL_QUEUE)

static int global_reply_cb(ssh_session session, uint8_t type, ssh_buffer packet, void *user)
{
    struct pylibssh_global_replies *r = user;
    int success = type == PYLIBSSH_MSG_REQUEST_SUCCESS;
    int32_t port = -1;
    uint32_t seq;
    const uint8_t *p;

    (void)session;
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
    return SSH_PACKET_USED; /* pylibssh's own request, or nobody waits (keepalive) */
}

static int forwarded_streamlocal_open(ssh_session session, uint8_t type, ssh_buffer packet,
                                      void *user)
{
    (void)type;
    (void)user;
    return pylibssh_queue_streamlocal_open(session, packet, "forwarded-streamlocal@openssh.com",
                                           PYLIBSSH_CHANNEL_FORWARDED_STREAMLOCAL, 1);
}

/* SSH2_MSG_REQUEST_SUCCESS (81), SSH2_MSG_REQUEST_FAILURE (82) .. SSH2_MSG_CHANNEL_OPEN (90) */
static ssh_packet_callback client_callbacks[PYLIBSSH_MSG_CHANNEL_OPEN -
                                            PYLIBSSH_MSG_REQUEST_SUCCESS + 1] = {
    [0] = global_reply_cb,
    [1] = global_reply_cb,
    [PYLIBSSH_MSG_CHANNEL_OPEN - PYLIBSSH_MSG_REQUEST_SUCCESS] = forwarded_streamlocal_open,
};

int pylibssh_track_global_replies(ssh_session session, struct pylibssh_global_replies *r)
{
    if (session == NULL || r == NULL || !PYLIBSSH_HAS_GLOBAL_REPLIES) {
        return -1;
    }
    memset(r, 0, sizeof(*r));
    r->last_port = -1;
    r->callbacks.start = PYLIBSSH_MSG_REQUEST_SUCCESS;
    r->callbacks.n_callbacks = PYLIBSSH_MSG_CHANNEL_OPEN - PYLIBSSH_MSG_REQUEST_SUCCESS + 1;
    r->callbacks.callbacks = client_callbacks;
    r->callbacks.user = r;
    /* first in the list, before libssh's handlers */
    return pylibssh_packet_handler_add(session, &r->callbacks) == SSH_OK ? 0 : -1;
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
    if (r->kinds[RING(seq)] == PYLIBSSH_GLOBAL_LIBSSH) {
        /* libssh's call was abandoned (timeout): free its state for the next request */
        pylibssh_global_release(session);
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
    if (pylibssh_global_idle(session) != 1) {
        /* libssh waits for a forward's reply: its keepalive would take that reply. The
         * forward's reply is traffic too; skip this one. */
        return SSH_AGAIN;
    }
    seq = pylibssh_global_expect(r, PYLIBSSH_GLOBAL_NOBODY);
    if (seq < 0) {
        return SSH_AGAIN; /* many unanswered already */
    }
    ssh_send_keepalive(session); /* sends, leaves libssh's state pending */
    pylibssh_global_release(session); /* our handler takes the reply */
    if (ssh_get_status(session) & SSH_CLOSED_ERROR) {
        pylibssh_global_unexpect(r, (uint32_t)seq);
        return SSH_ERROR;
    }
    return SSH_OK;
}

/* a global request: its name, the want-reply flag, then ``data`` (already SSH-encoded fields) */
static int send_global_request(ssh_session session, const char *name, int want_reply,
                               const void *data, size_t len)
{
    ssh_buffer out = ssh_buffer_new();
    int rc = SSH_ERROR;

    if (out == NULL) {
        return SSH_ERROR;
    }
    if (put_u8(out, PYLIBSSH_MSG_GLOBAL_REQUEST) == 0 && put_cstring(out, name) == 0 &&
        put_u8(out, want_reply ? 1 : 0) == 0 &&
        (len == 0 || ssh_buffer_add_data(out, data, (uint32_t)len) == 0)) {
        rc = pylibssh_send_packet(session, ssh_buffer_get(out), ssh_buffer_get_len(out));
    }
    ssh_buffer_free(out);
    return rc;
}

int pylibssh_global_request_path(ssh_session session, const char *name, const char *path)
{
    ssh_buffer fields;
    int rc = SSH_ERROR;

    if (session == NULL || name == NULL || path == NULL) {
        return SSH_ERROR;
    }
    fields = ssh_buffer_new();
    if (fields == NULL) {
        return SSH_ERROR;
    }
    if (put_cstring(fields, path) == 0) {
        rc = send_global_request(session, name, 1, ssh_buffer_get(fields),
                                 ssh_buffer_get_len(fields));
    }
    ssh_buffer_free(fields);
    return rc;
}

int pylibssh_global_request_raw(ssh_session session, const char *name, const uint8_t *data,
                                size_t len, int want_reply)
{
    if (session == NULL || name == NULL || (data == NULL && len != 0) || len > UINT32_MAX) {
        return SSH_ERROR;
    }
    return send_global_request(session, name, want_reply, data, len);
}

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
