/* Declarations from <libssh/callbacks.h>: callback structs libssh calls into. The structs are
 * partial ("...;"): the compiler supplies their layout. libssh keeps a pointer to each struct
 * (it does not copy it), so the Python owner must keep the struct alive while it is registered.
 * The C->Python functions that fill these structs are listed in python_callbacks.h. */

typedef void (*ssh_logging_callback)(int priority, const char *function, const char *buffer,
                                     void *userdata);

int ssh_set_log_callback(ssh_logging_callback cb);
int ssh_set_log_userdata(void *data);

/* session callbacks (client and server) */
typedef void (*ssh_log_callback)(ssh_session session, int priority, const char *message,
                                 void *userdata);
typedef void (*ssh_connect_status_callback)(void *userdata, float status);
typedef void (*ssh_global_request_callback)(ssh_session session, ssh_message message,
                                            void *userdata);
typedef ssh_channel (*ssh_channel_open_request_x11_callback)(ssh_session session,
        const char *originator_address, int originator_port, void *userdata);
typedef ssh_channel (*ssh_channel_open_request_auth_agent_callback)(ssh_session session,
                                                                    void *userdata);
typedef ssh_channel (*ssh_channel_open_request_forwarded_tcpip_callback)(ssh_session session,
        const char *destination_address, int destination_port,
        const char *originator_address, int originator_port, void *userdata);

struct ssh_callbacks_struct {
    size_t size;
    void *userdata;
    ssh_auth_callback auth_function;
    ssh_log_callback log_function;
    ssh_connect_status_callback connect_status_function;
    ssh_global_request_callback global_request_function;
    ssh_channel_open_request_x11_callback channel_open_request_x11_function;
    ssh_channel_open_request_auth_agent_callback channel_open_request_auth_agent_function;
    ssh_channel_open_request_forwarded_tcpip_callback channel_open_request_forwarded_tcpip_function;
    ...;
};
typedef struct ssh_callbacks_struct *ssh_callbacks;
int ssh_set_callbacks(ssh_session session, ssh_callbacks cb);

/* server callbacks */
typedef int (*ssh_auth_password_callback)(ssh_session session, const char *user,
                                          const char *password, void *userdata);
typedef int (*ssh_auth_none_callback)(ssh_session session, const char *user, void *userdata);
typedef int (*ssh_auth_pubkey_callback)(ssh_session session, const char *user,
                                        struct ssh_key_struct *pubkey, char signature_state,
                                        void *userdata);
typedef int (*ssh_auth_kbdint_callback)(ssh_message message, ssh_session session,
                                        void *userdata);
typedef int (*ssh_service_request_callback)(ssh_session session, const char *service,
                                            void *userdata);
typedef ssh_channel (*ssh_channel_open_request_session_callback)(ssh_session session,
                                                                 void *userdata);
typedef ssh_channel (*ssh_channel_open_request_direct_tcpip_callback)(ssh_session session,
        const char *destination_address, int destination_port,
        const char *originator_address, int originator_port, void *userdata);

struct ssh_server_callbacks_struct {
    size_t size;
    void *userdata;
    ssh_auth_password_callback auth_password_function;
    ssh_auth_none_callback auth_none_function;
    ssh_auth_pubkey_callback auth_pubkey_function;
    ssh_service_request_callback service_request_function;
    ssh_channel_open_request_session_callback channel_open_request_session_function;
    ssh_channel_open_request_direct_tcpip_callback channel_open_request_direct_tcpip_function;
    ssh_auth_kbdint_callback auth_kbdint_function;
    ...;
};
typedef struct ssh_server_callbacks_struct *ssh_server_callbacks;
int ssh_set_server_callbacks(ssh_session session, ssh_server_callbacks cb);

/* channel callbacks */
typedef int (*ssh_channel_data_callback)(ssh_session session, ssh_channel channel, void *data,
                                         uint32_t len, int is_stderr, void *userdata);
typedef void (*ssh_channel_eof_callback)(ssh_session session, ssh_channel channel,
                                         void *userdata);
