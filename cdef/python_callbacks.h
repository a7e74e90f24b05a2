/* Every C->Python callback, in one place. Each is implemented in Python with
 * @ffi.def_extern() (pylibssh/_callbacks.py and the modules named beside it); the `void *userdata`
 * they receive is an ffi.new_handle() kept alive by the Python object that registered it. */

/* libssh's global log callback -> the "pylibssh" logger (pylibssh/_log.py) */
extern "Python" void pylibssh_log_cb(int priority, const char *function, const char *buffer,
                                     void *userdata);

/* channel callbacks, shared by server and client channels (pylibssh/_callbacks.py). They run
 * inside libssh: they only record what happened; the session dispatches it afterwards. */
extern "Python" int pylibssh_channel_data_cb(ssh_session, ssh_channel, void *data, uint32_t len,
                                             int is_stderr, void *userdata);
extern "Python" void pylibssh_channel_eof_cb(ssh_session, ssh_channel, void *userdata);
extern "Python" void pylibssh_channel_close_cb(ssh_session, ssh_channel, void *userdata);
extern "Python" void pylibssh_channel_signal_cb(ssh_session, ssh_channel, const char *signal,
                                                void *userdata);
extern "Python" void pylibssh_channel_exit_status_cb(ssh_session, ssh_channel, int exit_status,
                                                     void *userdata);
extern "Python" void pylibssh_channel_exit_signal_cb(ssh_session, ssh_channel, const char *signal,
                                                     int core, const char *errmsg,
                                                     const char *lang, void *userdata);
extern "Python" int pylibssh_channel_write_wontblock_cb(ssh_session, ssh_channel, uint32_t bytes,
                                                        void *userdata);
extern "Python" void pylibssh_channel_open_resp_cb(ssh_session, ssh_channel, bool is_success,
                                                   void *userdata);
/* server channels that accept agent forwarding (pylibssh/server/channel.py) */
extern "Python" void pylibssh_channel_auth_agent_req_cb(ssh_session, ssh_channel,
                                                        void *userdata);
/* a bridge's C socket sink has bytes to send once the poll is over (pylibssh/bridge.py) */
extern "Python" void pylibssh_sink_dirty_cb(void *userdata);
