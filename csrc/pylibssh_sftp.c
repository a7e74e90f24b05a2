/* The SFTP server's packet counter.
 *
 * libssh's SFTP server reads requests with sftp_get_client_message(), which waits until a whole
 * packet is in the channel. To call it without ever waiting, this data callback (registered in
 * front of the channel's Python callbacks) looks at the bytes libssh buffered for the channel,
 * counts the complete SFTP packets at its start and consumes nothing. Python then pulls exactly
 * that many. It also notes each packet's type and request id, so that a request libssh cannot
 * parse can still be answered with a status. Bytes stay in libssh's buffer until pulled, so the
 * SSH window holds back a client that sends faster than the server answers.
 *
 * A READ asking for more than libssh accepts is shortened where it lies (libssh would refuse the
 * whole request, where SFTP lets a server answer a shorter read), and a length over OpenSSH's
 * packet limit breaks the framing: Python ends the subsystem, as OpenSSH's sftp-server does. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "pylibssh_glue.h"


static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* a complete READ packet (type onwards, size bytes): lower its length to what libssh accepts */
static void shorten_read(uint8_t *p, uint32_t size)
{
    uint32_t hlen, at;

    if (size < 1 + 4 + 4) {
        return;
    }
    hlen = be32(p + 5);
    if (hlen > size - 9 || size - 9 - hlen < 8 + 4) {
        return; /* malformed: libssh refuses it and Python answers BAD_MESSAGE */
    }
    at = 9 + hlen + 8;
    if (be32(p + at) > PYLIBSSH_SFTP_READ_MAX) {
        p[at] = (uint8_t)(PYLIBSSH_SFTP_READ_MAX >> 24);
        p[at + 1] = (uint8_t)(PYLIBSSH_SFTP_READ_MAX >> 16);
        p[at + 2] = (uint8_t)(PYLIBSSH_SFTP_READ_MAX >> 8);
        p[at + 3] = (uint8_t)PYLIBSSH_SFTP_READ_MAX;
    }
}

/* the layout of a WRITE the direct path parses in place (type onwards): type, id, an 8-byte
 * handle (the local backend's), offset, then the data to the packet's end */
#define WRITE_HANDLE_AT 5                        /* its length, then its 8 bytes */
#define WRITE_OFFSET_AT (WRITE_HANDLE_AT + 4 + 8) /* a uint64 */
#define WRITE_DATA_AT (WRITE_OFFSET_AT + 8 + 4)   /* after the data's length */

static int direct_key(const unsigned char *handle, size_t len, uint64_t *key);

/* whether a complete packet (type onwards, size bytes) is such a WRITE; its handle's key */
static uint8_t plain_write(const uint8_t *p, uint32_t size, uint64_t *key)
{
    if (size < WRITE_DATA_AT || p[0] != SFTP_FXP_WRITE || be32(p + WRITE_HANDLE_AT) != 8 ||
        be32(p + WRITE_DATA_AT - 4) != size - WRITE_DATA_AT) {
        return 0;
    }
    return direct_key(p + WRITE_HANDLE_AT + 4, 8, key) == 0;
}

static int pylibssh_sftp_count_cb(ssh_session session, ssh_channel channel, void *data,
                                  uint32_t len, int is_stderr, void *userdata)
{
    struct pylibssh_sftp_counter *c = userdata;
    uint8_t *p = data; /* libssh's bytes: a READ's length is shortened in place */
    uint32_t pos = 0, n = 0;

    (void)session;
    (void)channel;
    if (is_stderr || c == NULL) {
        return 0;
    }
    c->bad = 0;
    /* the buffer always starts at a packet boundary: Python pulls whole packets only, and this
     * callback never runs inside such a pull (the packet is complete, so libssh does not poll) */
    while (len - pos >= 4) {
        uint32_t size = be32(p + pos);
        if (size == 0 || size > PYLIBSSH_SFTP_PACKET_MAX) {
            c->bad = 1; /* framing is broken: Python ends the subsystem */
            break;
        }
        if (size > len - pos - 4) {
            break;
        }
        if (n < PYLIBSSH_SFTP_KNOWN) {
            c->types[n] = p[pos + 4];
            c->ids[n] = size >= 5 ? be32(p + pos + 5) : 0;
            c->sizes[n] = size;
            c->plain_write[n] = plain_write(p + pos + 4, size, &c->write_keys[n]);
        }
        if (p[pos + 4] == SFTP_FXP_READ) {
            shorten_read(p + pos + 4, size);
        }
        n++;
        pos += 4 + size;
    }
    c->complete = n;
    c->taken = 0;
    c->buffered = len;
    return 0;
}

