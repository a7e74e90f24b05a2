#include "pylibssh_glue.h"

#ifndef PYLIBSSH_VERSION
#error "PYLIBSSH_VERSION must be defined by the build (setup.py)"
#endif
#ifndef PYLIBSSH_VENDORED
#define PYLIBSSH_VENDORED 0
#endif

const char *pylibssh_build_version(void)
{
    return PYLIBSSH_VERSION;
}

int pylibssh_vendored(void)
{
    return PYLIBSSH_VENDORED;
}

void pylibssh_init_session_callbacks(struct ssh_callbacks_struct *cb)
{
    ssh_callbacks_init(cb);
}

void pylibssh_init_server_callbacks(struct ssh_server_callbacks_struct *cb)
{
    ssh_callbacks_init(cb);
}

void pylibssh_init_channel_callbacks(struct ssh_channel_callbacks_struct *cb)
{
    ssh_callbacks_init(cb);
}
