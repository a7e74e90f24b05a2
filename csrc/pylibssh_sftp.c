/* The SFTP server's packet counter.
 *
 * libssh's SFTP server reads requests with sftp_get_client_message(), which waits until a whole
 * packet is in the channel. To call it without ever waiting, this data callback (registered in
 * front of the channel's Python callbacks) looks at the bytes libssh buffered for the channel,
 * counts the complete SFTP packets at its start and consumes nothing. Python then pulls exactly
 * that many. It also notes each packet's type and request id, so that a request libssh cannot
 * parse can still be answered with a status. Bytes stay in libssh's buffer until pulled, so the
 * SSH window holds back a client that sends faster than the server answers. */
#include <stdint.h>
#include <string.h>

#include "pylibssh_glue.h"

/* libssh refuses larger SFTP packets (sftp_common.c, SFTP_PACKET_SIZE_MAX) */
#define PYLIBSSH_SFTP_PACKET_MAX 0x10000000u

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int pylibssh_sftp_count_cb(ssh_session session, ssh_channel channel, void *data,
                                  uint32_t len, int is_stderr, void *userdata)
{
    struct pylibssh_sftp_counter *c = userdata;
    const uint8_t *p = data;
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
