#!/usr/bin/env bash
# (kov) bad input against a live varlogkov: garbage, a 2 GB and a negative
# size prefix, every truncation of a Produce request, unknown API keys and
# versions, a RecordBatch with a wrong CRC-32C (CORRUPT_MESSAGE, nothing
# appended), Produce v0 (UNSUPPORTED_VERSION), ApiVersions v99 (KIP-511:
# error 35 and the full list), 2000 random frames with real API keys,
# pipelined requests answered in order, acks=0 not holding up the request
# behind it, a long-polling Fetch whose client goes away, 200 connections
# at once. Each gets an error response or a closed connection; the daemon
# serves kcat afterwards and its log has no sanitizer report (lib.sh).
. "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || { echo "kcat missing (apt-get install kcat)"; exit 77; }

cluster 1
kov_up
echo x | kcat -b "$B" -P -t bad -p 0 || fail "first produce failed"

/usr/bin/python3 - "$KOV_PORT" >"$T/py.out" 2>"$T/py.err" <<'EOF' || fail "$(tail -30 "$T/py.err")"
import random, socket, struct, sys, time
PORT = int(sys.argv[1])

def conn():
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(10)
    return s

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b

def response(s):
    h = recv_exact(s, 4)
    if h is None:
        return None
    return recv_exact(s, struct.unpack(">i", h)[0])

