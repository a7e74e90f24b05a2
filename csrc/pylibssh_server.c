/* Server-side fields that libssh 0.12 parses but has no public getter for.
 *
 * libssh keeps a channel request's pty terminal modes and its want-reply flag only in the private
 * struct ssh_message_struct (include/libssh/messages.h). When the extension is built against the
 * pinned, vendored release, setup.py adds that release's private include directory and its
 * generated config.h and defines PYLIBSSH_PRIVATE_HEADERS, so the layout compiled here is exactly
 * the layout of the library we ship. With a system libssh the private headers are unknown: the
 * getters report "unavailable" and Python documents the limit (no modes).
 *
 * This file must not include Python.h: libssh's config.h and pyconfig.h define the same macros. */
#include <stddef.h>
#include <stdint.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>

#include "pylibssh_glue.h"

#ifdef PYLIBSSH_PRIVATE_HEADERS
#include <libssh/messages.h>

int pylibssh_have_message_internals(void)
{
    return 1;
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


/* --- forwarding -----------------------------------------------------------------------------
 *
 * libssh is linked as a shared library that exports only its public API, so what follows uses
 * public functions plus the private struct layouts of the pinned release, nothing else. */

#include <stdlib.h>
#include <string.h>
#include "config.h" /* libssh-build/config.h: what priv.h expects first */
#include <libssh/priv.h>
#include <libssh/session.h>
#include <libssh/channels.h>
#include <libssh/buffer.h>
#include <libssh/ssh2.h>
#include <libssh/misc.h>

/* libssh's own channel defaults (channels.c) */
#define PYLIBSSH_CHANNEL_MAX_PACKET 32768
#define PYLIBSSH_WINDOW_DEFAULT (64 * PYLIBSSH_CHANNEL_MAX_PACKET)

#include "pylibssh_wire.h" /* packet building and parsing, send_with_trailer() */

int pylibssh_channel_open_reply_failure(ssh_message msg, uint32_t code, const char *desc)
{
    ssh_session session;
    ssh_buffer out;

    if (msg == NULL || msg->type != SSH_REQUEST_CHANNEL_OPEN) {
        return SSH_ERROR;
    }
    session = msg->session;
    out = session->out_buffer;
    if (desc == NULL) {
        desc = "";
    }
    if (put_u8(out, SSH2_MSG_CHANNEL_OPEN_FAILURE) < 0 ||
        put_u32(out, msg->channel_request_open.sender) < 0 || put_u32(out, code) < 0 ||
        put_string(out, desc, (uint32_t)strlen(desc)) < 0) {
        ssh_buffer_reinit(out);
        return SSH_ERROR;
    }
    return send_with_trailer(session); /* the language tag absorbs the trailer */
}

/* Opens a forwarded-streamlocal@openssh.com channel, for which libssh has no function (its
 * channel_open() is internal): what channel_open() does, then SSH_AGAIN; the channel's
 * open-response callback tells the outcome, handled by libssh as for any channel it opened. */
int pylibssh_channel_open_forwarded_streamlocal(ssh_channel channel, const char *socket_path)
{
    static const char type[] = "forwarded-streamlocal@openssh.com";
    ssh_session session;
    ssh_buffer out;

    if (channel == NULL || socket_path == NULL) {
        return SSH_ERROR;
    }
    session = channel->session;
    if (channel->state != SSH_CHANNEL_STATE_NOT_OPEN) {
        return SSH_ERROR;
    }
    out = session->out_buffer;
    channel->local_channel = ++session->maxchannel; /* ssh_channel_new_id() */
    channel->local_maxpacket = PYLIBSSH_CHANNEL_MAX_PACKET;
    channel->local_window = PYLIBSSH_WINDOW_DEFAULT;
    if (put_u8(out, SSH2_MSG_CHANNEL_OPEN) < 0 ||
        put_string(out, type, (uint32_t)strlen(type)) < 0 ||
        put_u32(out, channel->local_channel) < 0 || put_u32(out, channel->local_window) < 0 ||
        put_u32(out, channel->local_maxpacket) < 0 ||
        put_string(out, socket_path, (uint32_t)strlen(socket_path)) < 0) {
        ssh_buffer_reinit(out);
        return SSH_ERROR;
    }
    channel->state = SSH_CHANNEL_STATE_OPENING;
    if (send_with_trailer(session) != SSH_OK) { /* the reserved string absorbs the trailer */
        return SSH_ERROR;
    }
    return SSH_AGAIN;
}

/* OpenSSH's UNIX-socket forwarding requests, which libssh 0.12 does not parse: libssh answers
 * streamlocal-forward with a failure and queues direct-streamlocal as an "unknown" channel open
 * without its socket path. A packet handler put before libssh's own turns them into queued
 * messages of pylibssh's own subtypes, answered with libssh's ordinary reply functions. */

static int streamlocal_global_request(ssh_session session, uint8_t type, ssh_buffer packet,
                                      void *user)
{
    const uint8_t *p = ssh_buffer_get(packet);
    const uint8_t *end = p + ssh_buffer_get_len(packet);
    const uint8_t *name, *path;
    uint32_t name_len, path_len;
    int subtype;
    uint8_t want_reply;
    ssh_message msg;

    (void)type;
    (void)user;
    if (session->client || read_string(&p, end, &name, &name_len) != 0) {
        return SSH_PACKET_NOT_USED;
    }
    if (is_name(name, name_len, "streamlocal-forward@openssh.com")) {
        subtype = PYLIBSSH_GLOBAL_REQUEST_STREAMLOCAL_FORWARD;
    } else if (is_name(name, name_len, "cancel-streamlocal-forward@openssh.com")) {
        subtype = PYLIBSSH_GLOBAL_REQUEST_CANCEL_STREAMLOCAL_FORWARD;
    } else {
        return SSH_PACKET_NOT_USED;
    }
    if (end - p < 1) {
        return SSH_PACKET_NOT_USED;
    }
    want_reply = *p++;
    if (read_string(&p, end, &path, &path_len) != 0) {
        return SSH_PACKET_NOT_USED; /* malformed: libssh's handler refuses it */
    }
    msg = calloc(1, sizeof(struct ssh_message_struct));
    if (msg == NULL) {
        return SSH_PACKET_NOT_USED;
    }
    msg->session = session;
    msg->type = SSH_REQUEST_GLOBAL;
    msg->global_request.type = subtype;
    msg->global_request.want_reply = want_reply;
    msg->global_request.bind_address = dup_text(path, path_len);
    if (msg->global_request.bind_address == NULL) {
        free(msg);
        return SSH_PACKET_NOT_USED;
    }
    queue_message(session, msg);
    return SSH_PACKET_USED;
}

static int streamlocal_channel_open(ssh_session session, uint8_t type, ssh_buffer packet,
                                    void *user)
{
    (void)type;
    (void)user;
    if (session->client) {
        return SSH_PACKET_NOT_USED;
    }
    return queue_streamlocal_open(session, packet, "direct-streamlocal@openssh.com",
                                  PYLIBSSH_CHANNEL_DIRECT_STREAMLOCAL);
}

/* SSH2_MSG_GLOBAL_REQUEST (80) .. SSH2_MSG_CHANNEL_OPEN (90) */
static ssh_packet_callback streamlocal_callbacks[SSH2_MSG_CHANNEL_OPEN - SSH2_MSG_GLOBAL_REQUEST + 1] = {
    [0] = streamlocal_global_request,
    [SSH2_MSG_CHANNEL_OPEN - SSH2_MSG_GLOBAL_REQUEST] = streamlocal_channel_open,
};

static struct ssh_packet_callbacks_struct streamlocal_packet_callbacks = {
    .start = SSH2_MSG_GLOBAL_REQUEST,
    .n_callbacks = SSH2_MSG_CHANNEL_OPEN - SSH2_MSG_GLOBAL_REQUEST + 1,
    .callbacks = streamlocal_callbacks,
    .user = NULL,
};

int pylibssh_server_enable_streamlocal(ssh_session session)
{
    if (session == NULL || session->packet_callbacks == NULL) {
        return SSH_ERROR;
    }
    /* before libssh's handlers, which answer these requests themselves */
    return list_add(session->packet_callbacks, &streamlocal_packet_callbacks, 1) == 0
               ? SSH_OK : SSH_ERROR;
}

#else /* !PYLIBSSH_PRIVATE_HEADERS */

int pylibssh_have_message_internals(void)
{
    return 0;
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


int pylibssh_channel_open_reply_failure(ssh_message msg, uint32_t code, const char *desc)
{
    (void)code;
    (void)desc;
    return ssh_message_reply_default(msg);
}


int pylibssh_channel_open_forwarded_streamlocal(ssh_channel channel, const char *socket_path)
{
    (void)channel;
    (void)socket_path;
    return SSH_ERROR;
}

int pylibssh_server_enable_streamlocal(ssh_session session)
{
    (void)session;
    return SSH_ERROR;
}

#endif
