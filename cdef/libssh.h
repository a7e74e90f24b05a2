/* Declarations from <libssh/libssh.h> (core: sessions, channels, auth, known hosts, events).
 * cffi reads this file with ffi.cdef(); "..." lets the compiler supply values and layouts from
 * the real header, so only what pylibssh uses is declared. Key functions are in pki.h. */

typedef int socket_t;
typedef int... mode_t;

typedef struct ssh_agent_struct *ssh_agent;
typedef struct ssh_buffer_struct *ssh_buffer;
typedef struct ssh_channel_struct *ssh_channel;
typedef struct ssh_message_struct *ssh_message;
typedef struct ssh_key_struct *ssh_key;
typedef struct ssh_session_struct *ssh_session;
typedef struct ssh_string_struct *ssh_string;
typedef struct ssh_event_struct *ssh_event;
typedef struct ssh_connector_struct *ssh_connector;
typedef struct ssh_pki_ctx_struct *ssh_pki_ctx;

/* asks the application for a passphrase or PIN */
typedef int (*ssh_auth_callback)(const char *prompt, char *buf, size_t len, int echo,
                                 int verify, void *userdata);

struct ssh_counter_struct {
    uint64_t in_bytes;
    uint64_t out_bytes;
    uint64_t in_packets;
    uint64_t out_packets;
};
typedef struct ssh_counter_struct *ssh_counter;

/* return codes */
#define SSH_OK ...
#define SSH_ERROR ...
#define SSH_AGAIN ...
#define SSH_EOF ...

/* session status flags (ssh_get_status, ssh_get_poll_flags) */
#define SSH_CLOSED ...
#define SSH_READ_PENDING ...
#define SSH_CLOSED_ERROR ...
#define SSH_WRITE_PENDING ...

/* auth method bits */
#define SSH_AUTH_METHOD_UNKNOWN ...
#define SSH_AUTH_METHOD_NONE ...
#define SSH_AUTH_METHOD_PASSWORD ...
#define SSH_AUTH_METHOD_PUBLICKEY ...
#define SSH_AUTH_METHOD_HOSTBASED ...
#define SSH_AUTH_METHOD_INTERACTIVE ...
#define SSH_AUTH_METHOD_GSSAPI_MIC ...
#define SSH_AUTH_METHOD_GSSAPI_KEYEX ...

#define SSH_ADDRSTRLEN ...

enum ssh_kex_types_e {
    SSH_KEX, SSH_HOSTKEYS, SSH_CRYPT_C_S, SSH_CRYPT_S_C, SSH_MAC_C_S, SSH_MAC_S_C,
    SSH_COMP_C_S, SSH_COMP_S_C, SSH_LANG_C_S, SSH_LANG_S_C, ...
};

enum ssh_auth_e {
    SSH_AUTH_SUCCESS, SSH_AUTH_DENIED, SSH_AUTH_PARTIAL, SSH_AUTH_INFO, SSH_AUTH_AGAIN,
    SSH_AUTH_ERROR, ...
};

enum ssh_requests_e {
    SSH_REQUEST_AUTH, SSH_REQUEST_CHANNEL_OPEN, SSH_REQUEST_CHANNEL, SSH_REQUEST_SERVICE,
    SSH_REQUEST_GLOBAL, ...
};

enum ssh_channel_type_e {
    SSH_CHANNEL_UNKNOWN, SSH_CHANNEL_SESSION, SSH_CHANNEL_DIRECT_TCPIP,
    SSH_CHANNEL_FORWARDED_TCPIP, SSH_CHANNEL_X11, SSH_CHANNEL_AUTH_AGENT, ...
};

enum ssh_channel_requests_e {
    SSH_CHANNEL_REQUEST_UNKNOWN, SSH_CHANNEL_REQUEST_PTY, SSH_CHANNEL_REQUEST_EXEC,
    SSH_CHANNEL_REQUEST_SHELL, SSH_CHANNEL_REQUEST_ENV, SSH_CHANNEL_REQUEST_SUBSYSTEM,
    SSH_CHANNEL_REQUEST_WINDOW_CHANGE, SSH_CHANNEL_REQUEST_X11, ...
};

