/* C glue for pylibssh: what cannot be expressed through cffi's declarations alone. */
#ifndef PYLIBSSH_GLUE_H
#define PYLIBSSH_GLUE_H

/* sftp.h declares the SFTP server functions only under WITH_SERVER */
#ifndef WITH_SERVER
#define WITH_SERVER 1
#endif

#include <fcntl.h>
#include <stdint.h>
#include <sys/time.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <libssh/callbacks.h>
#include <libssh/sftp.h>
#include <libssh/sftpserver.h>

#include "pylibssh_private.h"

const char *pylibssh_build_version(void);
int pylibssh_vendored(void);

void pylibssh_init_session_callbacks(struct ssh_callbacks_struct *cb);
void pylibssh_init_server_callbacks(struct ssh_server_callbacks_struct *cb);
void pylibssh_init_channel_callbacks(struct ssh_channel_callbacks_struct *cb);

/* a channel's data sent straight to a socket (csrc/pylibssh_glue.c, pylibssh/bridge.py) */
struct pylibssh_sock_sink {
    struct ssh_channel_callbacks_struct cb;
    int fd;         /* -1: off (unless ``hold``) */
    int hold;       /* 1: no socket; the bytes stay in ``buf`` until Python takes them */
    int blocked;    /* 1: leave the data to the channel's own callback (Python) */
    uint64_t bytes; /* sent from the buffer */
    char *buf;      /* bytes taken from the channel, not sent yet (owned by Python) */
    uint32_t cap;
    uint32_t len;
    void (*dirty)(void *); /* the buffer stopped being empty: flush after the poll */
    void *dirty_userdata;
    struct ssh_channel_callbacks_struct *own; /* the channel's own callbacks (attached) */
    ssh_channel_data_callback next;           /* their data callback, given what is left */
    void *next_userdata;
};
void pylibssh_sock_sink_init(struct pylibssh_sock_sink *s, int fd, char *buf, uint32_t cap,
                             void (*dirty)(void *), void *dirty_userdata);
int pylibssh_sock_sink_flush(struct pylibssh_sock_sink *s);
struct ssh_channel_callbacks_struct *pylibssh_sock_sink_callbacks(struct pylibssh_sock_sink *s);
void pylibssh_sock_sink_attach(struct pylibssh_sock_sink *s,
                               struct ssh_channel_callbacks_struct *own);
void pylibssh_sock_sink_detach(struct pylibssh_sock_sink *s);
/* libssh's poll (timeout 0), again while each one adds to the holding sink ``s``; -1 when
 * libssh fails, else 1 when ``session`` has output waiting to be sent */
int pylibssh_sink_poll(ssh_event event, ssh_session session, struct pylibssh_sock_sink *s);
/* channel data beyond the window ends the session (libssh drops it and goes on); SSH_ERROR
 * without PYLIBSSH_HAS_WINDOW_GUARD */
int pylibssh_enforce_windows(ssh_session session);

/* --- SFTP server (csrc/pylibssh_sftp.c) --- */
/* The wire values the C fast path uses (pylibssh/sftp/codec.py holds Python's; a test compares
 * them). OpenSSH's sftp-server refuses longer packets (SFTP_MAX_MSG_LENGTH); libssh would take up
 * to 256 MiB, more than the SSH window, so such a packet would never complete. The longest READ
 * is libssh's (sftpserver.c: MAX_PACKET_LEN - 1024). */