def closed(s):
    """True when the daemon closes the connection (no response)."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True

def frame(key, ver, corr, body, client=b"t"):
    b = struct.pack(">hhih", key, ver, corr, len(client)) + client + body
    return struct.pack(">i", len(b)) + b

def api_versions_ok():
    s = conn()
    s.sendall(frame(18, 0, 99, b""))
    r = response(s)
    s.close()
    assert r is not None and struct.unpack(">ih", r[:6]) == (99, 0), r

def kstr(x):
    return struct.pack(">h", len(x)) + x

def uvarint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7f) | 0x80]); v >>= 7
    return out + bytes([v])

def varint(v):
    return uvarint((v << 1) ^ (v >> 63))

_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

def batch(values):
    recs = b""
    for i, v in enumerate(values):
        r = b"\0" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        recs += varint(len(r)) + r
    after = struct.pack(">hiqqqhii", 0, len(values) - 1, 1000, 1000, -1, -1, -1, len(values)) + recs
    crc = crc32c(after)
    body = struct.pack(">ibI", 0, 2, crc) + after
    return struct.pack(">qi", 0, len(body)) + body

def produce(topic, part, records, ver=7, acks=-1):
    body = (struct.pack(">h", -1) if ver >= 3 else b"") + struct.pack(">hi", acks, 5000)
    body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", 1)
    body += struct.pack(">ii", part, len(records)) + records
    return body

def produce_err(r):
    # v7 response: [topic [partition err base ...]]
    ln = struct.unpack(">h", r[8:10])[0]
    return struct.unpack(">ih", r[10 + ln + 4:10 + ln + 10])[1]

def hwm(topic):
    s = conn()
    body = struct.pack(">i", -1) + struct.pack(">b", 0) + struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">i", 1) + struct.pack(">iq", 0, -1)
    s.sendall(frame(2, 2, 5, body))
    r = response(s)
    s.close()
    ln = struct.unpack(">h", r[12:14])[0]
    idx, err, ts, off = struct.unpack(">ihqq", r[14 + ln + 4:14 + ln + 26])
    assert err == 0, err
    return off

# garbage
for n in (1, 3, 4, 7, 100, 5000):
    s = conn(); s.sendall(bytes(random.getrandbits(8) for _ in range(n)))
    s.shutdown(socket.SHUT_WR)
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    s.close()
api_versions_ok()
print("garbage: closed, still serving")

# sizes: 2 GB, negative, too small
for size in (0x7fffffff, 0xffffffff, 0x80000000, 5, 0):
    s = conn(); s.sendall(struct.pack(">I", size) + b"\0" * 16)
    assert closed(s), size
    s.close()
api_versions_ok()
print("2 GB / negative / tiny size prefixes: connection closed")

# unknown API key, unsupported versions
s = conn(); s.sendall(frame(999, 0, 1, b"")); assert closed(s); s.close()
s = conn(); s.sendall(frame(3, 42, 1, b"")); assert closed(s); s.close()
s = conn(); s.sendall(frame(18, 99, 4, b""))
r = response(s); s.close()
corr, err, n = struct.unpack(">ihi", r[:10])
keys = [struct.unpack(">hhh", r[10 + 6 * i:16 + 6 * i]) for i in range(n)]
assert corr == 4 and err == 35 and (18, 0, 3) in keys and (0, 0, 8) in keys, (err, keys)
print("unknown key / Metadata v42: closed; ApiVersions v99: error 35 with", n, "APIs")

# Produce v0: UNSUPPORTED_VERSION, nothing appended
before = hwm(b"bad")
s = conn(); s.sendall(frame(0, 2, 8, produce(b"bad", 0, batch([b"v0"]), ver=2)))
r = response(s); s.close()
ln = struct.unpack(">h", r[8:10])[0]
assert struct.unpack(">ih", r[10 + ln + 4:10 + ln + 10])[1] == 35, r
# a good batch, then the same with a wrong CRC
s = conn(); s.sendall(frame(0, 7, 9, produce(b"bad", 0, batch([b"good1", b"good2"]))))
assert produce_err(response(s)) == 0
good = hwm(b"bad")
assert good == before + 2, (before, good)
b = bytearray(batch([b"evil"])); b[-2] ^= 0x40
s.sendall(frame(0, 7, 10, produce(b"bad", 0, bytes(b))))
assert produce_err(response(s)) == 2
assert hwm(b"bad") == good
print("Produce v2: error 35; bad CRC: error 2 (CORRUPT_MESSAGE), nothing appended")

# every truncation of a Produce request (correct size prefix, short body)
full = frame(0, 7, 11, produce(b"bad", 0, batch([b"trunc"])))[4:]
for cut in range(0, len(full)):
    s = conn(); s.sendall(struct.pack(">i", cut) + full[:cut])
    r = None
    try:
        r = response(s)
    except ConnectionResetError:
        pass
    assert r is None or produce_err(r) != 0 or cut == len(full), cut
    s.close()
assert hwm(b"bad") == good
print("every truncation of a Produce request: closed or refused, nothing appended")

# random frames with real API keys
rnd = random.Random(7)
for i in range(2000):
    key = rnd.choice([0, 1, 2, 3, 18, 19, 20, 21, 22, 32])
    ver = rnd.randint(0, 11)
    body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 60)))
    s = conn(); s.sendall(frame(key, ver, i, body))
    s.shutdown(socket.SHUT_WR)
    try:
        while s.recv(65536):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
api_versions_ok()
print("2000 random frames: still serving")

# pipelined: 600 requests in one write (more than a connection queues: it
# stops reading and resumes), answered in order
s = conn()
s.sendall(b"".join(frame(18 if i % 2 else 3, 0 if i % 2 else 1, 1000 + i,
                         b"" if i % 2 else struct.pack(">i", 1) + kstr(b"bad"))
                   for i in range(600)))
got = [struct.unpack(">i", response(s)[:4])[0] for _ in range(600)]
assert got == list(range(1000, 1600)), got
# acks=0 then ApiVersions on the same connection: the latter is answered
s.sendall(frame(0, 7, 2000, produce(b"bad", 0, batch([b"acks0"]), acks=0)) + frame(18, 0, 2001, b""))
assert struct.unpack(">i", response(s)[:4])[0] == 2001
s.close()
deadline = time.time() + 10
while hwm(b"bad") != good + 1:
    assert time.time() < deadline, "acks=0 record not appended"
    time.sleep(0.05)
print("600 pipelined requests answered in order; acks=0 gets no response and holds nothing up")

# a long-polling Fetch whose client leaves; then many connections at once
s = conn()
body = struct.pack(">iiiib", -1, 2000, 1, 1 << 20, 0) + struct.pack(">i", 1) + kstr(b"bad")
body += struct.pack(">i", 1) + struct.pack(">iqi", 0, good + 1, 1 << 20)
s.sendall(frame(1, 4, 3000, body))
s.close()
socks = [conn() for _ in range(200)]
for i, c in enumerate(socks):
    c.sendall(frame(18, 2, i, b""))
for i, c in enumerate(socks):
    assert struct.unpack(">i", response(c)[:4])[0] == i
    c.close()
time.sleep(2.5)  # the abandoned fetch's deadline passes
api_versions_ok()
print("abandoned long poll and 200 concurrent connections: fine")
EOF
cat "$T/py.out"

echo after | kcat -b "$B" -P -t bad -p 0 || fail "produce after the bad input failed"
kcat -b "$B" -C -t bad -p 0 -o -1 -e -f '%s\n' >"$T/last.txt" 2>/dev/null || fail "consume failed"
[ "$(cat "$T/last.txt")" = after ] || fail "last record is '$(cat "$T/last.txt")', expected 'after'"
log "after all of it, kcat produces and consumes"
kill -TERM "${DPID[kov]}"
wait "${DPID[kov]}" || fail "varlogkov did not exit cleanly on SIGTERM"
