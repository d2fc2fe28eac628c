"""notify_listen.py SOCKET OUT: a stand-in for systemd's notification socket.

Binds the datagram socket SOCKET (what a unit's $NOTIFY_SOCKET names), and
appends every notification to OUT as "PID<TAB>LINE" for each line of it, the
PID taken from the sender's credentials as systemd does, a notification's
lines in one write (a reader never sees READY=1 without the STATUS line
sent with it). Runs until killed.
"""
import os
import socket
import struct
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
creds = struct.calcsize("3i")
fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(creds))
    pid = 0
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("3i", data[:creds])[0]
    lines = msg.decode("utf-8", "replace").splitlines()
    os.write(fd, "".join("%d\t%s\n" % (pid, line) for line in lines).encode())
