/* Our own C glue in csrc/ (symbols carry the pylibssh_ prefix). */

/* the package version the extension was built for; checked at import */
const char *pylibssh_build_version(void);
/* 1 when built against the vendored libssh, 0 for a system libssh */
int pylibssh_vendored(void);

/* ssh_callbacks_init() is a macro: these set .size on a zeroed struct */
void pylibssh_init_session_callbacks(struct ssh_callbacks_struct *cb);
void pylibssh_init_server_callbacks(struct ssh_server_callbacks_struct *cb);
void pylibssh_init_channel_callbacks(struct ssh_channel_callbacks_struct *cb);

/* A channel data callback that takes the channel's bytes into its own buffer ``buf`` (``cap``
 * bytes, owned by the caller) and sends it with one send() when full, or when flushed
 * (pylibssh_sock_sink_flush: 0 all sent, >0 bytes left, -1 error) after the poll; ``dirty`` is
 * called (inside libssh: record only) when the buffer stops being empty. Register its callbacks
 * with ssh_set_channel_callbacks after the channel's own (it is put first), then attach it to
 * the channel's own struct: it becomes the only data callback and hands what it cannot take to
 * the channel's own data callback; from then on (``blocked``) it hands everything on until
 * Python clears ``blocked`` (the sink's buffer and Python's queue are empty: order kept). Detach
 * (gives the data callback back, drops the buffer) before unregistering; keep ``s`` and ``buf``
 * alive until then. With ``hold`` set (fd -1) it only gathers stdout: Python takes
 * ``buf[:len]`` and resets ``len`` (pylibssh/client/process.py); registered without attaching,
 * what it does not take (stderr; everything once full or ``blocked``) goes on to the channel's
 * own data callback. */
