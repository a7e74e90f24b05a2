/* The SFTP client's receiver: a channel data callback, registered in front of the channel's
 * Python callbacks, that cuts the SFTP channel's byte stream into packets inside libssh's poll.
 *
 * A DATA reply to a READ that Python registered (pylibssh_sftp_rx_expect: request id, file
 * descriptor, offset) is written to that file with pwrite() as its bytes arrive, and Python gets
 * a 17-byte PYLIBSSH_SFTP_WRITTEN record in its place: a download costs Python one small record
 * per READ and no copy of the data. Every other packet is copied whole into ``out``, which Python
 * takes after each poll (pylibssh/client/sftp_engine.py). The callback takes all of the
 * channel's stdout, so libssh grows the window as the bytes arrive; ``out`` holds at most what
 * one poll reads. A length of 0 or over ``max_packet`` breaks the framing for good (``broken``):
 * Python closes the SFTP channel with an error. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pylibssh_sftp_client.h"

#define FXP_DATA 103
#define RX_HEAD 0
#define RX_COPY 1
#define RX_DIRECT 2
#define RECORD_SIZE 17

static uint32_t get32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put32(char *p, uint32_t v)
{
    uint32_t be = htonl(v);
    memcpy(p, &be, 4);
}

static uint32_t slot_of(const struct pylibssh_sftp_rx *rx, uint32_t id)
{
    return (id * 0x9E3779B1u) & (rx->reads_cap - 1);
}

/* the slot holding ``id``, or -1 */
static int64_t find_read(const struct pylibssh_sftp_rx *rx, uint32_t id)
{
    uint32_t mask = rx->reads_cap - 1, i = slot_of(rx, id);

    while (rx->reads[i].fd != -1) {
        if (rx->reads[i].id == id) {
            return i;
        }
        i = (i + 1) & mask;
    }
    return -1;
}

/* empty slot ``i``, moving later entries of its probe run back (no tombstones) */
static void remove_slot(struct pylibssh_sftp_rx *rx, uint32_t i)
{
    uint32_t mask = rx->reads_cap - 1, j = i, k;

    rx->reads[i].fd = -1;
    rx->reads_used--;
    for (;;) {
        j = (j + 1) & mask;
        if (rx->reads[j].fd == -1) {
            return;
        }
        k = slot_of(rx, rx->reads[j].id);
        /* the entry at j stays if its home k lies cyclically in (i, j] */
        if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j)) {
            continue;
        }
        rx->reads[i] = rx->reads[j];
        rx->reads[j].fd = -1;
        i = j;
    }
}

static void insert_slot(struct pylibssh_sftp_read *reads, uint32_t cap,
                        const struct pylibssh_sftp_read *r)
{
    uint32_t mask = cap - 1, i = (r->id * 0x9E3779B1u) & mask;

    while (reads[i].fd != -1) {
        i = (i + 1) & mask;
    }
    reads[i] = *r;
}

/* the table moved to ``cap`` slots */
static int rebuild(struct pylibssh_sftp_rx *rx, uint32_t cap)
{
    struct pylibssh_sftp_read *reads = malloc(sizeof(*reads) * cap);
    uint32_t i, used = 0;

    if (reads == NULL) {
        return -1;
    }
    for (i = 0; i < cap; i++) {
        reads[i].fd = -1;
    }
    for (i = 0; i < rx->reads_cap; i++) {
        if (rx->reads[i].fd != -1) {
            insert_slot(reads, cap, &rx->reads[i]);
            used++;
        }
    }
    free(rx->reads);
    rx->reads = reads;
    rx->reads_cap = cap;
    rx->reads_used = used;
    return 0;
}

/* room for ``n`` more bytes in ``out`` */
static int reserve(struct pylibssh_sftp_rx *rx, uint32_t n)
{
    uint64_t want = (uint64_t)rx->out_fill + n, cap = rx->out_cap ? rx->out_cap : 65536;
    char *out;

    if (want <= rx->out_cap) {
        return 0;
    }
    while (cap < want) {
        cap *= 2;
    }
    if (cap > UINT32_MAX) {
        return -1;
    }
    out = realloc(rx->out, cap);
    if (out == NULL) {
        return -1;
    }
    rx->out = out;
    rx->out_cap = (uint32_t)cap;
    return 0;
}

