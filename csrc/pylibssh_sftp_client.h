/* The SFTP client's receiver (csrc/pylibssh_sftp_client.c, pylibssh/client/sftp_engine.py). */
#ifndef PYLIBSSH_SFTP_CLIENT_H
#define PYLIBSSH_SFTP_CLIENT_H

#include <stdint.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

/* Records the receiver puts among the packets for Python, of types no reply has (0; 1 is INIT,
 * 3 OPEN): a server packet of one of them breaks the framing (``broken`` 3).
 * The record that stands for a DATA reply written to its file:
 * uint32 length (13), byte PYLIBSSH_SFTP_WRITTEN, uint32 id, uint32 bytes, uint32 errno */
#define PYLIBSSH_SFTP_WRITTEN 0
/* a bulk READ (below) whose reply Python takes over: uint32 length (30), byte
 * PYLIBSSH_SFTP_BULK_READ, uint32 id, uint32 bulk, uint64 offset, uint32 length, byte written,
 * uint32 bytes, uint32 errno. ``written`` 1: this record is the reply (a DATA reply written short
 * or failing, as PYLIBSSH_SFTP_WRITTEN); 0: the reply is the packet that follows */
#define PYLIBSSH_SFTP_BULK_READ 1
/* a bulk has no READ in flight and sends no more: uint32 length (5), byte
 * PYLIBSSH_SFTP_BULK_DONE, uint32 bulk */
#define PYLIBSSH_SFTP_BULK_DONE 3
/* a bulk upload's WRITE (below) whose reply is not STATUS OK: the reply, which stopped the
 * upload, is the packet that follows. uint32 length (25), byte PYLIBSSH_SFTP_UP_WRITE, uint32 id,
 * uint32 upload, uint64 offset, uint32 length */
#define PYLIBSSH_SFTP_UP_WRITE 4
/* a bulk upload has no WRITE in flight and sends no more: uint32 length (5), byte
 * PYLIBSSH_SFTP_UP_DONE, uint32 upload */
#define PYLIBSSH_SFTP_UP_DONE 6

/* the ``fd`` of a READ or bulk download whose data goes to memory (``buf``), not to a file */
#define PYLIBSSH_SFTP_MEMORY (-2)

/* one READ whose DATA reply goes straight to a file: ``fd`` at ``offset``, at most ``length``
 * bytes (a free slot has fd -1); or, with fd PYLIBSSH_SFTP_MEMORY, to ``buf`` (room for
 * ``length`` bytes, the reply's first byte at ``buf[0]``) */
struct pylibssh_sftp_read {
    uint32_t id;
    int fd;
    char *buf;
    uint64_t offset;
    uint32_t length;
    int32_t bulk; /* the bulk it belongs to, or -1 */
    int32_t upload; /* a WRITE of this bulk upload (its reply is a STATUS), or -1 */
};

/* A bulk download: the receiver itself sends READs of ``chunk`` bytes for [next, end) of the
 * remote file ``handle`` into ``fd``, ``in_flight`` at a time, each as a reply frees a place;
 * or, with fd PYLIBSSH_SFTP_MEMORY, into ``buf``, whose first byte is the file's at ``base``
 * (the caller keeps [base, end) of it alive until pylibssh_sftp_rx_bulk_end).
 * A reply that is not a whole DATA written (short, failing, a STATUS, malformed) stops it and
 * goes to Python (PYLIBSSH_SFTP_BULK_READ); PYLIBSSH_SFTP_BULK_DONE says when nothing is left in
 * flight. Every other READ of [begin, next) is in the file. */
struct pylibssh_sftp_bulk {
    int fd;               /* -1: a free slot */
    int stopped;
    uint32_t in_flight;   /* READs allowed in flight */
    uint32_t outstanding; /* READs in flight */
    uint32_t chunk;
    uint64_t next;
    uint64_t end;
    uint64_t written; /* bytes of whole replies written */
    uint64_t replies; /* replies received */
    char *buf;
    uint64_t base;
    uint32_t handle_len;
    unsigned char handle[256];
};

/* A bulk upload: pylibssh_sftp_rx_up_pump() reads [next, end) of ``fd`` in ``chunk``-byte
 * pieces and writes them to the channel as WRITE requests for ``handle``, ``in_flight`` at a
 * time; the receiver takes their STATUS OK replies. Any other reply stops it and goes to Python
 * (PYLIBSSH_SFTP_UP_WRITE), as does a failed or short read of the file (``err``);
 * PYLIBSSH_SFTP_UP_DONE says when nothing is left in flight. */