typedef void (*ssh_channel_close_callback)(ssh_session session, ssh_channel channel,
                                           void *userdata);
typedef void (*ssh_channel_signal_callback)(ssh_session session, ssh_channel channel,
                                            const char *signal, void *userdata);
typedef void (*ssh_channel_exit_status_callback)(ssh_session session, ssh_channel channel,
                                                 int exit_status, void *userdata);
typedef void (*ssh_channel_exit_signal_callback)(ssh_session session, ssh_channel channel,
                                                 const char *signal, int core,
                                                 const char *errmsg, const char *lang,
                                                 void *userdata);
typedef int (*ssh_channel_pty_request_callback)(ssh_session session, ssh_channel channel,
                                                const char *term, int width, int height,
                                                int pxwidth, int pwheight, void *userdata);
typedef int (*ssh_channel_shell_request_callback)(ssh_session session, ssh_channel channel,
                                                  void *userdata);
typedef void (*ssh_channel_auth_agent_req_callback)(ssh_session session, ssh_channel channel,
                                                    void *userdata);
typedef void (*ssh_channel_x11_req_callback)(ssh_session session, ssh_channel channel,
                                             int single_connection, const char *auth_protocol,
                                             const char *auth_cookie, uint32_t screen_number,
                                             void *userdata);
typedef int (*ssh_channel_pty_window_change_callback)(ssh_session session, ssh_channel channel,
                                                      int width, int height, int pxwidth,
                                                      int pwheight, void *userdata);
typedef int (*ssh_channel_exec_request_callback)(ssh_session session, ssh_channel channel,
                                                 const char *command, void *userdata);
typedef int (*ssh_channel_env_request_callback)(ssh_session session, ssh_channel channel,
                                                const char *env_name, const char *env_value,
                                                void *userdata);
typedef int (*ssh_channel_subsystem_request_callback)(ssh_session session, ssh_channel channel,
                                                      const char *subsystem, void *userdata);
typedef int (*ssh_channel_write_wontblock_callback)(ssh_session session, ssh_channel channel,
                                                    uint32_t bytes, void *userdata);
typedef void (*ssh_channel_open_resp_callback)(ssh_session session, ssh_channel channel,
                                               bool is_success, void *userdata);
typedef void (*ssh_channel_request_resp_callback)(ssh_session session, ssh_channel channel,
                                                  void *userdata);

struct ssh_channel_callbacks_struct {
    size_t size;
    void *userdata;
    ssh_channel_data_callback channel_data_function;
    ssh_channel_eof_callback channel_eof_function;
    ssh_channel_close_callback channel_close_function;
    ssh_channel_signal_callback channel_signal_function;
    ssh_channel_exit_status_callback channel_exit_status_function;
    ssh_channel_exit_signal_callback channel_exit_signal_function;
    ssh_channel_pty_request_callback channel_pty_request_function;
    ssh_channel_shell_request_callback channel_shell_request_function;
    ssh_channel_auth_agent_req_callback channel_auth_agent_req_function;
    ssh_channel_x11_req_callback channel_x11_req_function;
    ssh_channel_pty_window_change_callback channel_pty_window_change_function;
    ssh_channel_exec_request_callback channel_exec_request_function;
    ssh_channel_env_request_callback channel_env_request_function;
    ssh_channel_subsystem_request_callback channel_subsystem_request_function;
    ssh_channel_write_wontblock_callback channel_write_wontblock_function;
    ssh_channel_open_resp_callback channel_open_response_function;
    ssh_channel_request_resp_callback channel_request_response_function;
    ...;
};
typedef struct ssh_channel_callbacks_struct *ssh_channel_callbacks;
int ssh_set_channel_callbacks(ssh_channel channel, ssh_channel_callbacks cb);
int ssh_add_channel_callbacks(ssh_channel channel, ssh_channel_callbacks cb);
int ssh_remove_channel_callbacks(ssh_channel channel, ssh_channel_callbacks cb);