static void direct_write(struct pylibssh_sftp_rx *rx, const char *p, uint32_t k)
{
    uint64_t at = rx->cur.offset + rx->cur_done;
    ssize_t n;

    rx->cur_done += k;
    if (rx->cur_errno != 0) {
        return;
    }
    while (k > 0) {
        n = pwrite(rx->cur.fd, p, k, (off_t)at);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rx->cur_errno = n < 0 ? errno : EIO;
            return;
        }
        rx->direct_bytes += (uint64_t)n;
        p += n;
        k -= (uint32_t)n;
        at += (uint64_t)n;
    }
}

static int direct_done(struct pylibssh_sftp_rx *rx)
{
    char *r;

    if (reserve(rx, RECORD_SIZE) != 0) {
        return -1;
    }
    r = rx->out + rx->out_fill;
    put32(r, RECORD_SIZE - 4);
    r[4] = PYLIBSSH_SFTP_WRITTEN;
    put32(r + 5, rx->cur.id);
    put32(r + 9, rx->cur_done);
    put32(r + 13, (uint32_t)rx->cur_errno);
    rx->out_fill += RECORD_SIZE;
    rx->out_len = rx->out_fill;
    rx->mode = RX_HEAD;
    rx->head_len = 0;
    return 0;
}

/* the head is complete: write the reply to its file, or copy the packet for Python */
static int head_done(struct pylibssh_sftp_rx *rx)
{
    int64_t slot;
    uint32_t dlen;

    if (rx->head[4] == FXP_DATA && rx->head_len == 13) {
        slot = find_read(rx, get32(rx->head + 5));
        dlen = get32(rx->head + 9);
        if (slot >= 0 && dlen == rx->length - 9 && dlen <= rx->reads[slot].length) {
            rx->cur = rx->reads[slot];
            rx->cur_done = 0;
            rx->cur_errno = 0;
            remove_slot(rx, (uint32_t)slot);
            rx->left = dlen;
            rx->mode = RX_DIRECT;
            return rx->left == 0 ? direct_done(rx) : 0;
        }
    }
    if (reserve(rx, rx->length + 4) != 0) {
        return -1;
    }
    memcpy(rx->out + rx->out_fill, rx->head, rx->head_len);
    rx->out_fill += rx->head_len;
    rx->left = rx->length + 4 - rx->head_len;
    rx->mode = RX_COPY;
    if (rx->left == 0) {
        rx->mode = RX_HEAD;
        rx->head_len = 0;
        rx->out_len = rx->out_fill;
    }
    return 0;
}

static int rx_data(ssh_session session, ssh_channel channel, void *data, uint32_t len,
                   int is_stderr, void *userdata)
{
    struct pylibssh_sftp_rx *rx = userdata;
    const char *p = data;
    uint32_t n = len, k, want;

    (void)session;
    (void)channel;
    if (is_stderr) {
        return 0; /* the channel's own callback takes it */
    }
    while (n > 0 && !rx->broken) {
        if (rx->mode == RX_HEAD) {
            if (rx->head_len < 5) {
                k = 5 - rx->head_len < n ? 5 - rx->head_len : n;
                memcpy(rx->head + rx->head_len, p, k);
                rx->head_len += k;
                p += k;
                n -= k;
                if (rx->head_len < 5) {
                    break;
                }
                rx->length = get32(rx->head);
                if (rx->length == 0 || rx->length > rx->max_packet) {
                    rx->bad_length = rx->length;
                    rx->broken = 1;
                    break;
                }
            }
            /* a DATA reply's id and data length decide where it goes: 13 bytes of head */
            want = rx->head[4] != FXP_DATA ? 5 : (rx->length + 4 < 13 ? rx->length + 4 : 13);
            if (rx->head_len < want) {
                k = want - rx->head_len < n ? want - rx->head_len : n;
                memcpy(rx->head + rx->head_len, p, k);
                rx->head_len += k;
                p += k;
                n -= k;
                if (rx->head_len < want) {
                    break;
                }
            }
            if (head_done(rx) != 0) {
                rx->broken = 2;
            }
        } else if (rx->mode == RX_COPY) {
            k = rx->left < n ? rx->left : n;
            memcpy(rx->out + rx->out_fill, p, k);
            rx->out_fill += k;
            rx->left -= k;
            p += k;
            n -= k;
            if (rx->left == 0) {
                rx->mode = RX_HEAD;
                rx->head_len = 0;
                rx->out_len = rx->out_fill; /* a whole packet more for Python */
            }
        } else {
            k = rx->left < n ? rx->left : n;
            direct_write(rx, p, k);
            rx->left -= k;
            p += k;
            n -= k;
            if (rx->left == 0 && direct_done(rx) != 0) {
                rx->broken = 2;
            }
        }
    }
    return (int)len; /* all of it: what breaks the framing is dropped */
}