enum ssh_global_requests_e {
    SSH_GLOBAL_REQUEST_UNKNOWN, SSH_GLOBAL_REQUEST_TCPIP_FORWARD,
    SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD, SSH_GLOBAL_REQUEST_KEEPALIVE,
    SSH_GLOBAL_REQUEST_NO_MORE_SESSIONS, ...
};

enum ssh_publickey_state_e {
    SSH_PUBLICKEY_STATE_ERROR, SSH_PUBLICKEY_STATE_NONE, SSH_PUBLICKEY_STATE_VALID,
    SSH_PUBLICKEY_STATE_WRONG, ...
};

enum ssh_known_hosts_e {
    SSH_KNOWN_HOSTS_ERROR, SSH_KNOWN_HOSTS_NOT_FOUND, SSH_KNOWN_HOSTS_UNKNOWN,
    SSH_KNOWN_HOSTS_OK, SSH_KNOWN_HOSTS_CHANGED, SSH_KNOWN_HOSTS_OTHER, ...
};

enum ssh_error_types_e { SSH_NO_ERROR, SSH_REQUEST_DENIED, SSH_FATAL, SSH_EINTR, ... };

enum ssh_publickey_hash_type {
    SSH_PUBLICKEY_HASH_SHA1, SSH_PUBLICKEY_HASH_MD5, SSH_PUBLICKEY_HASH_SHA256, ...
};

#define SSH_LOG_NONE ...
#define SSH_LOG_WARN ...
#define SSH_LOG_INFO ...
#define SSH_LOG_DEBUG ...
#define SSH_LOG_TRACE ...

enum ssh_address_family_options_e {
    SSH_ADDRESS_FAMILY_ANY, SSH_ADDRESS_FAMILY_INET, SSH_ADDRESS_FAMILY_INET6, ...
};

enum ssh_options_e {
    SSH_OPTIONS_HOST, SSH_OPTIONS_PORT, SSH_OPTIONS_PORT_STR, SSH_OPTIONS_FD, SSH_OPTIONS_USER,
    SSH_OPTIONS_SSH_DIR, SSH_OPTIONS_IDENTITY, SSH_OPTIONS_ADD_IDENTITY, SSH_OPTIONS_KNOWNHOSTS,
    SSH_OPTIONS_TIMEOUT, SSH_OPTIONS_TIMEOUT_USEC, SSH_OPTIONS_LOG_VERBOSITY,
    SSH_OPTIONS_LOG_VERBOSITY_STR, SSH_OPTIONS_CIPHERS_C_S, SSH_OPTIONS_CIPHERS_S_C,
    SSH_OPTIONS_COMPRESSION_C_S, SSH_OPTIONS_COMPRESSION_S_C, SSH_OPTIONS_PROXYCOMMAND,
    SSH_OPTIONS_BINDADDR, SSH_OPTIONS_STRICTHOSTKEYCHECK, SSH_OPTIONS_COMPRESSION,
    SSH_OPTIONS_COMPRESSION_LEVEL, SSH_OPTIONS_KEY_EXCHANGE, SSH_OPTIONS_HOSTKEYS,
    SSH_OPTIONS_GSSAPI_SERVER_IDENTITY, SSH_OPTIONS_GSSAPI_CLIENT_IDENTITY,
    SSH_OPTIONS_GSSAPI_DELEGATE_CREDENTIALS, SSH_OPTIONS_HMAC_C_S, SSH_OPTIONS_HMAC_S_C,
    SSH_OPTIONS_PASSWORD_AUTH, SSH_OPTIONS_PUBKEY_AUTH, SSH_OPTIONS_KBDINT_AUTH,
    SSH_OPTIONS_GSSAPI_AUTH, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, SSH_OPTIONS_NODELAY,
    SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, SSH_OPTIONS_PROCESS_CONFIG, SSH_OPTIONS_REKEY_DATA,
    SSH_OPTIONS_REKEY_TIME, SSH_OPTIONS_RSA_MIN_SIZE, SSH_OPTIONS_IDENTITY_AGENT,
    SSH_OPTIONS_IDENTITIES_ONLY, SSH_OPTIONS_CONTROL_MASTER, SSH_OPTIONS_CONTROL_PATH,
    SSH_OPTIONS_CERTIFICATE, SSH_OPTIONS_PROXYJUMP, SSH_OPTIONS_PROXYJUMP_CB_LIST_APPEND,
    SSH_OPTIONS_PKI_CONTEXT, SSH_OPTIONS_ADDRESS_FAMILY, SSH_OPTIONS_GSSAPI_KEY_EXCHANGE,
    SSH_OPTIONS_GSSAPI_KEY_EXCHANGE_ALGS, SSH_OPTIONS_NEXT_IDENTITY, ...
};

