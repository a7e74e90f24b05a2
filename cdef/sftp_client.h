/* The SFTP client's receiver (csrc/pylibssh_sftp_client.h, pylibssh/client/sftp_engine.py). */
#define PYLIBSSH_SFTP_WRITTEN ...
#define PYLIBSSH_SFTP_BULK_READ ...
#define PYLIBSSH_SFTP_BULK_DONE ...
#define PYLIBSSH_SFTP_UP_WRITE ...
#define PYLIBSSH_SFTP_UP_DONE ...
#define PYLIBSSH_SFTP_MEMORY ...

struct pylibssh_sftp_read {
    uint32_t id;
    int fd;
    uint64_t offset;
    uint32_t length;
    int32_t bulk;
    int32_t upload;
};

struct pylibssh_sftp_bulk {
    int fd;
    int stopped;
    uint32_t outstanding;
    uint64_t next;
    uint64_t end;
    uint64_t written;
    uint64_t replies;
    ...;
};

struct pylibssh_sftp_upload {
    int fd;
    int stopped;
    int err;
    uint32_t outstanding;
    uint64_t next;
    uint64_t end;
    uint64_t acked;
    uint64_t replies;
    ...;
};

struct pylibssh_sftp_rx {
    char *out;
    uint32_t out_len;
    uint32_t out_cap;
    uint32_t max_packet;
    int broken;
    uint32_t bad_length;
    uint64_t direct_bytes;
    uint32_t reads_used;
    uint32_t next_id;
    char *send;
    uint32_t send_len;
    struct pylibssh_sftp_bulk *bulks;
    struct pylibssh_sftp_upload *ups;
    char *rest;
    uint32_t rest_len;
    ...;
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