int pylibssh_sftp_rx_init(struct pylibssh_sftp_rx *rx, uint32_t max_packet)
{
    uint32_t i;

    memset(rx, 0, sizeof(*rx));
    ssh_callbacks_init(&rx->cb);
    rx->cb.userdata = rx;
    rx->cb.channel_data_function = rx_data;
    rx->max_packet = max_packet;
    rx->cur.fd = -1;
    rx->reads_cap = 64;
    rx->reads = malloc(sizeof(*rx->reads) * rx->reads_cap);
    if (rx->reads == NULL) {
        return -1;
    }
    for (i = 0; i < rx->reads_cap; i++) {
        rx->reads[i].fd = -1;
    }
    return 0;
}

void pylibssh_sftp_rx_free(struct pylibssh_sftp_rx *rx)
{
    free(rx->out);
    free(rx->reads);
    rx->out = NULL;
    rx->out_len = rx->out_fill = rx->out_cap = 0;
    rx->reads = NULL;
    rx->reads_cap = rx->reads_used = 0;
    rx->broken = rx->broken ? rx->broken : 2;
}

/* Python took the ``out_len`` bytes of whole packets: keep only a packet still arriving */
void pylibssh_sftp_rx_taken(struct pylibssh_sftp_rx *rx)
{
    uint32_t rest = rx->out_fill - rx->out_len;

    if (rest > 0) {
        memmove(rx->out, rx->out + rx->out_len, rest);
    }
    rx->out_fill = rest;
    rx->out_len = 0;
}

struct ssh_channel_callbacks_struct *pylibssh_sftp_rx_callbacks(struct pylibssh_sftp_rx *rx)
{
    return &rx->cb;
}

/* the DATA reply to READ ``id`` goes to ``fd`` at ``offset`` (at most ``length`` bytes; a longer
 * one goes to Python); 0, or -1 when out of memory or the id is registered already */
int pylibssh_sftp_rx_expect(struct pylibssh_sftp_rx *rx, uint32_t id, int fd, uint64_t offset,
                            uint32_t length)
{
    struct pylibssh_sftp_read r;

    if (rx->reads == NULL || fd < 0 || find_read(rx, id) >= 0) {
        return -1;
    }
    if ((rx->reads_used + 1) * 2 > rx->reads_cap && rebuild(rx, rx->reads_cap * 2) != 0) {
        return -1;
    }
    r.id = id;
    r.fd = fd;
    r.offset = offset;
    r.length = length;
    insert_slot(rx->reads, rx->reads_cap, &r);
    rx->reads_used++;
    return 0;
}

/* READ ``id``'s reply goes to Python after all; a reply being written stops being written.
 * 1 if it was registered */
int pylibssh_sftp_rx_forget(struct pylibssh_sftp_rx *rx, uint32_t id)
{
    int64_t slot;

    if (rx->mode == RX_DIRECT && rx->cur.id == id && rx->cur.fd != -1) {
        rx->cur.fd = -1;
        rx->cur_errno = ECANCELED;
        return 1;
    }
    if (rx->reads == NULL || (slot = find_read(rx, id)) < 0) {
        return 0;
    }
    remove_slot(rx, (uint32_t)slot);
    return 1;
}

/* no reply is written to ``fd`` any more (before it is closed: its number may be reused) */
void pylibssh_sftp_rx_forget_fd(struct pylibssh_sftp_rx *rx, int fd)
{
    uint32_t i;
    int removed;

    if (rx->mode == RX_DIRECT && rx->cur.fd == fd) {
        rx->cur.fd = -1;
        rx->cur_errno = ECANCELED;
    }
    /* removing shifts later entries back, a run wrapping round the end included: again until
     * a pass finds none */
    do {
        removed = 0;
        for (i = 0; i < rx->reads_cap; i++) {
            while (rx->reads[i].fd == fd) {
                remove_slot(rx, i);
                removed = 1;
            }
        }
    } while (removed);
}
