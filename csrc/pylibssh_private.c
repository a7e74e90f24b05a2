/* Every read or write of libssh's private structs, and every call of a function our patches add
 * (see pylibssh_private.h for why, and vendor/libssh/README.md for each use and the public API
 * that would replace it).
 *
 * Built against the pinned, vendored release, setup.py adds that release's private include
 * directory and generated config.h and defines PYLIBSSH_PRIVATE_HEADERS, so every layout compiled
 * here is exactly the layout of the library we ship. Otherwise (a system libssh) each function
 * answers "unknown" or fails, and the PYLIBSSH_HAS_* flags are 0.
 *
 * This file must not include Python.h: libssh's config.h and pyconfig.h define the same macros. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pylibssh_private.h"

#ifdef PYLIBSSH_PRIVATE_HEADERS
#include "config.h" /* libssh's generated configuration: priv.h needs it */
#include <libssh/priv.h>
#include <libssh/session.h>
#include <libssh/channels.h>
#include <libssh/buffer.h>
#include <libssh/crypto.h>
#include <libssh/messages.h>
#include <libssh/misc.h>

/* -- the socket ---------------------------------------------------------------------------------
 * struct ssh_socket_struct is private to libssh's src/socket.c (no header declares it): its
 * leading fields, unchanged since libssh 0.5, are mirrored here from the pinned release, and the
 * mirror is trusted only while its descriptor is the session's (ssh_get_fd). */

struct pylibssh_socket_head { /* src/socket.c: struct ssh_socket_struct, first fields */
    socket_t fd;
    int fd_is_socket;
    int last_errno;
    int read_wontblock;
    int write_wontblock;
    int data_except;
    int state; /* enum ssh_socket_states_e */
    ssh_buffer out_buffer;
};

static struct pylibssh_socket_head *socket_head(ssh_session session)
{
    struct pylibssh_socket_head *head;

    if (session == NULL || session->socket == NULL) {
        return NULL;
    }
    head = (struct pylibssh_socket_head *)session->socket;
    if (head->fd == SSH_INVALID_SOCKET || head->fd != ssh_get_fd(session) ||
        head->out_buffer == NULL) {
        return NULL;
    }
    return head;
}

int64_t pylibssh_session_pending_output(ssh_session session, int queued)
{
    const struct pylibssh_socket_head *head = socket_head(session);
    const struct ssh_iterator *it;
    int64_t total;

    if (head == NULL) {
        return -1;
    }
    total = ssh_buffer_get_len(head->out_buffer);
    if (queued && session->out_queue != NULL) {
        for (it = session->out_queue->root; it != NULL; it = it->next) {
            total += ssh_buffer_get_len((ssh_buffer)it->data);
        }
    }
    return total;
}

/* What libssh's POLLOUT handling does (src/socket.c, ssh_socket_nonblocking_flush), without
 * its poll, which would also read and process the peer's input. An error is left for libssh's
 * next poll to find (the socket reports it again). libssh exports no way to drop the front of
 * a buffer but to copy it out: the bytes sent are copied into a scratch area. */
int64_t pylibssh_session_flush_output(ssh_session session)
{
    struct pylibssh_socket_head *head = socket_head(session);
    char scratch[16384];
    uint32_t len;
    ssize_t n;

    if (head == NULL || head->data_except || !head->fd_is_socket) {
        return -1;
    }
    while ((len = ssh_buffer_get_len(head->out_buffer)) > 0) {
        n = send(head->fd, ssh_buffer_get(head->out_buffer),
                 len < sizeof(scratch) ? len : sizeof(scratch), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK ? (int64_t)len : -1;
        }
        ssh_buffer_get_data(head->out_buffer, scratch, (uint32_t)n);
        if (session->socket_counter != NULL) {
            session->socket_counter->out_bytes += (uint64_t)n;
        }
    }
    return 0;
}

/* libssh marks a failed read or write (data_except) and keeps its errno; an end of file is no
 * failure there (the session's error message says "disconnected") */
int pylibssh_session_socket_errno(ssh_session session)
{
    const struct pylibssh_socket_head *head;

    if (session == NULL || session->socket == NULL) {
        return -1;
    }
    head = (const struct pylibssh_socket_head *)session->socket;
    if (!head->data_except) {
        return 0;
    }
    return head->last_errno > 0 ? head->last_errno : EIO;
}

/* -- the session --------------------------------------------------------------------------------- */

/* libssh frees list nodes with free(): allocate them with malloc (ssh_list_* is internal) */
static int list_add(struct ssh_list *list, const void *data, int at_front)
{
    struct ssh_iterator *it = malloc(sizeof(*it));

    if (it == NULL) {
        return -1;
    }
    it->data = data;
    if (at_front) {
        it->next = list->root;
        list->root = it;
        if (list->end == NULL) {
            list->end = it;
        }
    } else {
        it->next = NULL;
        if (list->end != NULL) {
            list->end->next = it;
        } else {
            list->root = it;
        }
        list->end = it;
    }
    return 0;
}

