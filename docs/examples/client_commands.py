"""Client guide: commands on a host named in ~/.ssh/config (here "myserver")."""
import pylibssh

# host, port, user and key come from ~/.ssh/config; the host key must be in
# ~/.ssh/known_hosts (the default policy, "strict", refuses an unknown one)
with pylibssh.connect("myserver", timeout=30) as client:
    result = client.run("uname -s")               # output of any size, no deadlock
    print(result.exit_status, result.stdout.decode().strip())

    print(client.run("wc -c", input=b"x" * 100_000).stdout.decode().strip())

    try:
        client.run("echo oops >&2; exit 3", check=True)
    except pylibssh.ProcessError as exc:
        print("failed:", exc.result.exit_status, exc.result.stderr.decode().strip())

    process = client.exec("for i in 1 2 3; do echo line $i; done")   # streaming
    for _ in range(3):
        print(process.readline().decode().strip())
    print("exit status", process.wait())
