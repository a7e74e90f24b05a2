/* Encoding and parsing SSH packets with libssh's public buffer functions: static helpers shared
 * by pylibssh_glue.c, pylibssh_server.c and pylibssh_client.c. */
#ifndef PYLIBSSH_WIRE_H
#define PYLIBSSH_WIRE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libssh/libssh.h>

/* message numbers (RFC 4250 4.1.2; libssh's ssh2.h is private) */
#define PYLIBSSH_MSG_GLOBAL_REQUEST 80
#define PYLIBSSH_MSG_REQUEST_SUCCESS 81
#define PYLIBSSH_MSG_REQUEST_FAILURE 82
#define PYLIBSSH_MSG_CHANNEL_OPEN 90
#define PYLIBSSH_MSG_CHANNEL_OPEN_FAILURE 92
#define PYLIBSSH_MSG_CHANNEL_DATA 94
#define PYLIBSSH_MSG_CHANNEL_EXTENDED_DATA 95

static inline int put_u8(ssh_buffer b, uint8_t v)
{
    return ssh_buffer_add_data(b, &v, 1);
}

static inline int put_u32(ssh_buffer b, uint32_t v)
{
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return ssh_buffer_add_data(b, be, 4);
}

static inline int put_string(ssh_buffer b, const void *data, uint32_t len)
{
    if (put_u32(b, len) < 0) {
        return -1;
    }
    return len == 0 ? 0 : ssh_buffer_add_data(b, data, len);
}

static inline int put_cstring(ssh_buffer b, const char *s)
{
    return put_string(b, s, (uint32_t)strlen(s));
}

static inline int read_u32(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
    if (end - *p < 4) {
        return -1;
    }
    *v = ((uint32_t)(*p)[0] << 24) | ((uint32_t)(*p)[1] << 16) | ((uint32_t)(*p)[2] << 8) |
         (uint32_t)(*p)[3];
    *p += 4;
    return 0;
}

static inline int read_string(const uint8_t **p, const uint8_t *end, const uint8_t **s, uint32_t *len)
{
    uint32_t n;

    if (read_u32(p, end, &n) != 0 || (size_t)(end - *p) < n) {
        return -1;
    }
    *s = *p;
    *len = n;
    *p += n;
    return 0;
}

static inline int is_name(const uint8_t *s, uint32_t len, const char *name)
{
    return len == strlen(name) && memcmp(s, name, len) == 0;
}

#endif
