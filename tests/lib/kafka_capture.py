#!/usr/bin/python3
# kafka_capture.py TRACE NAME [TRACE NAME ...] - prints, as C string
# literals, the record sets of the Produce requests (v3-v8) a Kafka client
# sent, read from an strace of it. How test_kbatch's librdkafka batches
# were made (kcat against librdkafka's in-process mock cluster):
#
#   strace -f -e trace=sendmsg -xx -s 1000000 -o trace.lz4 \
#       kcat -b 127.0.0.1:1 -X test.mock.num.brokers=1 -P -t cap -p 0 -K : \
#       -z lz4 -H h1=v1 -H h2= -l in.txt
#   tests/lib/kafka_capture.py trace.lz4 lz4
#
# Only connections whose first request is ApiVersions are read (the mock
# broker's replies go through sendmsg too).
import re, sys, struct
def frames(path):
    bufs = {}
    for line in open(path):
        m = re.search(r'sendmsg\((\d+), \{msg_name=NULL.*?msg_iov=\[(.*?)\], msg_iovlen', line)
        if not m: continue
        data = b''.join(bytes.fromhex(x.replace('\\x', '')) for x in re.findall(r'iov_base="((?:\\x[0-9a-f]{2})*)"', m.group(2)))
        bufs.setdefault(m.group(1), bytearray()).extend(data)
    for fd, b in bufs.items():
        if len(b) < 6 or struct.unpack('>h', b[4:6])[0] != 18:
            continue  # not a client's connection (its first request is ApiVersions)
        off = 0
        while off + 4 <= len(b):
            n = struct.unpack('>i', b[off:off+4])[0]
            yield bytes(b[off+4:off+4+n]); off += 4 + n
def produce_records(path):
    for f in frames(path):
        key, ver = struct.unpack('>hh', f[:4])
        if key != 0: continue
        p = 8; cl = struct.unpack('>h', f[p:p+2])[0]; p += 2 + max(cl, 0)
        tl = struct.unpack('>h', f[p:p+2])[0]; p += 2 + max(tl, 0)
        p += 2 + 4
        nt = struct.unpack('>i', f[p:p+4])[0]; p += 4
        for _ in range(nt):
            sl = struct.unpack('>h', f[p:p+2])[0]; p += 2 + sl
            npart = struct.unpack('>i', f[p:p+4])[0]; p += 4
            for _ in range(npart):
                p += 4
                rl = struct.unpack('>i', f[p:p+4])[0]; p += 4
                yield ver, f[p:p+rl]; p += rl
for path, name in zip(sys.argv[1::2], sys.argv[2::2]):
    for ver, rec in produce_records(path):
        print("/* kcat 1.7.1 (librdkafka 2.0.2) Produce v%d, %s, %d bytes, attributes 0x%02x */" % (ver, name, len(rec), rec[22]))
        print("static const char s_rdk_%s[] =" % name)
        for i in range(0, len(rec), 24):
            print('    "' + ''.join('\\x%02x' % x for x in rec[i:i+24]) + '"')
        print("    ;")
