/* Client-side uses of libssh's private session struct (see pylibssh_server.c for why and how
 * the private headers are used; without them the answer is "unknown").
 *
 * - ssh_message_get() polls the socket when nothing is queued; the client takes queued channel
 *   opens after every poll of a busy session, so it first asks whether any are queued.
 * - The port a tcpip-forward request with port 0 got: ssh_channel_listen_forward() reads it
 *   from whatever packet libssh processed last (its own FIXME), in nonblocking mode possibly a
 *   later one (channel data in the same read). A packet handler placed before libssh's records
 *   the payload of each SSH_MSG_REQUEST_SUCCESS and leaves the packet to libssh.
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
#include <libssh/misc.h>
#include <libssh/ssh2.h>

int pylibssh_session_has_messages(ssh_session session)
{
    if (session == NULL) {
        return -1;
    }
    return session->ssh_message_list != NULL && session->ssh_message_list->root != NULL;
}

static int request_success_cb(ssh_session session, uint8_t type, ssh_buffer packet,
                              void *user)
{
    struct pylibssh_global_replies *r = user;
    const uint8_t *p;

    (void)session;
    (void)type;
    r->successes++;
    r->last_port = -1;
    if (ssh_buffer_get_len(packet) >= 4) { /* peek: libssh's own handler runs next */
        p = ssh_buffer_get(packet);
        r->last_port = (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
                                 ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
    }
    return SSH_PACKET_NOT_USED;
}

static ssh_packet_callback reply_callbacks[] = {request_success_cb};

int pylibssh_track_global_replies(ssh_session session, struct pylibssh_global_replies *r)
{
    struct ssh_iterator *it;

    if (session == NULL || r == NULL || session->packet_callbacks == NULL) {
        return -1;
    }
    r->successes = 0;
    r->last_port = -1;
    r->callbacks.start = SSH2_MSG_REQUEST_SUCCESS;
    r->callbacks.n_callbacks = 1;
    r->callbacks.callbacks = reply_callbacks;
    r->callbacks.user = r;
    /* first in the list (libssh frees its nodes with free(); ssh_list_* is internal) */
    it = malloc(sizeof(*it));
    if (it == NULL) {
        return -1;
    }
    it->data = &r->callbacks;
    it->next = session->packet_callbacks->root;
    session->packet_callbacks->root = it;
    if (session->packet_callbacks->end == NULL) {
        session->packet_callbacks->end = it;
    }
    return 0;
}

#else /* !PYLIBSSH_PRIVATE_HEADERS */

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