int pylibssh_packet_handler_add(ssh_session session, struct ssh_packet_callbacks_struct *cb)
{
    if (session == NULL || cb == NULL) {
        return SSH_ERROR;
    }
    if (session->packet_callbacks == NULL) {
        /* libssh creates it at the client's banner and appends its own handlers after this
         * one; it frees the list with free() */
        session->packet_callbacks = calloc(1, sizeof(struct ssh_list));
        if (session->packet_callbacks == NULL) {
            return SSH_ERROR;
        }
    }
    return list_add(session->packet_callbacks, cb, 1) == 0 ? SSH_OK : SSH_ERROR;
}

int pylibssh_session_is_client(ssh_session session)
{
    return session == NULL ? -1 : session->client != 0;
}

int pylibssh_session_authenticated(ssh_session session)
{
    if (session == NULL) {
        return -1;
    }
    return session->session_state == SSH_SESSION_STATE_AUTHENTICATED;
}

void pylibssh_session_fail(ssh_session session, const char *message)
{
    if (session == NULL) {
        return;
    }
    session->common.error.error_code = SSH_FATAL;
    snprintf(session->common.error.error_buffer, sizeof(session->common.error.error_buffer),
             "%s", message);
    session->session_state = SSH_SESSION_STATE_ERROR;
}