#define PYLIBSSH_SFTP_PACKET_MAX (256u * 1024u)
#define PYLIBSSH_SFTP_READ_MAX (256u * 1024u - 1024u)
#define SFTP_FXP_READ 5
#define SFTP_FXP_WRITE 6
#define SFTP_FXP_STATUS 101
#define SFTP_FXP_DATA 103
#define SFTP_FX_OK 0
#define SFTP_FX_EOF 1
#define PYLIBSSH_SFTP_KNOWN 64
struct pylibssh_sftp_counter {
    struct ssh_channel_callbacks_struct cb;
    uint32_t complete; /* complete SFTP packets at the start of the channel's buffer */
    uint32_t taken;    /* pulled by Python since that count (the next count resets it) */
    uint32_t bad;      /* 1: the next packet's length is invalid */
    uint32_t buffered; /* bytes in the channel's buffer at the last count */
    uint8_t types[PYLIBSSH_SFTP_KNOWN]; /* type and request id of the first packets */
    uint32_t ids[PYLIBSSH_SFTP_KNOWN];
    uint32_t sizes[PYLIBSSH_SFTP_KNOWN]; /* their lengths (type onwards) */
    /* a WRITE whose fields fill its packet exactly, with an 8-byte handle: that handle's key,
     * for the direct path (pylibssh_sftp_serve_direct) to parse it in place */
    uint8_t plain_write[PYLIBSSH_SFTP_KNOWN];
    uint64_t write_keys[PYLIBSSH_SFTP_KNOWN];
};
void pylibssh_sftp_counter_init(struct pylibssh_sftp_counter *c);
struct ssh_channel_callbacks_struct *
pylibssh_sftp_counter_callbacks(struct pylibssh_sftp_counter *c);
ssh_buffer pylibssh_sftp_message_packet(sftp_client_message msg);

/* Direct file handles: the local backend's open files, whose reads and writes are answered here
 * without a trip through Python (the handle -> fd table is filled and emptied by Python). */
#define PYLIBSSH_SFTP_DIRECT_SLOTS 2048 /* a power of two, twice the backend's handle limit */
#define PYLIBSSH_SFTP_DIRECT_BUF (256 * 1024)
#define PYLIBSSH_SFTP_DIRECT_CLOSED 64
#define PYLIBSSH_SFTP_DIRECT_ERRNOS 256
struct pylibssh_sftp_direct {
    uint64_t keys[PYLIBSSH_SFTP_DIRECT_SLOTS];
    int32_t fds[PYLIBSSH_SFTP_DIRECT_SLOTS]; /* -1 free, -2 removed, else the file */
    uint8_t writable[PYLIBSSH_SFTP_DIRECT_SLOTS];
    uint32_t count;
    /* results of the last pylibssh_sftp_serve_direct() */
    sftp_client_message handoff; /* pulled but not served here: Python answers it */
    uint32_t unparsable;         /* 1: libssh could not parse the next packet (still counted) */
    uint32_t served;
    uint64_t bytes;              /* reply bytes written */
    uint32_t queued;             /* reply bytes at the start of buf that Python must queue */
    uint32_t nclosed;            /* handles closed here, for Python to forget */
    unsigned char closed[PYLIBSSH_SFTP_DIRECT_CLOSED][8];
    uint8_t errno_status[PYLIBSSH_SFTP_DIRECT_ERRNOS]; /* set by Python: errno -> status */
    unsigned char buf[PYLIBSSH_SFTP_DIRECT_BUF + 64];
};
void pylibssh_sftp_direct_init(struct pylibssh_sftp_direct *d);
int pylibssh_sftp_direct_add(struct pylibssh_sftp_direct *d, const unsigned char *handle,
                             size_t len, int fd, int writable);
void pylibssh_sftp_direct_remove(struct pylibssh_sftp_direct *d, const unsigned char *handle,
                                 size_t len);
int pylibssh_sftp_serve_direct(sftp_session sftp, ssh_channel channel,
                               struct pylibssh_sftp_counter *c, struct pylibssh_sftp_direct *d,
                               uint32_t max_read, uint64_t budget);


