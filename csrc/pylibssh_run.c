/* A command run to completion on a client session, stepped from C (pylibssh/client/run.py).
 *
 * ``run()`` opens a session channel, sends exec, sends EOF, gathers stdout and stderr until the
 * server closes the channel, and returns them with the exit status. Written as a Python task,
 * each stage is a generator step with its own poller and every packet goes through the
 * channel's Python callbacks. Here the stages are one state machine and the callbacks are C:
 * the loop's pass makes one call into C per run (pylibssh_run_step) until the run is over.
 *
 * Everything happens on the loop's thread, under its lock, with the session nonblocking: a
 * step never waits. EOF is sent right after the exec request, before its reply (there is no
 * input to wait for): one round trip less. The output is kept whole, as the
 * Python path's run() keeps it: the caller asked for all of it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libssh/libssh.h>
#include <libssh/callbacks.h>

#include "pylibssh_glue.h"

enum { RUN_OPENING, RUN_EXEC, RUN_WAITING };

static int run_grow(struct pylibssh_run *r, int is_stderr, uint32_t len)
{
    char **buf = is_stderr ? &r->err : &r->out;
    size_t *have = is_stderr ? &r->err_len : &r->out_len;
    size_t *cap = is_stderr ? &r->err_cap : &r->out_cap;
    size_t want = *have + len, n = *cap ? *cap : 4096;
    char *p;

    if (want <= *cap) {
        return 0;
    }
    while (n < want) {
        if (n > SIZE_MAX / 2) {
            return -1;
        }
        n *= 2;
    }
    p = realloc(*buf, n);
    if (p == NULL) {
        return -1;
    }
    *buf = p;
    *cap = n;
    return 0;
}

static int run_data(ssh_session session, ssh_channel channel, void *data, uint32_t len,
                    int is_stderr, void *userdata)
{
    struct pylibssh_run *r = userdata;

    (void)session;
    (void)channel;
    if (len == 0 || r->nomem) {
        return 0;
    }
    if (run_grow(r, is_stderr, len) != 0) {
        r->nomem = 1; /* the step reports it; libssh keeps the bytes meanwhile */
        return 0;
    }
    if (is_stderr) {
        memcpy(r->err + r->err_len, data, len);
        r->err_len += len;
    } else {
        memcpy(r->out + r->out_len, data, len);
        r->out_len += len;
    }
    return (int)len;
}

static void run_close(ssh_session session, ssh_channel channel, void *userdata)
{
    struct pylibssh_run *r = userdata;

    (void)session;
    (void)channel;
    r->closed = 1;
}

static void run_exit_status(ssh_session session, ssh_channel channel, int status, void *userdata)
{
    struct pylibssh_run *r = userdata;

    (void)session;
    (void)channel;
    r->exit_status = status;
    r->has_exit_status = 1;
}

static void run_exit_signal(ssh_session session, ssh_channel channel, const char *signal,
                            int core, const char *errmsg, const char *lang, void *userdata)
{
    struct pylibssh_run *r = userdata;

    (void)session;
    (void)channel;
    (void)core;
    (void)errmsg;
    (void)lang;
    if (signal != NULL) {
        strncpy(r->exit_signal, signal, sizeof(r->exit_signal) - 1);
        r->exit_signal[sizeof(r->exit_signal) - 1] = '\0';
        r->has_exit_signal = 1;
    }
}

struct pylibssh_run *pylibssh_run_new(ssh_session session, const char *command)
{
    struct pylibssh_run *r;

    if (session == NULL || command == NULL) {
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->command = strdup(command);
    r->channel = ssh_channel_new(session);
    if (r->command == NULL || r->channel == NULL) {
        pylibssh_run_free(r);
        return NULL;
    }
    ssh_callbacks_init(&r->cb);
    r->cb.userdata = r;
    r->cb.channel_data_function = run_data;
    r->cb.channel_close_function = run_close;
    r->cb.channel_exit_status_function = run_exit_status;
    r->cb.channel_exit_signal_function = run_exit_signal;
    if (ssh_set_channel_callbacks(r->channel, &r->cb) != SSH_OK) {
        pylibssh_run_free(r);
        return NULL;
    }
    r->state = RUN_OPENING;
    return r;
}

int pylibssh_run_step(struct pylibssh_run *r)
{
    int rc;

    if (r == NULL || r->channel == NULL) {
        return PYLIBSSH_RUN_GONE;
    }
    if (r->nomem) {
        return PYLIBSSH_RUN_NOMEM;
    }
    switch (r->state) {
    case RUN_OPENING:
        rc = ssh_channel_open_session(r->channel);
        if (rc == SSH_AGAIN) {
            return PYLIBSSH_RUN_AGAIN;
        }
        if (rc != SSH_OK) {
            return PYLIBSSH_RUN_OPEN_FAILED;
        }
        r->state = RUN_EXEC;
        /* fall through */
    case RUN_EXEC:
        if (r->closed && !r->exec_sent) {
            return PYLIBSSH_RUN_FAILED; /* closed by the server before the request */
        }
        rc = ssh_channel_request_exec(r->channel, r->command);
        r->exec_sent = 1;
        if (rc != SSH_OK && rc != SSH_AGAIN) {
            return ssh_get_error_code(ssh_channel_get_session(r->channel)) == SSH_REQUEST_DENIED
                       ? PYLIBSSH_RUN_DENIED
                       : PYLIBSSH_RUN_FAILED;
        }
        /* the request is out: EOF follows it, its reply not awaited */
        if (!r->eof_sent && !r->closed) {
            if (ssh_channel_send_eof(r->channel) == SSH_ERROR) {
                return PYLIBSSH_RUN_FAILED;
            }
            r->eof_sent = 1;
        }
        if (rc == SSH_AGAIN) {
            /* closed without a reply: the whole answer came in one read */
            return r->closed ? PYLIBSSH_RUN_DONE : PYLIBSSH_RUN_AGAIN;
        }
        r->state = RUN_WAITING;
        /* fall through */
    default:
        return r->closed ? PYLIBSSH_RUN_DONE : PYLIBSSH_RUN_AGAIN;
    }
}

void pylibssh_run_release(struct pylibssh_run *r)
{
    if (r != NULL && r->channel != NULL) {
        ssh_channel_free(r->channel); /* sends CLOSE when needed; drops our callbacks */
        r->channel = NULL;
    }
}

void pylibssh_run_free(struct pylibssh_run *r)
{
    if (r == NULL) {
        return;
    }
    pylibssh_run_release(r);
    free(r->out);
    free(r->err);
    free(r->command);
    free(r);
}
