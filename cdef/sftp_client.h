/* The SFTP client's receiver (csrc/pylibssh_sftp_client.h, pylibssh/client/sftp_engine.py). */
#define PYLIBSSH_SFTP_WRITTEN ...

struct pylibssh_sftp_read {
    uint32_t id;
    int fd;
    uint64_t offset;
    uint32_t length;
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