enum ssh_connector_flags_e {
    SSH_CONNECTOR_STDOUT, SSH_CONNECTOR_STDINOUT, SSH_CONNECTOR_STDERR, SSH_CONNECTOR_BOTH, ...
};

struct ssh_knownhosts_entry {
    char *hostname;
    char *unparsed;
    ssh_key publickey;
    char *comment;
    ...;
};

/* library */
int ssh_init(void);
int ssh_finalize(void);
const char *ssh_version(int req_version);
const char *ssh_copyright(void);
int ssh_set_log_level(int level);
int ssh_get_log_level(void);
const char *ssh_get_supported_methods(enum ssh_kex_types_e type);
int ssh_get_random(void *where, int len, int strong);

/* sessions */
ssh_session ssh_new(void);
void ssh_free(ssh_session session);
int ssh_options_set(ssh_session session, enum ssh_options_e type, const void *value);
int ssh_options_get(ssh_session session, enum ssh_options_e type, char **value);
int ssh_options_get_port(ssh_session session, unsigned int *port_target);
int ssh_options_parse_config(ssh_session session, const char *filename);
int ssh_options_copy(ssh_session src, ssh_session *dest);
int ssh_connect(ssh_session session);
void ssh_disconnect(ssh_session session);
void ssh_silent_disconnect(ssh_session session);
int ssh_session_set_disconnect_message(ssh_session session, const char *message);
const char *ssh_get_disconnect_message(ssh_session session);
const char *ssh_get_error(void *error);
int ssh_get_error_code(void *error);
socket_t ssh_get_fd(ssh_session session);
void ssh_set_blocking(ssh_session session, int blocking);
int ssh_is_blocking(ssh_session session);
int ssh_is_connected(ssh_session session);
int ssh_get_status(ssh_session session);
int ssh_get_poll_flags(ssh_session session);
int ssh_blocking_flush(ssh_session session, int timeout);
void ssh_set_fd_toread(ssh_session session);
void ssh_set_fd_towrite(ssh_session session);
void ssh_set_fd_except(ssh_session session);
int ssh_get_version(ssh_session session);
int ssh_get_openssh_version(ssh_session session);
char *ssh_get_issue_banner(ssh_session session);
const char *ssh_get_clientbanner(ssh_session session);
const char *ssh_get_serverbanner(ssh_session session);
const char *ssh_get_kex_algo(ssh_session session);
const char *ssh_get_cipher_in(ssh_session session);
const char *ssh_get_cipher_out(ssh_session session);
const char *ssh_get_hmac_in(ssh_session session);
const char *ssh_get_hmac_out(ssh_session session);
int ssh_get_server_publickey(ssh_session session, ssh_key *key);
int ssh_send_ignore(ssh_session session, const char *data);
int ssh_send_debug(ssh_session session, const char *message, int always_display);
int ssh_request_no_more_sessions(ssh_session session);
int ssh_set_agent_channel(ssh_session session, ssh_channel channel);
int ssh_set_agent_socket(ssh_session session, socket_t fd);
void ssh_set_counters(ssh_session session, ssh_counter scounter, ssh_counter rcounter);

