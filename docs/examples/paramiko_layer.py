"""Quick start: paramiko code on pylibssh, against the quick start's SFTP server."""
import os

from pylibssh.compat import paramiko as compat

compat.install()  # from here on, `import paramiko` is the layer (for libraries too)
import paramiko  # noqa: E402

PORT = int(os.environ.get("PORT", 2222))
PASSWORD = os.environ.get("PASSWORD", "change me")

client = paramiko.SSHClient()
client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
client.connect("127.0.0.1", PORT, username="me", password=PASSWORD,
               look_for_keys=False, allow_agent=False)
sftp = client.open_sftp()
print(sorted(sftp.listdir(".")))
client.close()
