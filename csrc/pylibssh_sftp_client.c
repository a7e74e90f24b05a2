/* The SFTP client's receiver: a channel data callback, registered in front of the channel's
 * Python callbacks, that cuts the SFTP channel's byte stream into packets inside libssh's poll.
 *
 * A DATA reply to a READ that Python registered (pylibssh_sftp_rx_expect: request id, file
 * descriptor, offset) is written to that file with pwrite() as its bytes arrive, and Python gets
 * a 17-byte PYLIBSSH_SFTP_WRITTEN record in its place: a download costs Python one small record
 * per READ and no copy of the data. Every other packet is copied whole into ``out``, which Python
 * takes after each poll (pylibssh/client/sftp_engine.py). A bulk download goes further: the
 * receiver sends the next READs itself (queued in ``send``, which Python writes after the poll)
 * as replies come, and Python hears only of replies that are not a whole DATA and of the end;
 * a bulk into memory (a range read) copies each DATA into the caller's buffer instead.
 * Data is gathered into 256 KiB before pwrite. A bulk upload is the mirror image: after each
 * poll, Python has pylibssh_sftp_rx_up_pump() pread() the file and write WRITE requests to the
 * channel, and the receiver takes their STATUS OK replies; Python hears only of a reply that is
 * not OK and of the end. The callback takes all of the
 * channel's stdout, so libssh grows the window as the bytes arrive; ``out`` holds at most what
 * one poll reads. A length of 0 or over ``max_packet`` breaks the framing for good (``broken``):
 * Python closes the SFTP channel with an error. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pylibssh_private.h"
#include "pylibssh_sftp_client.h"

#define FXP_VERSION 2
#define FXP_READ 5
#define FXP_WRITE 6
#define FXP_STATUS 101
#define FXP_DATA 103
#define RX_HEAD 0
#define RX_COPY 1
#define RX_DIRECT 2
#define RX_SKIP 3
#define UP_WRITE_SIZE 29
#define WRITE_HEAD 25 /* a WRITE's bytes before its handle and data, but its offset's 8 */
#define RECORD_SIZE 17
#define BULK_READ_SIZE 34
#define STAGE_SIZE (256 * 1024)

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

