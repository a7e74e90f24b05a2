"""Server guide: who may log in (keys and hashed passwords) and sshd's limits."""
import hashlib
import hmac
import os

import pylibssh

PORT = int(os.environ.get("PORT", 2222))


def scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)


# per user: the public keys allowed, and a salted password hash (never the password itself)
KEYS = {"alice": pylibssh.load_authorized_keys(os.path.expanduser("~/.ssh/authorized_keys"))}
SALT = os.urandom(16)
PASSWORDS = {"bob": (SALT, scrypt(os.environ.get("BOB_PASSWORD", "correct horse"), SALT))}

if not os.path.exists("host_key"):
    pylibssh.Key.generate("ed25519").write_private_file("host_key")
server = pylibssh.create_server(
    host_keys=["host_key"],
    auth_methods=["publickey", "password"],
    max_auth_tries=3,          # sshd's MaxAuthTries: then the client is disconnected
    login_grace_time="30s",    # LoginGraceTime: log in within 30 s or be dropped
    max_startups="10:30:60",   # MaxStartups: shed unauthenticated connections under a flood
    max_sessions=4,            # MaxSessions: channels a connection may have open at once
    idle_timeout="15m",        # drop a connection silent both ways for 15 minutes
)


@server.on("connection")
def on_connection(session):
    @session.on("auth")
    def on_auth(message):
        user = message.auth_user
        if message.subtype == "publickey":
            # asked twice: once without a signature (answered "this key would do"), then
            # signed; only a request whose signature libssh verified logs in
            if any(message.compare_public_key(key) for key in KEYS.get(user, ())):
                return message.reply_auth_success()
        elif message.subtype == "password" and user in PASSWORDS:
            salt, stored = PASSWORDS[user]
            if hmac.compare_digest(scrypt(message.auth_password, salt), stored):
                return message.reply_auth_success()
        message.reply_default()  # a failure: counted, and answered after sshd's delay

    @session.on("channel")
    def on_channel(channel):
        @channel.on("exec")
        def on_exec(message):
            message.reply_success()
            channel.write(f"hello {session.auth_user}, you asked for {message.exec_command}\n")
            channel.send_exit_status(0)
            channel.close()


server.listen(PORT, "127.0.0.1")
print("listening on port", server.port, flush=True)
server.serve_forever()
