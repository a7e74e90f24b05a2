/* Key (PKI) declarations; upstream they live in <libssh/libssh.h>. */

enum ssh_keytypes_e {
    SSH_KEYTYPE_UNKNOWN, SSH_KEYTYPE_DSS, SSH_KEYTYPE_RSA, SSH_KEYTYPE_RSA1, SSH_KEYTYPE_ECDSA,
    SSH_KEYTYPE_ED25519, SSH_KEYTYPE_DSS_CERT01, SSH_KEYTYPE_RSA_CERT01,
    SSH_KEYTYPE_ECDSA_P256, SSH_KEYTYPE_ECDSA_P384, SSH_KEYTYPE_ECDSA_P521,
    SSH_KEYTYPE_ECDSA_P256_CERT01, SSH_KEYTYPE_ECDSA_P384_CERT01, SSH_KEYTYPE_ECDSA_P521_CERT01,
    SSH_KEYTYPE_ED25519_CERT01, SSH_KEYTYPE_SK_ECDSA, SSH_KEYTYPE_SK_ECDSA_CERT01,
    SSH_KEYTYPE_SK_ED25519, SSH_KEYTYPE_SK_ED25519_CERT01, ...
};

enum ssh_keycmp_e { SSH_KEY_CMP_PUBLIC, SSH_KEY_CMP_PRIVATE, SSH_KEY_CMP_CERTIFICATE, ... };

enum ssh_file_format_e { SSH_FILE_FORMAT_DEFAULT, SSH_FILE_FORMAT_OPENSSH, SSH_FILE_FORMAT_PEM, ... };

enum ssh_pki_options_e { SSH_PKI_OPTION_RSA_KEY_SIZE, ... };

ssh_key ssh_key_new(void);
void ssh_key_free(ssh_key key);
enum ssh_keytypes_e ssh_key_type(const ssh_key key);
const char *ssh_key_type_to_char(enum ssh_keytypes_e type);
enum ssh_keytypes_e ssh_key_type_from_name(const char *name);
int ssh_key_is_public(const ssh_key k);
int ssh_key_is_private(const ssh_key k);
int ssh_key_cmp(const ssh_key k1, const ssh_key k2, enum ssh_keycmp_e what);
ssh_key ssh_key_dup(const ssh_key key);
const char *ssh_pki_key_ecdsa_name(const ssh_key key);

ssh_pki_ctx ssh_pki_ctx_new(void);
void ssh_pki_ctx_free(ssh_pki_ctx context);
int ssh_pki_ctx_options_set(ssh_pki_ctx context, enum ssh_pki_options_e option,
                            const void *value);
int ssh_pki_generate_key(enum ssh_keytypes_e type, ssh_pki_ctx pki_context, ssh_key *pkey);

int ssh_pki_import_privkey_base64(const char *b64_key, const char *passphrase,
                                  ssh_auth_callback auth_fn, void *auth_data, ssh_key *pkey);
int ssh_pki_import_privkey_file(const char *filename, const char *passphrase,
                                ssh_auth_callback auth_fn, void *auth_data, ssh_key *pkey);
int ssh_pki_export_privkey_base64_format(const ssh_key privkey, const char *passphrase,
                                         ssh_auth_callback auth_fn, void *auth_data,
                                         char **b64_key, enum ssh_file_format_e format);
int ssh_pki_import_pubkey_base64(const char *b64_key, enum ssh_keytypes_e type, ssh_key *pkey);
int ssh_pki_import_pubkey_file(const char *filename, ssh_key *pkey);
int ssh_pki_import_cert_base64(const char *b64_cert, enum ssh_keytypes_e type, ssh_key *pkey);
int ssh_pki_export_privkey_to_pubkey(const ssh_key privkey, ssh_key *pkey);
int ssh_pki_export_pubkey_base64(const ssh_key key, char **b64_key);
int ssh_get_publickey_hash(const ssh_key key, enum ssh_publickey_hash_type type,
                           unsigned char **hash, size_t *hlen);
void ssh_clean_pubkey_hash(unsigned char **hash);
char *ssh_get_fingerprint_hash(enum ssh_publickey_hash_type type, unsigned char *hash,
                               size_t len);