/* --- client (csrc/pylibssh_client.c) --- */
/* TCP_QUICKACK on a socket (0, or -1 with errno) */
int pylibssh_tcp_quickack(int fd);
/* SO_RCVLOWAT on a socket (0, or -1 with errno) */
int pylibssh_tcp_rcvlowat(int fd, int bytes);
/* who takes the reply of an outstanding global request */
#define PYLIBSSH_GLOBAL_LIBSSH 1 /* libssh's call (tcpip-forward, cancel-tcpip-forward) */
#define PYLIBSSH_GLOBAL_OWN 2    /* pylibssh reads it with pylibssh_global_result() */
#define PYLIBSSH_GLOBAL_NOBODY 3 /* a keepalive, or a request given up */
#define PYLIBSSH_GLOBAL_QUEUE 64
struct pylibssh_global_replies {
    struct ssh_packet_callbacks_struct callbacks;
    uint32_t successes; /* SSH_MSG_REQUEST_SUCCESS packets seen */
    int32_t last_port;  /* the uint32 that began the last one's payload, -1 if none */
    uint32_t sent;      /* want-reply global requests expected so far (their seq numbers) */
    uint32_t answered;  /* replies received for them (in order) */
    uint8_t kinds[PYLIBSSH_GLOBAL_QUEUE];  /* by seq % queue: who takes the reply */
    int8_t results[PYLIBSSH_GLOBAL_QUEUE]; /* 1 success, 0 failure, -1 none yet */
    int32_t ports[PYLIBSSH_GLOBAL_QUEUE];  /* a success's leading uint32, -1 if none */
};
int pylibssh_track_global_replies(ssh_session session, struct pylibssh_global_replies *r);
int64_t pylibssh_global_expect(struct pylibssh_global_replies *r, int kind);
void pylibssh_global_unexpect(struct pylibssh_global_replies *r, uint32_t seq);
void pylibssh_global_forget(ssh_session session, struct pylibssh_global_replies *r,
                            uint32_t seq);
int pylibssh_global_result(struct pylibssh_global_replies *r, uint32_t seq, int32_t *port);
int pylibssh_send_keepalive(ssh_session session, struct pylibssh_global_replies *r);
int pylibssh_global_request_path(ssh_session session, const char *name, const char *path);
int pylibssh_global_request_raw(ssh_session session, const char *name, const uint8_t *data,
                                size_t len, int want_reply);
/* forwarding: subtypes pylibssh gives the OpenSSH UNIX-socket requests libssh does not parse
 * (outside libssh's own enum values) */
#define PYLIBSSH_GLOBAL_REQUEST_STREAMLOCAL_FORWARD 0x70
#define PYLIBSSH_GLOBAL_REQUEST_CANCEL_STREAMLOCAL_FORWARD 0x71
#define PYLIBSSH_CHANNEL_DIRECT_STREAMLOCAL 0x70
#define PYLIBSSH_CHANNEL_FORWARDED_STREAMLOCAL 0x71
int pylibssh_channel_open_reply_failure(ssh_message msg, uint32_t code, const char *desc);
int pylibssh_channel_open_forwarded_streamlocal(ssh_channel channel, const char *socket_path);
int pylibssh_server_enable_streamlocal(ssh_session session);
/* (C only) queue a streamlocal channel open of type ``name`` as a message of ``subtype``, on a
 * client (``want_client`` 1) or server session; for a packet handler: SSH_PACKET_USED or
 * SSH_PACKET_NOT_USED */
int pylibssh_queue_streamlocal_open(ssh_session session, ssh_buffer packet, const char *name,
                                    int subtype, int want_client);

/* --- a command run to completion (csrc/pylibssh_run.c, pylibssh/client/run.py) --- */
/* pylibssh_run_step's results */
#define PYLIBSSH_RUN_AGAIN 0
#define PYLIBSSH_RUN_DONE 1        /* the server closed the channel: output and status are in */
#define PYLIBSSH_RUN_OPEN_FAILED -1 /* the session's error says why */
#define PYLIBSSH_RUN_FAILED -2      /* the exec request or EOF failed (the session's error) */
#define PYLIBSSH_RUN_DENIED -3      /* the server refused the exec request */
#define PYLIBSSH_RUN_NOMEM -4       /* the output did not fit in memory */
#define PYLIBSSH_RUN_GONE -5        /* released already */
struct pylibssh_run {
    struct ssh_channel_callbacks_struct cb;
    ssh_channel channel; /* NULL once released */
    char *command;
    int state;
    int exec_sent;
    int eof_sent;
    int closed;          /* the server closed the channel */
    int nomem;
    int has_exit_status;
    int exit_status;
    int has_exit_signal;
    char exit_signal[64]; /* without "SIG" */
    char *out;
    size_t out_len;
    size_t out_cap;
    char *err;
    size_t err_len;
    size_t err_cap;
};
struct pylibssh_run *pylibssh_run_new(ssh_session session, const char *command);
int pylibssh_run_step(struct pylibssh_run *r);
void pylibssh_run_release(struct pylibssh_run *r);
void pylibssh_run_free(struct pylibssh_run *r);

#endif
