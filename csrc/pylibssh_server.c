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

#endif