/* user authentication (client) */
int ssh_userauth_none(ssh_session session, const char *username);
int ssh_userauth_list(ssh_session session, const char *username);
int ssh_userauth_try_publickey(ssh_session session, const char *username, const ssh_key pubkey);
int ssh_userauth_publickey(ssh_session session, const char *username, const ssh_key privkey);
int ssh_userauth_agent(ssh_session session, const char *username);
int ssh_userauth_publickey_auto(ssh_session session, const char *username, const char *passphrase);
int ssh_userauth_password(ssh_session session, const char *username, const char *password);
int ssh_userauth_kbdint(ssh_session session, const char *user, const char *submethods);
const char *ssh_userauth_kbdint_getinstruction(ssh_session session);
const char *ssh_userauth_kbdint_getname(ssh_session session);
int ssh_userauth_kbdint_getnprompts(ssh_session session);
const char *ssh_userauth_kbdint_getprompt(ssh_session session, unsigned int i, char *echo);
int ssh_userauth_kbdint_getnanswers(ssh_session session);
const char *ssh_userauth_kbdint_getanswer(ssh_session session, unsigned int i);
int ssh_userauth_kbdint_setanswer(ssh_session session, unsigned int i, const char *answer);

/* known hosts */
void ssh_knownhosts_entry_free(struct ssh_knownhosts_entry *entry);
int ssh_known_hosts_parse_line(const char *host, const char *line,
                               struct ssh_knownhosts_entry **entry);
enum ssh_known_hosts_e ssh_session_has_known_hosts_entry(ssh_session session);
int ssh_session_export_known_hosts_entry(ssh_session session, char **pentry_string);
int ssh_session_update_known_hosts(ssh_session session);
enum ssh_known_hosts_e ssh_session_get_known_hosts_entry(ssh_session session,
                                                         struct ssh_knownhosts_entry **pentry);
enum ssh_known_hosts_e ssh_session_is_known_server(ssh_session session);

/* channels */
ssh_channel ssh_channel_new(ssh_session session);
void ssh_channel_free(ssh_channel channel);
ssh_session ssh_channel_get_session(ssh_channel channel);
int ssh_channel_open_session(ssh_channel channel);
int ssh_channel_open_forward(ssh_channel channel, const char *remotehost, int remoteport,
                             const char *sourcehost, int localport);
int ssh_channel_open_forward_unix(ssh_channel channel, const char *remotepath,
                                  const char *sourcehost, int localport);
int ssh_channel_open_auth_agent(ssh_channel channel);
int ssh_channel_open_x11(ssh_channel channel, const char *orig_addr, int orig_port);
int ssh_channel_close(ssh_channel channel);
int ssh_channel_send_eof(ssh_channel channel);
int ssh_channel_is_closed(ssh_channel channel);
int ssh_channel_is_eof(ssh_channel channel);
int ssh_channel_is_open(ssh_channel channel);
void ssh_channel_set_blocking(ssh_channel channel, int blocking);
void ssh_channel_set_counter(ssh_channel channel, ssh_counter counter);
int ssh_channel_poll(ssh_channel channel, int is_stderr);
int ssh_channel_poll_timeout(ssh_channel channel, int timeout, int is_stderr);
int ssh_channel_read(ssh_channel channel, void *dest, uint32_t count, int is_stderr);
int ssh_channel_read_timeout(ssh_channel channel, void *dest, uint32_t count, int is_stderr,
                             int timeout_ms);
int ssh_channel_read_nonblocking(ssh_channel channel, void *dest, uint32_t count, int is_stderr);
int ssh_channel_write(ssh_channel channel, const void *data, uint32_t len);
int ssh_channel_write_stderr(ssh_channel channel, const void *data, uint32_t len);
uint32_t ssh_channel_window_size(ssh_channel channel);
int ssh_channel_get_exit_state(ssh_channel channel, uint32_t *pexit_code, char **pexit_signal,
                               int *pcore_dumped);