/* pwrite all of ``k`` bytes at ``at`` into the current read's file, or note why not */
static void write_out(struct pylibssh_sftp_rx *rx, const char *p, uint32_t k, uint64_t at)
{
    ssize_t n;

    while (k > 0 && rx->cur_errno == 0) {
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

static void stage_flush(struct pylibssh_sftp_rx *rx)
{
    if (rx->stage_fill > 0) {
        write_out(rx, rx->stage, rx->stage_fill, rx->stage_at);
        rx->stage_fill = 0;
    }
}

/* The channel hands over one SSH packet at a time (32 KiB from OpenSSH): pieces are gathered
 * into STAGE_SIZE bytes before pwrite, as a write system call per piece costs more CPU than the
 * copy. Large pieces go straight to the file. */
static void direct_write(struct pylibssh_sftp_rx *rx, const char *p, uint32_t k)
{
    uint64_t at = rx->cur.offset + rx->cur_done;
    uint32_t room;

    rx->cur_done += k;
    if (rx->cur_errno != 0) {
        return;
    }
    if (rx->cur.buf != NULL) { /* head_done checked that the reply fits the READ's room */
        memcpy(rx->cur.buf + (at - rx->cur.offset), p, k);
        rx->direct_bytes += k;
        return;
    }
    if (rx->stage == NULL && (rx->stage = malloc(STAGE_SIZE)) == NULL) {
        write_out(rx, p, k, at);
        return;
    }
    while (k > 0) {
        if (rx->stage_fill == 0 && k >= STAGE_SIZE / 2) {
            write_out(rx, p, k, at);
            return;
        }
        if (rx->stage_fill == 0) {
            rx->stage_at = at;
        }
        room = STAGE_SIZE - rx->stage_fill < k ? STAGE_SIZE - rx->stage_fill : k;
        memcpy(rx->stage + rx->stage_fill, p, room);
        rx->stage_fill += room;
        p += room;
        k -= room;
        at += room;
        if (rx->stage_fill == STAGE_SIZE) {
            stage_flush(rx);
        }
    }
}

static void put64(char *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* a record of ``size`` bytes and type ``kind`` appended to ``out``: where its body goes, or NULL
 * when out of memory (only ever between packets: ``out`` holds no partial one then) */
static char *record(struct pylibssh_sftp_rx *rx, uint32_t size, int kind)
{
    char *r;

    if (reserve(rx, size) != 0) {
        return NULL;
    }
    r = rx->out + rx->out_fill;
    put32(r, size - 4);
    r[4] = (char)kind;
    rx->out_fill += size;
    rx->out_len = rx->out_fill;
    return r + 5;
}

static int bulk_read_record(struct pylibssh_sftp_rx *rx, const struct pylibssh_sftp_read *r,
                            int written, uint32_t count, int err)
{
    char *b = record(rx, BULK_READ_SIZE, PYLIBSSH_SFTP_BULK_READ);

    if (b == NULL) {
        return -1;
    }
    put32(b, r->id);
    put32(b + 4, (uint32_t)r->bulk);
    put64(b + 8, r->offset);
    put32(b + 16, r->length);
    b[20] = (char)written;
    put32(b + 21, count);
    put32(b + 25, (uint32_t)err);
    return 0;
}

/* append READ requests to ``send`` until the bulk has ``in_flight`` of them in flight or asked
 * for all of its range */
static int bulk_send(struct pylibssh_sftp_rx *rx, int32_t index)
{
    struct pylibssh_sftp_bulk *b = &rx->bulks[index];
    struct pylibssh_sftp_read r;
    uint32_t size = 4 + 1 + 4 + 4 + b->handle_len + 8 + 4;
    uint64_t want, cap;
    char *p, *send;

    while (!b->stopped && b->outstanding < b->in_flight && b->next < b->end) {
        want = (uint64_t)rx->send_len + size;
        if (want > rx->send_cap) {
            cap = rx->send_cap ? rx->send_cap : 4096;
            while (cap < want) {
                cap *= 2;
            }
            if (cap > UINT32_MAX || (send = realloc(rx->send, cap)) == NULL) {
                return -1;
            }
            rx->send = send;
            rx->send_cap = (uint32_t)cap;
        }
        if ((rx->reads_used + 1) * 2 > rx->reads_cap && rebuild(rx, rx->reads_cap * 2) != 0) {
            return -1;
        }
        r.id = rx->next_id++;
        r.fd = b->fd;
        r.buf = b->buf != NULL ? b->buf + (b->next - b->base) : NULL;
        r.offset = b->next;
        r.length = b->end - b->next < b->chunk ? (uint32_t)(b->end - b->next) : b->chunk;
        r.bulk = index;
        r.upload = -1;
        insert_slot(rx->reads, rx->reads_cap, &r);
        rx->reads_used++;
        p = rx->send + rx->send_len;
        put32(p, size - 4);
        p[4] = FXP_READ;
        put32(p + 5, r.id);
        put32(p + 9, b->handle_len);
        memcpy(p + 13, b->handle, b->handle_len);
        put64(p + 13 + b->handle_len, r.offset);
        put32(p + 21 + b->handle_len, r.length);
        rx->send_len += size;
        b->next += r.length;
        b->outstanding++;
    }
    return 0;
}

/* a reply to one of a bulk's READs came (``whole``: all its bytes are in the file) */
static int bulk_reply(struct pylibssh_sftp_rx *rx, const struct pylibssh_sftp_read *r, int whole)
{
    struct pylibssh_sftp_bulk *b = &rx->bulks[r->bulk];
    char *d;

    b->outstanding--;
    b->replies++;
    if (whole) {
        b->written += r->length;
        if (bulk_send(rx, r->bulk) != 0) {
            return -1;
        }
    } else {
        b->stopped = 1;
    }
    if (b->outstanding == 0 && (b->stopped || b->next >= b->end)) {
        b->stopped = 1;
        if ((d = record(rx, 9, PYLIBSSH_SFTP_BULK_DONE)) == NULL) {
            return -1;
        }
        put32(d, (uint32_t)r->bulk);
    }
    return 0;
}

static int up_write_record(struct pylibssh_sftp_rx *rx, const struct pylibssh_sftp_read *r)
{
    char *b = record(rx, UP_WRITE_SIZE, PYLIBSSH_SFTP_UP_WRITE);

    if (b == NULL) {
        return -1;
    }
    put32(b, r->id);
    put32(b + 4, (uint32_t)r->upload);
    put64(b + 8, r->offset);
    put32(b + 16, r->length);
    return 0;
}

/* the PYLIBSSH_SFTP_UP_DONE record once upload ``up`` has nothing in flight and sends no more */
static int up_check_done(struct pylibssh_sftp_rx *rx, int32_t up)
{
    struct pylibssh_sftp_upload *u = &rx->ups[up];
    char *d;

    if (u->outstanding > 0 || (!u->stopped && u->next < u->end)) {
        return 0;
    }
    if (u->stopped == 2) {
        return 0; /* told already */
    }
    u->stopped = 2;
    if ((d = record(rx, 9, PYLIBSSH_SFTP_UP_DONE)) == NULL) {
        return -1;
    }
    put32(d, (uint32_t)up);
    return 0;
}

/* a reply to one of an upload's WRITEs came (``ok``: STATUS OK) */
static int up_reply(struct pylibssh_sftp_rx *rx, const struct pylibssh_sftp_read *r, int ok)
{
    struct pylibssh_sftp_upload *u = &rx->ups[r->upload];

    u->outstanding--;
    u->replies++;
    if (ok) {
        u->acked += r->length;
    } else if (!u->stopped) {
        u->stopped = 1;
    }
    return up_check_done(rx, r->upload);
}

static int direct_done(struct pylibssh_sftp_rx *rx)
{
    char *r;
    int whole;

    stage_flush(rx);
    rx->mode = RX_HEAD;
    rx->head_len = 0;
    if (rx->cur.bulk >= 0) {
        whole = rx->cur_errno == 0 && rx->cur_done == rx->cur.length;
        if (!whole && bulk_read_record(rx, &rx->cur, 1, rx->cur_done, rx->cur_errno) != 0) {
            return -1;
        }
        return bulk_reply(rx, &rx->cur, whole);
    }
    if ((r = record(rx, RECORD_SIZE, PYLIBSSH_SFTP_WRITTEN)) == NULL) {
        return -1;
    }
    put32(r, rx->cur.id);
    put32(r + 4, rx->cur_done);
    put32(r + 8, (uint32_t)rx->cur_errno);
    return 0;
}

/* the head is complete: write the reply to its file, or copy the packet for Python (after
 * telling it which bulk READ the packet answers, if one does) */
static int head_done(struct pylibssh_sftp_rx *rx)
{
    int64_t slot = -1;
    uint32_t dlen;
    struct pylibssh_sftp_read r;

    if (rx->head_len >= 9 && rx->head[4] != FXP_VERSION) {
        slot = find_read(rx, get32(rx->head + 5));
    }
    if (slot >= 0 && rx->reads[slot].upload >= 0) {
        r = rx->reads[slot];
        remove_slot(rx, (uint32_t)slot);
        if (rx->head[4] == FXP_STATUS && rx->head_len == 13 && get32(rx->head + 9) == 0) {
            rx->left = rx->length + 4 - rx->head_len; /* its message and language tag */
            rx->mode = rx->left ? RX_SKIP : RX_HEAD;
            rx->head_len = rx->left ? rx->head_len : 0;
            return up_reply(rx, &r, 1);
        }
        if (up_write_record(rx, &r) != 0 || up_reply(rx, &r, 0) != 0) {
            return -1;
        }
        slot = -1; /* the packet goes to Python, after the record */
    }
    if (slot >= 0 && rx->head[4] == FXP_DATA && rx->head_len == 13) {
        dlen = get32(rx->head + 9);
        if (dlen == rx->length - 9 && dlen <= rx->reads[slot].length) {
            rx->cur = rx->reads[slot];
            rx->cur_done = 0;
            rx->cur_errno = 0;
            rx->stage_fill = 0;
            remove_slot(rx, (uint32_t)slot);
            rx->left = dlen;
            rx->mode = RX_DIRECT;
            return rx->left == 0 ? direct_done(rx) : 0;
        }
    }
    if (slot >= 0 && rx->reads[slot].bulk >= 0) {
        r = rx->reads[slot];
        remove_slot(rx, (uint32_t)slot);
        if (bulk_read_record(rx, &r, 0, 0, 0) != 0 || bulk_reply(rx, &r, 0) != 0) {
            return -1;
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
                /* the receiver's own records take types no reply has: one from the server
                 * would pass for one of them */
                if (rx->head[4] == PYLIBSSH_SFTP_WRITTEN || rx->head[4] == PYLIBSSH_SFTP_BULK_READ ||
                    rx->head[4] == PYLIBSSH_SFTP_BULK_DONE ||
                    rx->head[4] == PYLIBSSH_SFTP_UP_WRITE || rx->head[4] == PYLIBSSH_SFTP_UP_DONE) {
                    rx->bad_length = rx->head[4];
                    rx->broken = 3;
                    break;
                }
            }
            /* a reply's id, and a DATA reply's data length, decide where it goes: 9 or 13
             * bytes of head */
            want = rx->head[4] != FXP_DATA && rx->head[4] != FXP_STATUS ? 9 : 13;
            want = rx->length + 4 < want ? rx->length + 4 : want;
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
        } else if (rx->mode == RX_SKIP) {
            k = rx->left < n ? rx->left : n;
            rx->left -= k;
            p += k;
            n -= k;
            if (rx->left == 0) {
                rx->mode = RX_HEAD;
                rx->head_len = 0;
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
    rx->cur.buf = NULL;
    rx->cur.bulk = -1;
    rx->cur.upload = -1;
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
    uint32_t i;

    for (i = 0; i < rx->ups_cap; i++) {
        free(rx->ups[i].packet);
    }
    free(rx->ups);
    free(rx->rest);
    rx->ups = NULL;
    rx->rest = NULL;
    rx->ups_cap = rx->rest_len = rx->rest_cap = 0;
    free(rx->out);
    free(rx->reads);
    free(rx->send);
    free(rx->bulks);
    free(rx->stage);
    rx->send = NULL;
    rx->bulks = NULL;
    rx->stage = NULL;
    rx->send_len = rx->send_cap = rx->bulks_cap = rx->stage_fill = 0;
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
    r.buf = NULL;
    r.offset = offset;
    r.length = length;
    r.bulk = -1;
    r.upload = -1;
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
        rx->cur.buf = NULL;
        rx->cur.bulk = -1;
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
        rx->cur.buf = NULL;
        rx->cur.bulk = -1;
        rx->cur_errno = ECANCELED;
    }
    for (i = 0; i < rx->bulks_cap; i++) {
        if (rx->bulks[i].fd == fd) {
            rx->bulks[i].fd = -1;
        }
    }
    for (i = 0; i < rx->ups_cap; i++) {
        if (rx->ups[i].fd == fd) {
            pylibssh_sftp_rx_up_end(rx, (int)i);
        }
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

static int bulk_start(struct pylibssh_sftp_rx *rx, int fd, char *buf, const char *handle,
                      uint32_t handle_len, uint64_t next, uint64_t end, uint32_t chunk,
                      uint32_t in_flight)
{
    struct pylibssh_sftp_bulk *bulks, *b;
    uint32_t i, cap;

    if (rx->reads == NULL || handle_len > sizeof(b->handle) || chunk == 0 || in_flight == 0) {
        return -1;
    }
    for (i = 0; i < rx->bulks_cap && rx->bulks[i].fd != -1; i++) {
    }
    if (i == rx->bulks_cap) {
        cap = rx->bulks_cap ? rx->bulks_cap * 2 : 4;
        if ((bulks = realloc(rx->bulks, sizeof(*bulks) * cap)) == NULL) {
            return -1;
        }
        for (i = rx->bulks_cap; i < cap; i++) {
            bulks[i].fd = -1;
        }
        i = rx->bulks_cap;
        rx->bulks = bulks;
        rx->bulks_cap = cap;
    }
    b = &rx->bulks[i];
    memset(b, 0, sizeof(*b));
    b->fd = fd;
    b->buf = buf;
    b->base = next;
    b->in_flight = in_flight;
    b->chunk = chunk;
    b->next = next;
    b->end = end;
    b->handle_len = handle_len;
    memcpy(b->handle, handle, handle_len);
    if (bulk_send(rx, (int32_t)i) != 0) {
        pylibssh_sftp_rx_bulk_end(rx, (int32_t)i);
        return -1;
    }
    return (int)i;
}

/* Start a bulk download (see pylibssh_sftp_bulk) and append its first READs to ``send``: its
 * number, or -1 when out of memory or the handle is longer than SFTP allows */
int pylibssh_sftp_rx_bulk_start(struct pylibssh_sftp_rx *rx, int fd, const char *handle,
                                uint32_t handle_len, uint64_t next, uint64_t end, uint32_t chunk,
                                uint32_t in_flight)
{
    if (fd < 0) {
        return -1;
    }
    return bulk_start(rx, fd, NULL, handle, handle_len, next, end, chunk, in_flight);
}

/* The same into memory: ``buf`` takes the bytes of [next, end) (``buf[0]`` is the one at
 * ``next``), and must stay valid until pylibssh_sftp_rx_bulk_end() */
int pylibssh_sftp_rx_bulk_start_mem(struct pylibssh_sftp_rx *rx, char *buf, const char *handle,
                                    uint32_t handle_len, uint64_t next, uint64_t end,
                                    uint32_t chunk, uint32_t in_flight)
{
    if (buf == NULL || end < next) {
        return -1;
    }
    return bulk_start(rx, PYLIBSSH_SFTP_MEMORY, buf, handle, handle_len, next, end, chunk,
                      in_flight);
}

/* the bulk's slot is free again; replies to READs of it still in flight go to Python */
void pylibssh_sftp_rx_bulk_end(struct pylibssh_sftp_rx *rx, int bulk)
{
    uint32_t i;
    int removed;

    if (bulk < 0 || (uint32_t)bulk >= rx->bulks_cap) {
        return;
    }
    rx->bulks[bulk].fd = -1;
    rx->bulks[bulk].buf = NULL;
    if (rx->mode == RX_DIRECT && rx->cur.bulk == bulk) {
        rx->cur.fd = -1;
        rx->cur.buf = NULL;
        rx->cur.bulk = -1;
        rx->cur_errno = ECANCELED;
    }
    do {
        removed = 0;
        for (i = 0; i < rx->reads_cap; i++) {
            while (rx->reads[i].fd != -1 && rx->reads[i].bulk == bulk) {
                remove_slot(rx, i);
                removed = 1;
            }
        }
    } while (removed);
}

/* Python sent the ``send_len`` bytes of READs */
void pylibssh_sftp_rx_sent(struct pylibssh_sftp_rx *rx)
{
    rx->send_len = 0;
}

/* the lowest offset of the bulk's READs in flight (the one being written included), or where
 * its next READ would start: everything of the bulk below it is in the file, save what Python
 * took over */
uint64_t pylibssh_sftp_rx_bulk_done_to(const struct pylibssh_sftp_rx *rx, int bulk)
{
    uint64_t lo;
    uint32_t i;

    if (bulk < 0 || (uint32_t)bulk >= rx->bulks_cap) {
        return 0;
    }
    lo = rx->bulks[bulk].next;
    if (rx->mode == RX_DIRECT && rx->cur.bulk == bulk && rx->cur.offset < lo) {
        lo = rx->cur.offset;
    }
    for (i = 0; i < rx->reads_cap; i++) {
        if (rx->reads[i].fd != -1 && rx->reads[i].bulk == bulk && rx->reads[i].offset < lo) {
            lo = rx->reads[i].offset;
        }
    }
    return lo;
}

/* Start a bulk upload (see pylibssh_sftp_upload); pylibssh_sftp_rx_up_pump() sends its WRITEs:
 * its number, or -1 when out of memory or the handle is longer than SFTP allows */
int pylibssh_sftp_rx_up_start(struct pylibssh_sftp_rx *rx, int fd, const char *handle,
                              uint32_t handle_len, uint64_t next, uint64_t end, uint32_t chunk,
                              uint32_t in_flight)
{
    struct pylibssh_sftp_upload *ups, *u;
    uint32_t i, cap;
    char *packet;

    if (rx->reads == NULL || fd < 0 || handle_len > sizeof(u->handle) || chunk == 0 ||
        chunk > (1u << 24) || in_flight == 0) {
        return -1;
    }
    for (i = 0; i < rx->ups_cap && rx->ups[i].fd != -1; i++) {
    }
    if (i == rx->ups_cap) {
        cap = rx->ups_cap ? rx->ups_cap * 2 : 4;
        if ((ups = realloc(rx->ups, sizeof(*ups) * cap)) == NULL) {
            return -1;
        }
        for (i = rx->ups_cap; i < cap; i++) {
            ups[i].fd = -1;
            ups[i].packet = NULL;
        }
        i = rx->ups_cap;
        rx->ups = ups;
        rx->ups_cap = cap;
    }
    if ((packet = malloc(WRITE_HEAD + handle_len + chunk)) == NULL) {
        return -1;
    }
    u = &rx->ups[i];
    free(u->packet); /* a slot ended by pylibssh_sftp_rx_up_end keeps none; to be sure */
    memset(u, 0, sizeof(*u));
    u->packet = packet;
    u->fd = fd;
    u->in_flight = in_flight;
    u->chunk = chunk;
    u->next = next;
    u->end = end;
    u->handle_len = handle_len;
    memcpy(u->handle, handle, handle_len);
    /* the header's fixed part: type and handle (length, id, offset and data length vary) */
    packet[4] = FXP_WRITE;
    put32(packet + 9, handle_len);
    memcpy(packet + 13, handle, handle_len);
    return (int)i;
}

/* the upload's slot is free again; replies to WRITEs of it still in flight go to Python */
void pylibssh_sftp_rx_up_end(struct pylibssh_sftp_rx *rx, int up)
{
    uint32_t i;
    int removed;

    if (up < 0 || (uint32_t)up >= rx->ups_cap || rx->ups[up].fd == -1) {
        return;
    }
    rx->ups[up].fd = -1;
    free(rx->ups[up].packet);
    rx->ups[up].packet = NULL;
    do {
        removed = 0;
        for (i = 0; i < rx->reads_cap; i++) {
            while (rx->reads[i].fd != -1 && rx->reads[i].upload == up) {
                remove_slot(rx, i);
                removed = 1;
            }
        }
    } while (removed);
}

/* read the next piece of upload ``u`` into its packet: its length, or 0 after stopping it */
static uint32_t up_read(struct pylibssh_sftp_upload *u)
{
    uint32_t want = u->end - u->next < u->chunk ? (uint32_t)(u->end - u->next) : u->chunk;
    uint32_t got = 0;
    char *data = u->packet + WRITE_HEAD + u->handle_len;
    ssize_t n;

    while (got < want) {
        n = pread(u->fd, data + got, want - got, (off_t)(u->next + got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            u->err = n < 0 ? errno : EIO; /* 0: the file is shorter than it was */
            u->stopped = 1;
            return 0;
        }
        got += (uint32_t)n;
    }
    return want;
}

/* Write the bulk uploads' next WRITEs to ``channel`` (from Python, after libssh's poll, with
 * nothing of its own queued for the channel) until each has its WRITEs in flight, the channel's
 * window is used up or libssh holds ``max_pending`` bytes for the socket (0: no such bound).
 * A WRITE the window cuts short leaves its end in ``rest``, which Python queues at once.
 * 0: every upload has all it may have in flight; 1: the window is used up; 2: libssh's buffer
 * is full; -1: the channel failed (libssh's error) or out of memory. */
int pylibssh_sftp_rx_up_pump(struct pylibssh_sftp_rx *rx, ssh_channel channel,
                             int64_t max_pending)
{
    ssh_session session = ssh_channel_get_session(channel);
    struct pylibssh_sftp_upload *u;
    struct pylibssh_sftp_read r;
    uint32_t i, len, size;
    int n;
    char *p, *rest;

    if (rx->rest_len > 0 || rx->reads == NULL) {
        return 1;
    }
    for (i = 0; i < rx->ups_cap; i++) {
        u = &rx->ups[i];
        while (u->fd != -1 && !u->stopped && u->outstanding < u->in_flight && u->next < u->end) {
            if (max_pending > 0 && pylibssh_session_pending_output(session, 1) >= max_pending) {
                return 2;
            }
            if (ssh_channel_window_size(channel) == 0) {
                return 1;
            }
            if ((rx->reads_used + 1) * 2 > rx->reads_cap && rebuild(rx, rx->reads_cap * 2) != 0) {
                return -1;
            }
            if ((len = up_read(u)) == 0) {
                if (up_check_done(rx, (int32_t)i) != 0) {
                    return -1;
                }
                break;
            }
            r.id = rx->next_id++;
            r.fd = u->fd;
            r.buf = NULL;
            r.offset = u->next;
            r.length = len;
            r.bulk = -1;
            r.upload = (int32_t)i;
            size = WRITE_HEAD + u->handle_len + len;
            p = u->packet;
            put32(p, size - 4);
            put32(p + 5, r.id);
            put64(p + 13 + u->handle_len, r.offset);
            put32(p + 21 + u->handle_len, len);
            insert_slot(rx->reads, rx->reads_cap, &r);
            rx->reads_used++;
            u->next += len;
            u->outstanding++;
            n = ssh_channel_write(channel, p, size);
            if (n < 0) {
                return -1;
            }
            if ((uint32_t)n < size) {
                if (size - (uint32_t)n > rx->rest_cap) {
                    if ((rest = realloc(rx->rest, size - (uint32_t)n)) == NULL) {
                        return -1;
                    }
                    rx->rest = rest;
                    rx->rest_cap = size - (uint32_t)n;
                }
                memcpy(rx->rest, p + n, size - (uint32_t)n);
                rx->rest_len = size - (uint32_t)n;
                return 1;
            }
        }
    }
    return 0;
}

/* Python queued the ``rest_len`` bytes of ``rest`` */
void pylibssh_sftp_rx_rest_taken(struct pylibssh_sftp_rx *rx)
{
    rx->rest_len = 0;
}
