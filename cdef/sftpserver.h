/* SFTP server declarations: upstream these sit in <libssh/sftp.h> under WITH_SERVER and in
 * <libssh/sftpserver.h>. The extension defines WITH_SERVER before including sftp.h; without it
 * the C compiles against implicit declarations and returned pointers are truncated. */

struct sftp_client_message_struct {
    sftp_session sftp;
    uint8_t type;
    uint32_t id;
    char *filename;
    uint32_t flags;
    sftp_attributes attr;
    ssh_string handle;
    uint64_t offset;
    uint32_t len;
    int attr_num;
    ssh_string data;
    char *str_data;
    char *submessage;
    ...;
};

sftp_session sftp_server_new(ssh_session session, ssh_channel chan);
int sftp_server_init(sftp_session sftp);
void sftp_server_free(sftp_session sftp);

sftp_client_message sftp_get_client_message(sftp_session sftp);
void sftp_client_message_free(sftp_client_message msg);
uint8_t sftp_client_message_get_type(sftp_client_message msg);
const char *sftp_client_message_get_filename(sftp_client_message msg);
void sftp_client_message_set_filename(sftp_client_message msg, const char *newname);
const char *sftp_client_message_get_data(sftp_client_message msg);
uint32_t sftp_client_message_get_flags(sftp_client_message msg);
const char *sftp_client_message_get_submessage(sftp_client_message msg);
int sftp_send_client_message(sftp_session sftp, sftp_client_message msg);

int sftp_reply_name(sftp_client_message msg, const char *name, sftp_attributes attr);
int sftp_reply_handle(sftp_client_message msg, ssh_string handle);
ssh_string sftp_handle_alloc(sftp_session sftp, void *info);
int sftp_reply_attr(sftp_client_message msg, sftp_attributes attr);
void *sftp_handle(sftp_session sftp, ssh_string handle);
int sftp_reply_status(sftp_client_message msg, uint32_t status, const char *message);
int sftp_reply_names_add(sftp_client_message msg, const char *file, const char *longname,
                         sftp_attributes attr);
int sftp_reply_names(sftp_client_message msg);
int sftp_reply_data(sftp_client_message msg, const void *data, int len);
void sftp_handle_remove(sftp_session sftp, void *handle);