void pylibssh_sftp_counter_init(struct pylibssh_sftp_counter *c)
{
    memset(c, 0, sizeof(*c));
    ssh_callbacks_init(&c->cb);
    c->cb.userdata = c;
    c->cb.channel_data_function = pylibssh_sftp_count_cb;
}

struct ssh_channel_callbacks_struct *
pylibssh_sftp_counter_callbacks(struct pylibssh_sftp_counter *c)
{
    return &c->cb;
}

ssh_buffer pylibssh_sftp_message_packet(sftp_client_message msg)
{
    return msg->complete_message;
}

/* ---- direct file handles ------------------------------------------------------------------
 *
 * The local backend (pylibssh/server/sftp_local.py) registers each open file's handle and fd.
 * Reads, writes and closes of those handles, the bulk of any transfer, are then answered here:
 * pread, pwrite or close, then the DATA or STATUS reply written to the channel, with no Python
 * in between (Python forgets the handles closed here right after).
 * Whatever cannot be answered here exactly as the backend would (an unknown handle, a failed
 * system call, a reply the window cannot take now) is handed to Python as a pulled message;
 * pread and pwrite at an offset can be repeated, so Python simply serves it again. */

#define DIRECT_EMPTY (-1)
#define DIRECT_REMOVED (-2)

void pylibssh_sftp_direct_init(struct pylibssh_sftp_direct *d)
{
    size_t i;

    for (i = 0; i < PYLIBSSH_SFTP_DIRECT_SLOTS; i++) {
        d->fds[i] = DIRECT_EMPTY;
    }
    d->count = 0;
    d->handoff = NULL;
}

static int direct_key(const unsigned char *handle, size_t len, uint64_t *key)
{
    uint64_t k = 0;
    size_t i;

    if (handle == NULL || len != 8) {
        return -1; /* the backend's handles are 8 bytes */
    }
    for (i = 0; i < 8; i++) {
        k = (k << 8) | handle[i];
    }
    *key = k;
    return 0;
}

/* the slot holding key, or -1 */
static int direct_find(const struct pylibssh_sftp_direct *d, uint64_t key)
{
    uint32_t mask = PYLIBSSH_SFTP_DIRECT_SLOTS - 1;
    uint32_t i = (uint32_t)(key * 0x9E3779B97F4A7C15ull >> 40) & mask;
    uint32_t n;

    for (n = 0; n < PYLIBSSH_SFTP_DIRECT_SLOTS; n++, i = (i + 1) & mask) {
        if (d->fds[i] == DIRECT_EMPTY) {
            return -1;
        }
        if (d->fds[i] >= 0 && d->keys[i] == key) {
            return (int)i;
        }
    }
    return -1;
}

int pylibssh_sftp_direct_add(struct pylibssh_sftp_direct *d, const unsigned char *handle,
                             size_t len, int fd, int writable)
{
    uint32_t mask = PYLIBSSH_SFTP_DIRECT_SLOTS - 1;
    uint64_t key;
    uint32_t i, n;

    if (fd < 0 || direct_key(handle, len, &key) != 0 || direct_find(d, key) >= 0 ||
        d->count >= PYLIBSSH_SFTP_DIRECT_SLOTS / 2) {
        return -1; /* Python serves that handle itself */
    }
    i = (uint32_t)(key * 0x9E3779B97F4A7C15ull >> 40) & mask;
    for (n = 0; n < PYLIBSSH_SFTP_DIRECT_SLOTS; n++, i = (i + 1) & mask) {
        if (d->fds[i] < 0) {
            d->keys[i] = key;
            d->fds[i] = fd;
            d->writable[i] = writable ? 1 : 0;
            d->count++;
            return 0;
        }
    }
    return -1;
}

