/* Every C->Python callback, in one place. Each is implemented in Python with
 * @ffi.def_extern() (pylibssh/_callbacks.py and the modules named beside it); the `void *userdata`
 * they receive is an ffi.new_handle() kept alive by the Python object that registered it. */

/* libssh's global log callback -> the "pylibssh" logger (pylibssh/_log.py) */
extern "Python" void pylibssh_log_cb(int priority, const char *function, const char *buffer,
                                     void *userdata);