struct pylibssh_sock_sink {
    int fd;
    int hold;
    int blocked;
    uint64_t bytes;
    uint32_t len;
    ...;
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
/* end the session (libssh's error state) when the peer sends channel data beyond the window
 * (libssh itself drops the packet and goes on); SSH_ERROR without PYLIBSSH_HAS_WINDOW_GUARD */
int pylibssh_enforce_windows(ssh_session session);

/* --- SFTP server (csrc/pylibssh_sftp.c) ---
 * A channel data callback that counts the complete SFTP packets libssh buffered for the channel
 * (consuming nothing), so that sftp_get_client_message() is only called when it cannot wait. */
#define PYLIBSSH_SFTP_PACKET_MAX ...
#define PYLIBSSH_SFTP_READ_MAX ...
#define SFTP_FXP_READ ...
#define SFTP_FXP_WRITE ...
#define SFTP_FXP_STATUS ...
#define SFTP_FXP_DATA ...
#define SFTP_FX_OK ...
#define SFTP_FX_EOF ...
#define PYLIBSSH_SFTP_KNOWN ...
struct pylibssh_sftp_counter {
    uint32_t complete;
    uint32_t taken;
    uint32_t bad;
    uint32_t buffered;
    uint8_t types[...];
    uint32_t ids[...];
    ...;
};
void pylibssh_sftp_counter_init(struct pylibssh_sftp_counter *c);
struct ssh_channel_callbacks_struct *
pylibssh_sftp_counter_callbacks(struct pylibssh_sftp_counter *c);
/* the request's whole payload (id onwards), for extensions libssh does not parse */
ssh_buffer pylibssh_sftp_message_packet(sftp_client_message msg);
/* Direct file handles (the local backend): reads and writes of registered handles are answered
 * in C. pylibssh_sftp_serve_direct() serves the READ/WRITE/CLOSE requests at the head of the
 * counted packets while the window takes their replies and ``budget`` reply bytes last; it stops at
 * any other request. A request it pulled but cannot answer (unknown handle, an error, no
 * window) is left in ``handoff`` for Python; ``unparsable`` says libssh refused the packet. */
#define PYLIBSSH_SFTP_DIRECT_SLOTS ...
#define PYLIBSSH_SFTP_DIRECT_BUF ...
#define PYLIBSSH_SFTP_DIRECT_CLOSED ...
#define PYLIBSSH_SFTP_DIRECT_ERRNOS ...
struct pylibssh_sftp_direct {
    uint32_t count;
    sftp_client_message handoff;
    uint32_t unparsable;
    uint32_t served;
    uint64_t bytes;
    uint32_t queued;             /* reply bytes at the start of buf that Python must queue */
    uint32_t nclosed;  /* CLOSEs answered here: their handles, for Python to forget */
    unsigned char closed[...][8];
    uint8_t errno_status[...];  /* Python fills it: the status a failed close() replies */
    unsigned char buf[...];
    ...;
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
/* Global requests' replies, in order (csrc/pylibssh_client.c): a packet handler placed before
 * libssh's keeps a FIFO of the outstanding want-reply requests and gives each reply to its own
 * request. ``r`` must live as long as the session; -1 without PYLIBSSH_HAS_GLOBAL_REPLIES.
 * pylibssh_global_expect(r, kind) -> the request's seq number (call before sending; -1: queue
 * full); _unexpect: it was not sent; _forget: give up waiting (libssh's state freed);
 * _result: -1 not answered yet, -2 unknown, else 1 success / 0 failure (and the port a
 * tcpip-forward got). */
#define PYLIBSSH_GLOBAL_LIBSSH ...
#define PYLIBSSH_GLOBAL_OWN ...
#define PYLIBSSH_GLOBAL_NOBODY ...
struct pylibssh_global_replies {
    uint32_t successes;
    int32_t last_port;
    uint32_t sent;
    uint32_t answered;
    ...;
};
int pylibssh_track_global_replies(ssh_session session, struct pylibssh_global_replies *r);
int64_t pylibssh_global_expect(struct pylibssh_global_replies *r, int kind);
void pylibssh_global_unexpect(struct pylibssh_global_replies *r, uint32_t seq);
void pylibssh_global_forget(ssh_session session, struct pylibssh_global_replies *r,
                            uint32_t seq);
int pylibssh_global_result(struct pylibssh_global_replies *r, uint32_t seq, int32_t *port);
/* keepalive@openssh.com through libssh, its reply taken by nobody; SSH_AGAIN: skipped (libssh
 * waits for a forward's reply, which is traffic too) */
int pylibssh_send_keepalive(ssh_session session, struct pylibssh_global_replies *r);
/* a want-reply global request with one string (streamlocal-forward@openssh.com, its cancel);
 * expect its reply (PYLIBSSH_GLOBAL_OWN) first */
int pylibssh_global_request_path(ssh_session session, const char *name, const char *path);
/* any global request: ``data`` (already SSH-encoded) follows the want-reply flag; expect its
 * reply (PYLIBSSH_GLOBAL_OWN) first when ``want_reply`` */
int pylibssh_global_request_raw(ssh_session session, const char *name, const uint8_t *data,
                                size_t len, int want_reply);
/* forwarding (csrc/pylibssh_server.c): OpenSSH's UNIX-socket requests, which libssh 0.12 does not
 * parse, arrive as queued messages of these subtypes once pylibssh_server_enable_streamlocal()
 * put its packet handler before libssh's (PYLIBSSH_HAS_STREAMLOCAL); a channel open refused with
 * a reason code (libssh's default refusal without PYLIBSSH_HAS_OPEN_FAILURE_REASON); a
 * forwarded-streamlocal channel open (SSH_AGAIN, then the open-response callback). */
#define PYLIBSSH_GLOBAL_REQUEST_STREAMLOCAL_FORWARD ...
#define PYLIBSSH_GLOBAL_REQUEST_CANCEL_STREAMLOCAL_FORWARD ...
#define PYLIBSSH_CHANNEL_DIRECT_STREAMLOCAL ...
#define PYLIBSSH_CHANNEL_FORWARDED_STREAMLOCAL ...
int pylibssh_channel_open_reply_failure(ssh_message msg, uint32_t code, const char *desc);
int pylibssh_channel_open_forwarded_streamlocal(ssh_channel channel, const char *socket_path);
int pylibssh_server_enable_streamlocal(ssh_session session);

/* --- a command run to completion on a client session (csrc/pylibssh_run.c) ---
 * pylibssh_run_new opens nothing yet: each pylibssh_run_step (on the loop's thread, after a
 * poll) moves it on: the session channel's open, exec, EOF, then the server's close. Returns
 * PYLIBSSH_RUN_AGAIN until done (PYLIBSSH_RUN_DONE), or a negative failure. The output and
 * exit status are read from the struct; release frees the channel (sends CLOSE when needed),
 * free frees everything (release first if not done). */
#define PYLIBSSH_RUN_AGAIN 0
#define PYLIBSSH_RUN_DONE 1
#define PYLIBSSH_RUN_OPEN_FAILED -1
#define PYLIBSSH_RUN_FAILED -2
#define PYLIBSSH_RUN_DENIED -3
#define PYLIBSSH_RUN_NOMEM -4
#define PYLIBSSH_RUN_GONE -5
struct pylibssh_run {
    int closed;
    int has_exit_status;
    int exit_status;
    int has_exit_signal;
    char exit_signal[64];
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
    ...;
};
struct pylibssh_run *pylibssh_run_new(ssh_session session, const char *command);
int pylibssh_run_step(struct pylibssh_run *r);
void pylibssh_run_release(struct pylibssh_run *r);
void pylibssh_run_free(struct pylibssh_run *r);