void pylibssh_sftp_direct_remove(struct pylibssh_sftp_direct *d, const unsigned char *handle,
                                 size_t len)
{
    uint64_t key;
    int i;

    if (direct_key(handle, len, &key) != 0) {
        return;
    }
    i = direct_find(d, key);
    if (i >= 0) {
        d->fds[i] = DIRECT_REMOVED;
        d->count--;
    }
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* a STATUS reply: the text Python's reply_status() would send ("Ok", "Eof"), or ``text`` */
static uint32_t status_packet(unsigned char *p, uint32_t id, uint32_t code, const char *text)
{
    uint32_t tlen, size;

    if (text == NULL) {
        text = code == SFTP_FX_OK ? "Ok" : "Eof";
    }
    tlen = (uint32_t)strlen(text);
    if (tlen > 200) {
        tlen = 200;
    }
    size = 1 + 4 + 4 + 4 + tlen + 4;
    put32(p, size);
    p[4] = SFTP_FXP_STATUS;
    put32(p + 5, id);
    put32(p + 9, code);
    put32(p + 13, tlen);
    memcpy(p + 17, text, tlen);
    put32(p + 17 + tlen, 0); /* language tag */
    return size + 4;
}

/* 1: sent; 2: (partly) held back, the rest left in d->buf for Python to queue (libssh writes
 * nothing while a key re-exchange runs); -1: the channel failed */
static int send_reply(ssh_channel channel, struct pylibssh_sftp_direct *d,
                      const unsigned char *p, uint32_t total)
{
    int n = ssh_channel_write(channel, p, total);

    if (n < 0) {
        return -1;
    }
    d->bytes += (uint32_t)n;
    if ((uint32_t)n == total) {
        return 1;
    }
    memmove(d->buf, p + n, total - (uint32_t)n);
    d->queued = total - (uint32_t)n;
    return 2;
}

/* 1: answered; 2: answered, part of the reply left for Python to queue (send_reply); 0: not
 * answered here (hand it to Python); -1: the channel write failed */
static int direct_read(ssh_channel channel, struct pylibssh_sftp_direct *d,
                       sftp_client_message msg, int fd, uint32_t max_read)
{
    uint32_t want = msg->len < max_read ? msg->len : max_read;
    uint32_t id = ntohl(msg->id); /* libssh keeps ids in network order */
    uint32_t total;
    ssize_t n;

    if (want > PYLIBSSH_SFTP_DIRECT_BUF) {
        want = PYLIBSSH_SFTP_DIRECT_BUF;
    }
    do {
        n = pread(fd, d->buf + 13, want, (off_t)msg->offset);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return 0;
    }
    if (n == 0) {
        total = status_packet(d->buf, id, SFTP_FX_EOF, NULL);
    } else {
        put32(d->buf, (uint32_t)n + 9);
        d->buf[4] = SFTP_FXP_DATA;
        put32(d->buf + 5, id);
        put32(d->buf + 9, (uint32_t)n);
        total = (uint32_t)n + 13;
    }
    if (ssh_channel_window_size(channel) < total) {
        return 0;
    }
    return send_reply(channel, d, d->buf, total);
}

/* the status Python's backend answers a failed system call with (its table, set in
 * d->errno_status; FAILURE for the others) */
static uint32_t errno_status(const struct pylibssh_sftp_direct *d, int err)
{
    return err >= 0 && err < PYLIBSSH_SFTP_DIRECT_ERRNOS && d->errno_status[err]
               ? d->errno_status[err]
               : 4; /* FAILURE */
}

/* pwrite all ``left`` bytes at ``offset``: 0, or the errno that stopped it */
static int pwrite_all(int fd, const unsigned char *data, size_t left, uint64_t offset)
{
    ssize_t n;

    while (left > 0) {
        n = pwrite(fd, data, left, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? errno : ENOSPC;
        }
        data += n;
        left -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

static int direct_write(ssh_channel channel, struct pylibssh_sftp_direct *d,
                        sftp_client_message msg, int fd)
{
    unsigned char reply[32];
    uint32_t total;

    if (msg->data == NULL ||
        pwrite_all(fd, ssh_string_data(msg->data), ssh_string_len(msg->data), msg->offset)) {
        return 0; /* Python serves it again and answers the failure */
    }
    total = status_packet(reply, ntohl(msg->id), SFTP_FX_OK, NULL);
    if (ssh_channel_window_size(channel) < total) {
        return 0;
    }
    return send_reply(channel, d, reply, total);
}

/* CLOSE: the fd is released whatever close() says (Linux, POSIX.1-2024), so the handle is gone
 * either way; a failure is answered with the status and text Python would send for it */
static int direct_close(ssh_channel channel, struct pylibssh_sftp_direct *d,
                        sftp_client_message msg, int slot)
{
    unsigned char reply[256];
    uint32_t total, code = SFTP_FX_OK;
    const char *text = NULL;
    int err;

    if (ssh_channel_window_size(channel) < sizeof(reply) ||
        d->nclosed >= PYLIBSSH_SFTP_DIRECT_CLOSED) {
        return 0;
    }
    if (close(d->fds[slot]) != 0 && errno != EINTR) {
        err = errno;
        code = errno_status(d, err);
        text = strerror(err);
    }
    memcpy(d->closed[d->nclosed++], ssh_string_data(msg->handle), 8);
    d->fds[slot] = DIRECT_REMOVED;
    d->count--;
    total = status_packet(reply, ntohl(msg->id), code, text);
    return send_reply(channel, d, reply, total);
}

/* a WRITE the counter found plain (size bytes from its type on) to the direct handle in
 * ``slot``: the packet is read from the channel into d->buf, its data written from there,
 * without libssh's parse (which copies the data twice more). 1 or 2 as send_reply; -1: the
 * channel failed or did not hold the packet the counter saw. A failed pwrite is answered with
 * the status and text Python would send, since the packet is no longer in the channel. */
static int direct_write_in_place(ssh_channel channel, struct pylibssh_sftp_direct *d,
                                 uint32_t size, int slot)
{
    unsigned char reply[256];
    const unsigned char *p;
    uint32_t total, code = SFTP_FX_OK;
    const char *text = NULL;
    uint64_t offset = 0;
    int got, err, i;

    if (4 + size > sizeof(d->buf)) {
        return -1;
    }
    got = ssh_channel_read_nonblocking(channel, d->buf, 4 + size, 0);
    if (got != (int)(4 + size) || be32(d->buf) != size) {
        return -1; /* the counter's packet is not there: framing is lost */
    }
    p = d->buf + 4;
    for (i = 0; i < 8; i++) {
        offset = (offset << 8) | p[WRITE_OFFSET_AT + i];
    }
    err = pwrite_all(d->fds[slot], p + WRITE_DATA_AT, size - WRITE_DATA_AT, offset);
    if (err != 0) {
        code = errno_status(d, err);
        text = strerror(err);
    }
    total = status_packet(reply, be32(p + 1), code, text);
    return send_reply(channel, d, reply, total);
}

int pylibssh_sftp_serve_direct(sftp_session sftp, ssh_channel channel,
                               struct pylibssh_sftp_counter *c, struct pylibssh_sftp_direct *d,
                               uint32_t max_read, uint64_t budget)
{
    d->handoff = NULL;
    d->unparsable = 0;
    d->served = 0;
    d->bytes = 0;
    d->nclosed = 0;
    d->queued = 0;
    while (c->taken < c->complete && c->taken < PYLIBSSH_SFTP_KNOWN && d->bytes < budget) {
        uint8_t type = c->types[c->taken];
        sftp_client_message msg;
        uint64_t key;
        int slot, rc;

        if (type != SSH_FXP_READ && type != SSH_FXP_WRITE && type != SSH_FXP_CLOSE) {
            break;
        }
        /* a DATA reply must fit the window whole (Python queues what does not); a STATUS
         * reply with a text, too */
        if (ssh_channel_window_size(channel) < (type == SSH_FXP_READ ? max_read + 13 : 256)) {
            break;
        }
        if (type == SSH_FXP_WRITE && c->plain_write[c->taken]) {
            slot = direct_find(d, c->write_keys[c->taken]);
            if (slot >= 0 && d->writable[slot]) {
                rc = direct_write_in_place(channel, d, c->sizes[c->taken], slot);
                c->taken++;
                if (rc < 0) {
                    return -1;
                }
                d->served++;
                if (rc == 2) {
                    break; /* Python queues the rest; later replies go behind it */
                }
                continue;
            }
        }
        c->taken++;
        msg = sftp_get_client_message(sftp);
        if (msg == NULL) {
            d->unparsable = 1;
            return 0;
        }
        slot = -1;
        if (msg->handle != NULL &&
            direct_key(ssh_string_data(msg->handle), ssh_string_len(msg->handle), &key) == 0) {
            slot = direct_find(d, key);
        }
        rc = 0;
        if (slot >= 0 && type == SSH_FXP_READ) {
            rc = direct_read(channel, d, msg, d->fds[slot], max_read);
        } else if (slot >= 0 && type == SSH_FXP_CLOSE) {
            rc = direct_close(channel, d, msg, slot);
        } else if (slot >= 0 && d->writable[slot]) {
            rc = direct_write(channel, d, msg, d->fds[slot]);
        }
        if (rc == 0) {
            d->handoff = msg;
            return 0;
        }
        sftp_client_message_free(msg);
        if (rc < 0) {
            return -1;
        }
        d->served++;
        if (rc == 2) {
            break; /* Python queues the rest; later replies go behind it */
        }
    }
    return 0;
}