int pylibssh_channel_local_window(ssh_session session, uint32_t id, uint32_t *window)
{
    const struct ssh_iterator *it;
    ssh_channel channel;

    if (session == NULL || session->channels == NULL) {
        return -1;
    }
    for (it = session->channels->root; it != NULL; it = it->next) {
        channel = (ssh_channel)it->data;
        if (channel->local_channel == id) {
            *window = channel->local_window;
            return 0;
        }
    }
    return -1;
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

/* -- queued messages ------------------------------------------------------------------------------- */

int pylibssh_session_has_messages(ssh_session session)
{
    if (session == NULL) {
        return -1;
    }
    return session->ssh_message_list != NULL && session->ssh_message_list->root != NULL;
}

int pylibssh_message_pty_modes(ssh_message msg, const unsigned char **data, size_t *len)
{
    ssh_string modes;

    if (msg == NULL || data == NULL || len == NULL) {
        return -1;
    }
    *data = NULL;
    *len = 0;
    if (msg->type != SSH_REQUEST_CHANNEL ||
        msg->channel_request.type != SSH_CHANNEL_REQUEST_PTY) {
        return -1;
    }
    modes = msg->channel_request.modes;
    if (modes != NULL) {
        /* points into the message: valid until ssh_message_free; Python copies it at once */
        *data = (const unsigned char *)ssh_string_data(modes);
        *len = ssh_string_len(modes);
    }
    return 0;
}

int pylibssh_message_want_reply(ssh_message msg)
{
    if (msg == NULL) {
        return -1;
    }
    if (msg->type == SSH_REQUEST_CHANNEL) {
        return msg->channel_request.want_reply ? 1 : 0;
    }
    if (msg->type == SSH_REQUEST_GLOBAL) {
        return msg->global_request.want_reply ? 1 : 0;
    }
    return -1;
}

static int queue_message(ssh_session session, ssh_message msg)
{
    if (session->ssh_message_list == NULL) {
        session->ssh_message_list = calloc(1, sizeof(struct ssh_list));
    }
    if (session->ssh_message_list == NULL ||
        list_add(session->ssh_message_list, msg, 0) != 0) {
        ssh_message_free(msg);
        return SSH_ERROR;
    }
    return SSH_OK;
}

/* a copy of a path from a packet, NUL-terminated; NULL for one holding a NUL (it cannot name a
 * socket) or out of memory */
static char *dup_path(const void *path, uint32_t len)
{
    char *out;

    if (memchr(path, 0, len) != NULL) {
        return NULL;
    }
    out = malloc((size_t)len + 1);
    if (out != NULL) {
        memcpy(out, path, len);
        out[len] = '\0';
    }
    return out;
}

int pylibssh_queue_global_request(ssh_session session, int subtype, int want_reply,
                                  const void *path, uint32_t path_len)
{
    ssh_message msg;

    if (session == NULL || path == NULL) {
        return SSH_ERROR;
    }
    msg = calloc(1, sizeof(struct ssh_message_struct));
    if (msg == NULL) {
        return SSH_ERROR;
    }
    msg->session = session;
    msg->type = SSH_REQUEST_GLOBAL;
    msg->global_request.type = subtype;
    msg->global_request.want_reply = want_reply ? 1 : 0;
    msg->global_request.bind_address = dup_path(path, path_len);
    if (msg->global_request.bind_address == NULL) {
        free(msg);
        return SSH_ERROR;
    }
    return queue_message(session, msg); /* ssh_message_free frees the address */
}

int pylibssh_queue_channel_open(ssh_session session, int subtype, uint32_t sender,
                                uint32_t window, uint32_t packet_size, const void *path,
                                uint32_t path_len)
{
    ssh_message msg;

    if (session == NULL || path == NULL) {
        return SSH_ERROR;
    }
    msg = calloc(1, sizeof(struct ssh_message_struct));
    if (msg == NULL) {
        return SSH_ERROR;
    }
    msg->session = session;
    msg->type = SSH_REQUEST_CHANNEL_OPEN;
    msg->channel_request_open.type = subtype;
    msg->channel_request_open.sender = sender;
    msg->channel_request_open.window = window;
    msg->channel_request_open.packet_size = packet_size;
    msg->channel_request_open.destination = dup_path(path, path_len);
    if (msg->channel_request_open.destination == NULL) {
        free(msg);
        return SSH_ERROR;
    }
    return queue_message(session, msg);
}

ssh_session pylibssh_message_session(ssh_message msg)
{
    return msg == NULL ? NULL : msg->session;
}

int64_t pylibssh_message_open_sender(ssh_message msg)
{
    if (msg == NULL || msg->type != SSH_REQUEST_CHANNEL_OPEN) {
        return -1;
    }
    return msg->channel_request_open.sender;
}

/* -- global requests ------------------------------------------------------------------------------ */

int pylibssh_global_idle(ssh_session session)
{
    if (session == NULL) {
        return -1;
    }
    return session->global_req_state == SSH_CHANNEL_REQ_STATE_NONE;
}

void pylibssh_global_release(ssh_session session)
{
    if (session != NULL && session->global_req_state == SSH_CHANNEL_REQ_STATE_PENDING) {
        session->global_req_state = SSH_CHANNEL_REQ_STATE_NONE;
    }
}

/* -- what our patches add ---------------------------------------------------------------------- */

int pylibssh_send_packet(ssh_session session, const void *payload, size_t len)
{
    return ssh_send_packet(session, payload, len);
}

int pylibssh_channel_open_reverse_unix(ssh_channel channel, const char *socket_path)
{
    return ssh_channel_open_reverse_forward_unix(channel, socket_path);
}

#else /* !PYLIBSSH_PRIVATE_HEADERS: a system libssh */

int64_t pylibssh_session_pending_output(ssh_session session, int queued)
{
    (void)session;
    (void)queued;
    return -1;
}

int64_t pylibssh_session_flush_output(ssh_session session)
{
    (void)session;
    return -1;
}

int pylibssh_session_socket_errno(ssh_session session)
{
    (void)session;
    return -1;
}

int pylibssh_packet_handler_add(ssh_session session, struct ssh_packet_callbacks_struct *cb)
{
    (void)session;
    (void)cb;
    return SSH_ERROR;
}

int pylibssh_session_is_client(ssh_session session)
{
    (void)session;
    return -1;
}

int pylibssh_session_authenticated(ssh_session session)
{
    (void)session;
    return -1;
}

void pylibssh_session_fail(ssh_session session, const char *message)
{
    (void)session;
    (void)message;
}

int pylibssh_channel_local_window(ssh_session session, uint32_t id, uint32_t *window)
{
    (void)session;
    (void)id;
    (void)window;
    return -1;
}

const char *pylibssh_session_hostkey_algo(ssh_session session)
{
    (void)session;
    return NULL;
}

int pylibssh_session_has_messages(ssh_session session)
{
    (void)session;
    return -1;
}

int pylibssh_message_pty_modes(ssh_message msg, const unsigned char **data, size_t *len)
{
    (void)msg;
    if (data != NULL) {
        *data = NULL;
    }
    if (len != NULL) {
        *len = 0;
    }
    return -1;
}

int pylibssh_message_want_reply(ssh_message msg)
{
    (void)msg;
    return -1;
}

int pylibssh_queue_global_request(ssh_session session, int subtype, int want_reply,
                                  const void *path, uint32_t path_len)
{
    (void)session;
    (void)subtype;
    (void)want_reply;
    (void)path;
    (void)path_len;
    return SSH_ERROR;
}

int pylibssh_queue_channel_open(ssh_session session, int subtype, uint32_t sender,
                                uint32_t window, uint32_t packet_size, const void *path,
                                uint32_t path_len)
{
    (void)session;
    (void)subtype;
    (void)sender;
    (void)window;
    (void)packet_size;
    (void)path;
    (void)path_len;
    return SSH_ERROR;
}

ssh_session pylibssh_message_session(ssh_message msg)
{
    (void)msg;
    return NULL;
}

int64_t pylibssh_message_open_sender(ssh_message msg)
{
    (void)msg;
    return -1;
}

int pylibssh_global_idle(ssh_session session)
{
    (void)session;
    return -1;
}

void pylibssh_global_release(ssh_session session)
{
    (void)session;
}

int pylibssh_send_packet(ssh_session session, const void *payload, size_t len)
{
    (void)session;
    (void)payload;
    (void)len;
    return SSH_ERROR;
}

int pylibssh_channel_open_reverse_unix(ssh_channel channel, const char *socket_path)
{
    (void)channel;
    (void)socket_path;
    return SSH_ERROR;
}

#endif
