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
 * A data callback put before Python's. It takes the channel's bytes into its own buffer (no
 * Python object per packet) and sends the buffer with one send() when it is full, or when
 * Python flushes it once libssh's poll is over (``dirty`` asks for that, once per batch): one
 * system call, and one wakeup of the socket's reader, for all the packets of a poll. Once
 * attached it is the channel's only data callback: what it cannot take (the socket is full and
 * so is the buffer) goes to the channel's own (Python's) callback, and from then on everything
 * does (``blocked``) until Python has written the sink's buffer and its own queue and clears the
 * flag, so bytes keep their order. */
#include <errno.h>
#include <sys/socket.h>

/* send what is buffered; 0: all of it, >0: bytes left (the socket is full), -1: error */
int pylibssh_sock_sink_flush(struct pylibssh_sock_sink *s)
{
    uint32_t sent = 0;
    ssize_t n;

    if (s->hold) {
        return (int)s->len; /* nowhere to send: Python takes the bytes */
    }
    if (s->fd < 0) {
        s->len = 0;
        return 0;
    }
    while (sent < s->len) {
        n = send(s->fd, s->buf + sent, s->len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += (uint32_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            return -1;
        }
        break;
    }
    s->bytes += sent;
    if (sent > 0 && sent < s->len) {
        memmove(s->buf, s->buf + sent, s->len - sent);
    }
    s->len -= sent;
    return (int)s->len;
}

static int sock_sink_data(ssh_session session, ssh_channel channel, void *data, uint32_t len,
                          int is_stderr, void *userdata)
{
    struct pylibssh_sock_sink *s = userdata;
    uint32_t done = 0, k;
    int rest, was_empty = s->len == 0;

    if (!is_stderr && !s->blocked && (s->fd >= 0 || s->hold)) {
        while (done < len) {
            if (s->len == s->cap && pylibssh_sock_sink_flush(s) != 0) {
                s->blocked = 1; /* full (or failed: Python's flush reports it) */
                break;
            }
            k = s->cap - s->len;
            if (k > len - done) {
                k = len - done;
            }
            memcpy(s->buf + s->len, (const char *)data + done, k);
            s->len += k;
            done += k;
        }
        if (was_empty && s->len > 0 && s->dirty != NULL) {
            s->dirty(s->dirty_userdata); /* Python flushes after the poll */
        }
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

void pylibssh_sock_sink_init(struct pylibssh_sock_sink *s, int fd, char *buf, uint32_t cap,
                             void (*dirty)(void *), void *dirty_userdata)
{
    memset(s, 0, sizeof(*s));
    ssh_callbacks_init(&s->cb);
    s->cb.userdata = s;
    s->cb.channel_data_function = sock_sink_data;
    s->fd = fd;
    s->buf = buf;
    s->cap = cap;
    s->dirty = dirty;
    s->dirty_userdata = dirty_userdata;
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
    s->hold = 0;
    s->blocked = 1;
    s->len = 0;
    s->dirty = NULL;
    if (s->own != NULL) {
        s->own->channel_data_function = s->next;
        s->own = NULL;
    }
    s->next = NULL;
}

/* libssh's poll for a holding sink's reader (pylibssh/client/process.py, Process.read): again
 * while each poll adds bytes (what the socket already has), never waiting for more, and not past
 * half the buffer (a poll takes at most libssh's read size, well below that). Returns whether
 * output waits to be sent (the next wait must include POLLOUT), saving Python a call. */
int pylibssh_sink_poll(ssh_event event, ssh_session session, struct pylibssh_sock_sink *s)
{
    uint32_t before;
    int rc;

    do {
        before = s->len;
        rc = ssh_event_dopoll(event, 0);
    } while (rc == SSH_OK && s->len > before && s->len <= s->cap / 2 && !s->blocked);
    if (rc == SSH_ERROR) {
        return -1;
    }
    return (ssh_get_poll_flags(session) & SSH_WRITE_PENDING) ? 1 : 0;
}

/* --- channel data beyond the window ------------------------------------------------------
 * libssh drops a CHANNEL_DATA packet larger than the channel's window, logs a warning and goes
 * on: a peer that ignores the window loses data silently and can make every packet cost a log
 * line. OpenSSH disconnects such a peer ("peer ignored channel window"), and so does this
 * handler, placed before libssh's: it ends the session with libssh's own error state. Packets
 * within the window, and those for channels libssh does not know (it ignores them), are left to
 * libssh. */
#include <stdio.h>
#include "pylibssh_private.h"
#include "pylibssh_wire.h"

static int window_check(ssh_session session, uint8_t type, ssh_buffer packet, void *user)
{
    const uint8_t *p = ssh_buffer_get(packet);
    const uint8_t *end = p + ssh_buffer_get_len(packet);
    uint32_t id, code, len, window;
    char message[128];

    (void)user;
    if (read_u32(&p, end, &id) != 0 ||
        (type == PYLIBSSH_MSG_CHANNEL_EXTENDED_DATA && read_u32(&p, end, &code) != 0) ||
        read_u32(&p, end, &len) != 0) {
        return SSH_PACKET_NOT_USED; /* malformed: libssh's handler says so */
    }
    if (pylibssh_channel_local_window(session, id, &window) != 0 || len <= window) {
        return SSH_PACKET_NOT_USED;
    }
    snprintf(message, sizeof(message),
             "the peer ignored channel %u's window (%u bytes sent, %u allowed)", id, len, window);
    pylibssh_session_fail(session, message);
    return SSH_PACKET_USED;
}

/* SSH2_MSG_CHANNEL_DATA (94), SSH2_MSG_CHANNEL_EXTENDED_DATA (95) */
static ssh_packet_callback window_callbacks[2] = {window_check, window_check};

static struct ssh_packet_callbacks_struct window_packet_callbacks = {
    .start = PYLIBSSH_MSG_CHANNEL_DATA,
    .n_callbacks = 2,
    .callbacks = window_callbacks,
    .user = NULL,
};

int pylibssh_enforce_windows(ssh_session session)
{
    return pylibssh_packet_handler_add(session, &window_packet_callbacks);
}
