/* Building and parsing SSH packets libssh has no API for: static helpers shared by
 * pylibssh_server.c and pylibssh_client.c. Included only under PYLIBSSH_PRIVATE_HEADERS, after
 * libssh's private headers (priv.h, session.h, buffer.h, misc.h, messages.h). */
#ifndef PYLIBSSH_WIRE_H
#define PYLIBSSH_WIRE_H

#include <stdlib.h>
#include <string.h>

/* ssh_send_ignore("") appends SSH2_MSG_IGNORE and an empty string (5 bytes) to the packet being
 * built and sends it: the only public way to send a packet libssh has no function for. A packet
 * built here ends with a string field whose length covers those 5 bytes, so they become that
 * field's (ignored) content: the language tag of an open failure, the reserved string of a
 * forwarded-streamlocal open. */
#define TRAILER_LEN 5

static inline int put_u8(ssh_buffer b, uint8_t v)
{
    return ssh_buffer_add_data(b, &v, 1);
}

static inline int put_u32(ssh_buffer b, uint32_t v)
{
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return ssh_buffer_add_data(b, be, 4);
}

static inline int put_string(ssh_buffer b, const void *data, uint32_t len)
{
    if (put_u32(b, len) < 0) {
        return -1;
    }
    return len == 0 ? 0 : ssh_buffer_add_data(b, data, len);
}

static inline int send_with_trailer(ssh_session session)
{
    if (put_u32(session->out_buffer, TRAILER_LEN) < 0) {
        ssh_buffer_reinit(session->out_buffer);
        return SSH_ERROR;
    }
    ssh_send_ignore(session, "");
    if (ssh_buffer_get_len(session->out_buffer) != 0) {
        /* not sent (the socket is closed): drop it, it must not prefix the next packet */
        ssh_buffer_reinit(session->out_buffer);
        return SSH_ERROR;
    }
    return SSH_OK;
}

static inline int read_u32(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
    if (end - *p < 4) {
        return -1;
    }
    *v = ((uint32_t)(*p)[0] << 24) | ((uint32_t)(*p)[1] << 16) | ((uint32_t)(*p)[2] << 8) |
         (uint32_t)(*p)[3];
    *p += 4;
    return 0;
}

static inline int read_string(const uint8_t **p, const uint8_t *end, const uint8_t **s, uint32_t *len)
{
    uint32_t n;

    if (read_u32(p, end, &n) != 0 || (size_t)(end - *p) < n) {
        return -1;
    }
    *s = *p;
    *len = n;
    *p += n;
    return 0;
}

static inline int is_name(const uint8_t *s, uint32_t len, const char *name)
{
    return len == strlen(name) && memcmp(s, name, len) == 0;
}

static inline char *dup_text(const uint8_t *s, uint32_t len)
{
    char *out;

    if (memchr(s, 0, len) != NULL) {
        return NULL; /* a path with a NUL cannot name a socket */
    }
    out = malloc((size_t)len + 1);
    if (out != NULL) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

/* libssh frees list nodes with free(): allocate them with malloc (ssh_list_* is internal) */
static inline int list_add(struct ssh_list *list, const void *data, int at_front)
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

static inline void queue_message(ssh_session session, ssh_message msg)
{
    if (session->ssh_message_list == NULL) {
        session->ssh_message_list = calloc(1, sizeof(struct ssh_list));
    }
    if (session->ssh_message_list == NULL ||
        list_add(session->ssh_message_list, msg, 0) != 0) {
        ssh_message_free(msg);
    }
}
/* A CHANNEL_OPEN of an OpenSSH streamlocal type (``name``) that libssh does not parse: queued as
 * a message of pylibssh's ``subtype`` with the socket path as its destination (answered with
 * libssh's ordinary reply functions). SSH_PACKET_NOT_USED for another type, or for what libssh's
 * own handler should refuse (malformed, before authentication). */
static inline int queue_streamlocal_open(ssh_session session, ssh_buffer packet,
                                         const char *name, int subtype)
{
    const uint8_t *p = ssh_buffer_get(packet);
    const uint8_t *end = p + ssh_buffer_get_len(packet);
    const uint8_t *type, *path;
    uint32_t type_len, path_len, sender, window, packet_size;
    ssh_message msg;

    if (read_string(&p, end, &type, &type_len) != 0 || !is_name(type, type_len, name)) {
        return SSH_PACKET_NOT_USED;
    }
    if (session->session_state != SSH_SESSION_STATE_AUTHENTICATED ||
        read_u32(&p, end, &sender) != 0 || read_u32(&p, end, &window) != 0 ||
        read_u32(&p, end, &packet_size) != 0 || packet_size == 0 ||
        read_string(&p, end, &path, &path_len) != 0) {
        return SSH_PACKET_NOT_USED; /* libssh's handler deals with what is wrong */
    }
    msg = calloc(1, sizeof(struct ssh_message_struct));
    if (msg == NULL) {
        return SSH_PACKET_NOT_USED;
    }
    msg->session = session;
    msg->type = SSH_REQUEST_CHANNEL_OPEN;
    msg->channel_request_open.type = subtype;
    msg->channel_request_open.sender = sender;
    msg->channel_request_open.window = window;
    msg->channel_request_open.packet_size = packet_size;
    msg->channel_request_open.destination = dup_text(path, path_len);
    if (msg->channel_request_open.destination == NULL) {
        free(msg);
        return SSH_PACKET_NOT_USED;
    }
    queue_message(session, msg);
    return SSH_PACKET_USED;
}

#endif