int ssh_channel_request_env(ssh_channel channel, const char *name, const char *value);
int ssh_channel_request_exec(ssh_channel channel, const char *cmd);
int ssh_channel_request_pty(ssh_channel channel);
int ssh_channel_request_pty_size(ssh_channel channel, const char *term, int cols, int rows);
int ssh_channel_request_pty_size_modes(ssh_channel channel, const char *term, int cols, int rows,
                                       const unsigned char *modes, size_t modes_len);
int ssh_channel_change_pty_size(ssh_channel channel, int cols, int rows);
int ssh_channel_request_shell(ssh_channel channel);
int ssh_channel_request_send_signal(ssh_channel channel, const char *signum);
int ssh_channel_request_send_break(ssh_channel channel, uint32_t length);
int ssh_channel_request_sftp(ssh_channel channel);
int ssh_channel_request_subsystem(ssh_channel channel, const char *subsystem);
int ssh_channel_request_x11(ssh_channel channel, int single_connection, const char *protocol,
                            const char *cookie, int screen_number);
int ssh_channel_request_auth_agent(ssh_channel channel);
ssh_channel ssh_channel_accept_x11(ssh_channel channel, int timeout_ms);

/* port forwarding (client side of tcpip-forward) */
int ssh_channel_listen_forward(ssh_session session, const char *address, int port,
                               int *bound_port);
int ssh_channel_cancel_forward(ssh_session session, const char *address, int port);
ssh_channel ssh_channel_open_forward_port(ssh_session session, int timeout_ms,
                                          int *destination_port, char **originator,
                                          int *originator_port);

/* messages (server side, and global requests on the client) */
ssh_message ssh_message_get(ssh_session session);
int ssh_message_type(ssh_message msg);
int ssh_message_subtype(ssh_message msg);
void ssh_message_free(ssh_message msg);
ssh_channel ssh_message_channel_request_open_reply_accept(ssh_message msg);
int ssh_message_channel_request_open_reply_accept_channel(ssh_message msg, ssh_channel chan);
int ssh_message_channel_request_reply_success(ssh_message msg);

/* events: poll several sessions and fds */
ssh_event ssh_event_new(void);
int ssh_event_add_session(ssh_event event, ssh_session session);
int ssh_event_add_connector(ssh_event event, ssh_connector connector);
int ssh_event_dopoll(ssh_event event, int timeout);
int ssh_event_remove_session(ssh_event event, ssh_session session);
int ssh_event_remove_connector(ssh_event event, ssh_connector connector);
void ssh_event_free(ssh_event event);

/* connectors: move data between a channel and an fd inside libssh */
ssh_connector ssh_connector_new(ssh_session session);
void ssh_connector_free(ssh_connector connector);
int ssh_connector_set_in_channel(ssh_connector connector, ssh_channel channel,
                                 enum ssh_connector_flags_e flags);
int ssh_connector_set_out_channel(ssh_connector connector, ssh_channel channel,
                                  enum ssh_connector_flags_e flags);
void ssh_connector_set_in_fd(ssh_connector connector, socket_t fd);
void ssh_connector_set_out_fd(ssh_connector connector, socket_t fd);

/* strings and buffers */
ssh_string ssh_string_new(size_t size);
ssh_string ssh_string_from_char(const char *what);
ssh_string ssh_string_from_data(const void *data, size_t len);
void ssh_string_free(ssh_string str);
size_t ssh_string_len(ssh_string str);
void *ssh_string_data(ssh_string str);
const char *ssh_string_get_char(ssh_string str);
char *ssh_string_to_char(ssh_string str);
void ssh_string_free_char(char *s);
void ssh_string_burn(ssh_string str);
ssh_buffer ssh_buffer_new(void);
void ssh_buffer_free(ssh_buffer buffer);
void *ssh_buffer_get(ssh_buffer buffer);
uint32_t ssh_buffer_get_len(ssh_buffer buffer);
int ssh_buffer_add_data(ssh_buffer buffer, const void *data, uint32_t len);
