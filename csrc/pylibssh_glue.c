#include <string.h>

#include "pylibssh_glue.h"

#ifndef PYLIBSSH_VERSION
#error "PYLIBSSH_VERSION must be defined by the build (setup.py)"
#endif
#ifndef PYLIBSSH_VENDORED
#define PYLIBSSH_VENDORED 0
#endif

const char *pylibssh_build_version(void)
{
    return PYLIBSSH_VERSION;
}

int pylibssh_vendored(void)
{
    return PYLIBSSH_VENDORED;
}

void pylibssh_init_session_callbacks(struct ssh_callbacks_struct *cb)
{
    ssh_callbacks_init(cb);
}

void pylibssh_init_server_callbacks(struct ssh_server_callbacks_struct *cb)
{
    ssh_callbacks_init(cb);
}

void pylibssh_init_channel_callbacks(struct ssh_channel_callbacks_struct *cb)
{
    ssh_callbacks_init(cb);
}

/* --- a channel's data straight into a socket (pylibssh/bridge.py) --------------------------
 * A data callback put before Python's: it sends the channel's bytes to the socket in the same
 * poll (no Python object, no copy out of libssh's buffer), as far as the socket takes them
 * without blocking. Once attached it is the channel's only data callback: it hands what the
 * socket did not take to the channel's own (Python's) callback itself, so Python is not called
 * for packets the socket took whole. From a short send on, it leaves everything to Python
 * (``blocked``) until Python has written what it queued and clears the flag: bytes keep their
 * order. */
#include <errno.h>
#include <sys/socket.h>

static int sock_sink_data(ssh_session session, ssh_channel channel, void *data, uint32_t len,
                          int is_stderr, void *userdata)
{
    struct pylibssh_sock_sink *s = userdata;
    uint32_t done = 0;
    ssize_t n;
    int rest;

    if (!is_stderr && !s->blocked && s->fd >= 0) {
        while (done < len) {
            n = send(s->fd, (const char *)data + done, len - done,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                done += (uint32_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            s->blocked = 1; /* full (or failed: Python's own write reports the error) */
            break;
        }
        s->bytes += done;
    }
    if (done < len && s->next != NULL) {
        rest = s->next(session, channel, (char *)data + done, len - done, is_stderr,
                       s->next_userdata);
        if (rest > 0) {
            done += (uint32_t)rest;
        }
    }
    return (int)done;
}

void pylibssh_sock_sink_init(struct pylibssh_sock_sink *s, int fd)
{
    memset(s, 0, sizeof(*s));
    ssh_callbacks_init(&s->cb);
    s->cb.userdata = s;
    s->cb.channel_data_function = sock_sink_data;
    s->fd = fd;
}

struct ssh_channel_callbacks_struct *pylibssh_sock_sink_callbacks(struct pylibssh_sock_sink *s)
{
    return &s->cb;
}

void pylibssh_sock_sink_attach(struct pylibssh_sock_sink *s,
                               struct ssh_channel_callbacks_struct *own)
{
    s->own = own;
    s->next = own->channel_data_function;
    s->next_userdata = own->userdata;
    own->channel_data_function = NULL; /* libssh skips it: the sink calls it */
}

void pylibssh_sock_sink_detach(struct pylibssh_sock_sink *s)
{
    s->fd = -1;
    s->blocked = 1;
    if (s->own != NULL) {
        s->own->channel_data_function = s->next;
        s->own = NULL;
    }
    s->next = NULL;
}