struct pylibssh_sftp_upload {
    int fd;               /* -1: a free slot */
    int stopped;
    int err;              /* why reading the file failed (EIO: it ended early), or 0 */
    uint32_t in_flight;   /* WRITEs allowed in flight */
    uint32_t outstanding; /* WRITEs in flight */
    uint32_t chunk;
    uint64_t next;
    uint64_t end;
    uint64_t acked;   /* bytes of WRITEs answered OK */
    uint64_t replies; /* replies received */
    char *packet;     /* the WRITE being built (its header, then up to ``chunk`` bytes) */
    uint32_t handle_len;
    unsigned char handle[256];
};

struct pylibssh_sftp_rx {
    struct ssh_channel_callbacks_struct cb;
    /* complete packets (and PYLIBSSH_SFTP_WRITTEN records) for Python, taken after each poll:
     * ``out_len`` bytes of whole packets, then the start of one still arriving (to ``out_fill``) */
    char *out;
    uint32_t out_len;
    uint32_t out_fill;
    uint32_t out_cap;
    uint32_t max_packet; /* a longer (or empty) packet breaks the framing */
    int broken; /* 1: a length out of range, 2: out of memory, 3: a packet of a record's type;
                 * nothing more is parsed */
    uint32_t bad_length; /* the length (or type) that broke it */
    uint64_t direct_bytes; /* DATA written to files by the receiver */
    /* the packet being received */
    unsigned char head[13];
    uint32_t head_len;
    uint32_t length; /* its length field */
    uint32_t left;   /* bytes of it still to come after what is in ``head`` */
    int mode;
    struct pylibssh_sftp_read cur; /* the direct read being written */
    uint32_t cur_done;
    int cur_errno;
    /* direct reads by request id: open addressing, linear probing */
    struct pylibssh_sftp_read *reads;
    uint32_t reads_cap; /* a power of two */
    uint32_t reads_used;
    /* request ids: the next one (Python's requests and the bulk READs take from it) */
    uint32_t next_id;
    /* READ requests the bulks call for, sent by Python after each poll */
    char *send;
    uint32_t send_len;
    uint32_t send_cap;
    struct pylibssh_sftp_bulk *bulks;
    uint32_t bulks_cap;
    /* a DATA reply's bytes gathered before pwrite: ``stage_fill`` bytes for ``stage_at`` */
    char *stage;
    uint32_t stage_fill;
    uint64_t stage_at;
    struct pylibssh_sftp_upload *ups;
    uint32_t ups_cap;
    /* the end of a WRITE the channel's window cut short, for Python to queue before anything
     * else it writes */
    char *rest;
    uint32_t rest_len;
    uint32_t rest_cap;
};

void pylibssh_sftp_rx_taken(struct pylibssh_sftp_rx *rx);
int pylibssh_sftp_rx_init(struct pylibssh_sftp_rx *rx, uint32_t max_packet);
void pylibssh_sftp_rx_free(struct pylibssh_sftp_rx *rx);
struct ssh_channel_callbacks_struct *pylibssh_sftp_rx_callbacks(struct pylibssh_sftp_rx *rx);
int pylibssh_sftp_rx_expect(struct pylibssh_sftp_rx *rx, uint32_t id, int fd, uint64_t offset,
                            uint32_t length);
int pylibssh_sftp_rx_forget(struct pylibssh_sftp_rx *rx, uint32_t id);
void pylibssh_sftp_rx_forget_fd(struct pylibssh_sftp_rx *rx, int fd);
int pylibssh_sftp_rx_bulk_start(struct pylibssh_sftp_rx *rx, int fd, const char *handle,
                                uint32_t handle_len, uint64_t next, uint64_t end, uint32_t chunk,
                                uint32_t in_flight);
int pylibssh_sftp_rx_bulk_start_mem(struct pylibssh_sftp_rx *rx, char *buf, const char *handle,
                                    uint32_t handle_len, uint64_t next, uint64_t end,
                                    uint32_t chunk, uint32_t in_flight);
void pylibssh_sftp_rx_bulk_end(struct pylibssh_sftp_rx *rx, int bulk);
void pylibssh_sftp_rx_sent(struct pylibssh_sftp_rx *rx);
uint64_t pylibssh_sftp_rx_bulk_done_to(const struct pylibssh_sftp_rx *rx, int bulk);
int pylibssh_sftp_rx_up_start(struct pylibssh_sftp_rx *rx, int fd, const char *handle,
                              uint32_t handle_len, uint64_t next, uint64_t end, uint32_t chunk,
                              uint32_t in_flight);
void pylibssh_sftp_rx_up_end(struct pylibssh_sftp_rx *rx, int up);
int pylibssh_sftp_rx_up_pump(struct pylibssh_sftp_rx *rx, ssh_channel channel,
                             int64_t max_pending);
void pylibssh_sftp_rx_rest_taken(struct pylibssh_sftp_rx *rx);

#endif
