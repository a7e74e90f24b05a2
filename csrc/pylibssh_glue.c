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
 * without blocking. What it does not send is left in libssh's buffer for the next callback
 * (Python's), and from then on it stays out of the way (``blocked``) until Python has written
 * what it queued and clears the flag, so bytes keep their order. */
#include <errno.h>
#include <sys/socket.h>

static int sock_sink_data(ssh_session session, ssh_channel channel, void *data, uint32_t len,
                          int is_stderr, void *userdata)
{
    struct pylibssh_sock_sink *s = userdata;
    uint32_t done = 0;
    ssize_t n;

    (void)session;
    (void)channel;
    if (is_stderr || s->blocked || s->fd < 0 || len == 0) {
        return 0;
    }
    while (done < len) {
        n = send(s->fd, (const char *)data + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
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
