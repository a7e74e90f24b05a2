/* Our own C glue in csrc/ (symbols carry the pylibssh_ prefix). */

/* the package version the extension was built for; checked at import */
const char *pylibssh_build_version(void);
/* 1 when built against the vendored libssh, 0 for a system libssh */
int pylibssh_vendored(void);

/* ssh_callbacks_init() is a macro: these set .size on a zeroed struct */
void pylibssh_init_session_callbacks(struct ssh_callbacks_struct *cb);
void pylibssh_init_server_callbacks(struct ssh_server_callbacks_struct *cb);
void pylibssh_init_channel_callbacks(struct ssh_channel_callbacks_struct *cb);
