"""notify_listen.py SOCKET OUT: a stand-in for systemd's notification socket.

Binds the datagram socket SOCKET (what a unit's $NOTIFY_SOCKET names), and
appends every notification to OUT as "PID<TAB>LINE" for each line of it, the
PID taken from the sender's credentials as systemd does. Runs until killed.
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
with open(out, "a", buffering=1) as f:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(creds))
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", data[:creds])[0]
        for line in msg.decode("utf-8", "replace").splitlines():
            f.write("%d\t%s\n" % (pid, line))
