/* The SFTP client's receiver (csrc/pylibssh_sftp_client.c, pylibssh/client/sftp_engine.py). */
#ifndef PYLIBSSH_SFTP_CLIENT_H
#define PYLIBSSH_SFTP_CLIENT_H

#include <stdint.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

/* the record that stands for a DATA reply written to its file (type 0 is no SFTP type):
 * uint32 length (13), byte PYLIBSSH_SFTP_WRITTEN, uint32 id, uint32 bytes, uint32 errno */
#define PYLIBSSH_SFTP_WRITTEN 0

/* one READ whose DATA reply goes straight to a file: ``fd`` at ``offset``, at most ``length``
 * bytes (a free slot has fd -1) */
struct pylibssh_sftp_read {
    uint32_t id;
    int fd;
    uint64_t offset;
    uint32_t length;
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
    int broken;          /* 1: a length out of range, 2: out of memory; nothing more is parsed */
    uint32_t bad_length; /* the length that broke it */
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
};

void pylibssh_sftp_rx_taken(struct pylibssh_sftp_rx *rx);
int pylibssh_sftp_rx_init(struct pylibssh_sftp_rx *rx, uint32_t max_packet);
void pylibssh_sftp_rx_free(struct pylibssh_sftp_rx *rx);
struct ssh_channel_callbacks_struct *pylibssh_sftp_rx_callbacks(struct pylibssh_sftp_rx *rx);
int pylibssh_sftp_rx_expect(struct pylibssh_sftp_rx *rx, uint32_t id, int fd, uint64_t offset,
                            uint32_t length);
int pylibssh_sftp_rx_forget(struct pylibssh_sftp_rx *rx, uint32_t id);
void pylibssh_sftp_rx_forget_fd(struct pylibssh_sftp_rx *rx, int fd);

#endif
