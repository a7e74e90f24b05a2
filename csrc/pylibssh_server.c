/* Server-side requests libssh 0.12 does not handle: OpenSSH's UNIX-socket forwarding, and a
 * channel open refused with the application's reason code.
 *
 * libssh answers streamlocal-forward@openssh.com with a failure itself and queues
 * direct-streamlocal@openssh.com as an "unknown" channel open without its socket path. A packet
 * handler put before libssh's own turns exactly those requests into queued messages of
 * pylibssh's own subtypes, answered with libssh's ordinary reply functions. The private parts
 * (the handler's place, the queued messages) are pylibssh_private.c's. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>
#include <libssh/server.h>

#include "pylibssh_glue.h"
#include "pylibssh_private.h"
#include "pylibssh_wire.h"

int pylibssh_channel_open_reply_failure(ssh_message msg, uint32_t code, const char *desc)
{
    int64_t sender = pylibssh_message_open_sender(msg);
    ssh_buffer out;
    int rc = SSH_ERROR;

    if (sender < 0 || !PYLIBSSH_HAS_OPEN_FAILURE_REASON) {
        return ssh_message_reply_default(msg); /* libssh's own refusal ("prohibited") */
    }
    out = ssh_buffer_new();
    if (out == NULL) {
        return SSH_ERROR;
    }
    if (put_u8(out, PYLIBSSH_MSG_CHANNEL_OPEN_FAILURE) == 0 && put_u32(out, (uint32_t)sender) == 0 &&
        put_u32(out, code) == 0 && put_cstring(out, desc != NULL ? desc : "") == 0 &&
        put_cstring(out, "") == 0 /* language tag */) {
        rc = pylibssh_send_packet(pylibssh_message_session(msg), ssh_buffer_get(out),
                                  ssh_buffer_get_len(out));
    }
    ssh_buffer_free(out);
    return rc;
}

int pylibssh_channel_open_forwarded_streamlocal(ssh_channel channel, const char *socket_path)
{
    return pylibssh_channel_open_reverse_unix(channel, socket_path);
}

/* A CHANNEL_OPEN of an OpenSSH streamlocal type (``name``) that libssh does not parse: queued as
 * a message of pylibssh's ``subtype`` with the socket path as its destination. The session must
 * be a server (``want_client`` 0) or a client (1), as the type belongs to that side.
 * SSH_PACKET_NOT_USED for another type, or for what libssh's own handler should refuse
 * (malformed, before authentication). */
int pylibssh_queue_streamlocal_open(ssh_session session, ssh_buffer packet, const char *name,
                                    int subtype, int want_client)
{
    const uint8_t *p = ssh_buffer_get(packet);
    const uint8_t *end = p + ssh_buffer_get_len(packet);
    const uint8_t *type, *path;
    uint32_t type_len, path_len, sender, window, packet_size;

    if (pylibssh_session_is_client(session) != want_client ||
        read_string(&p, end, &type, &type_len) != 0 || !is_name(type, type_len, name)) {
        return SSH_PACKET_NOT_USED;
    }
    if (pylibssh_session_authenticated(session) != 1 || read_u32(&p, end, &sender) != 0 ||
        read_u32(&p, end, &window) != 0 || read_u32(&p, end, &packet_size) != 0 ||
        packet_size == 0 || read_string(&p, end, &path, &path_len) != 0) {
        return SSH_PACKET_NOT_USED; /* libssh's handler deals with what is wrong */
    }
    if (pylibssh_queue_channel_open(session, subtype, sender, window, packet_size, path,
                                    path_len) != SSH_OK) {
        return SSH_PACKET_NOT_USED;
    }
    return SSH_PACKET_USED;
}

static int streamlocal_global_request(ssh_session session, uint8_t type, ssh_buffer packet,
                                      void *user)
{
    const uint8_t *p = ssh_buffer_get(packet);
    const uint8_t *end = p + ssh_buffer_get_len(packet);
    const uint8_t *name, *path;
    uint32_t name_len, path_len;
    int subtype;
    uint8_t want_reply;

    (void)type;
    (void)user;
    if (pylibssh_session_is_client(session) != 0 ||
        read_string(&p, end, &name, &name_len) != 0) {
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
    if (read_string(&p, end, &path, &path_len) != 0 ||
        pylibssh_queue_global_request(session, subtype, want_reply, path, path_len) != SSH_OK) {
        return SSH_PACKET_NOT_USED; /* malformed: libssh's handler refuses it */
    }
    return SSH_PACKET_USED;
}

static int streamlocal_channel_open(ssh_session session, uint8_t type, ssh_buffer packet,
                                    void *user)
{
    (void)type;
    (void)user;
    return pylibssh_queue_streamlocal_open(session, packet, "direct-streamlocal@openssh.com",
                                           PYLIBSSH_CHANNEL_DIRECT_STREAMLOCAL, 0);
}

/* SSH2_MSG_GLOBAL_REQUEST (80) .. SSH2_MSG_CHANNEL_OPEN (90) */
static ssh_packet_callback streamlocal_callbacks[PYLIBSSH_MSG_CHANNEL_OPEN -
                                                 PYLIBSSH_MSG_GLOBAL_REQUEST + 1] = {
    [0] = streamlocal_global_request,
    [PYLIBSSH_MSG_CHANNEL_OPEN - PYLIBSSH_MSG_GLOBAL_REQUEST] = streamlocal_channel_open,
};

static struct ssh_packet_callbacks_struct streamlocal_packet_callbacks = {
    .start = PYLIBSSH_MSG_GLOBAL_REQUEST,
    .n_callbacks = PYLIBSSH_MSG_CHANNEL_OPEN - PYLIBSSH_MSG_GLOBAL_REQUEST + 1,
    .callbacks = streamlocal_callbacks,
    .user = NULL,
};

int pylibssh_server_enable_streamlocal(ssh_session session)
{
    if (!PYLIBSSH_HAS_STREAMLOCAL) {
        return SSH_ERROR;
    }
    /* before libssh's handlers, which answer these requests themselves */
    return pylibssh_packet_handler_add(session, &streamlocal_packet_callbacks);
}
