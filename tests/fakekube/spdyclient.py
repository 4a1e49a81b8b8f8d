"""A small SPDY/3.1 exec client (channel protocol v4.channel.k8s.io over SPDY streams), independent
of wb's, to check what an API server (the fake or a real one) sends: test_fakekube.py runs it
against the fake; `spdyclient.py URL TOKEN CA` prints the frames a real server sends.

Header blocks are written as zlib stored blocks without the SPDY preset dictionary (as wb does; a
reader given the dictionary needs it only when the stream says so); the server's header blocks
are not decoded."""
import json
import socket
import ssl
import struct
import sys
import urllib.parse
import zlib

CONTROL, SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = \
    0x8000, 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 1
NAMES = {SYN_STREAM: "SYN_STREAM", SYN_REPLY: "SYN_REPLY", RST_STREAM: "RST_STREAM", SETTINGS: "SETTINGS",
         PING: "PING", GOAWAY: "GOAWAY", HEADERS: "HEADERS", WINDOW_UPDATE: "WINDOW_UPDATE"}


def control(kind, flags, payload):
    return struct.pack(">HHI", CONTROL | 3, kind, (flags << 24) | len(payload)) + payload


def data(stream, flags, payload):
    return struct.pack(">II", stream & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


class HeaderWriter:
    """Header blocks as one zlib stream (SPDY's rule), each block ending with a sync flush."""

    def __init__(self):
        self.z = zlib.compressobj(level=0)

    def block(self, pairs):
        raw = struct.pack(">I", len(pairs))
        for k, v in pairs:
            raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
        return self.z.compress(raw) + self.z.flush(zlib.Z_SYNC_FLUSH)


def syn_stream(hw, stream, pairs, flags=0):
    return control(SYN_STREAM, flags, struct.pack(">IIH", stream, 0, 0) + hw.block(pairs))


def read_frames(buf):
    """Whole frames at the front of buf: ([(control, type_or_stream, flags, payload)], rest)."""
    out = []
    while len(buf) >= 8:
        w0, w1 = struct.unpack(">II", buf[:8])
        n = w1 & 0xFFFFFF
        if len(buf) < 8 + n:
            break
        payload, flags = bytes(buf[8:8 + n]), w1 >> 24
        if w0 & 0x80000000:
            out.append((True, (w0 & 0xFFFF), flags, payload))
        else:
            out.append((False, w0 & 0x7FFFFFFF, flags, payload))
        buf = buf[8 + n:]
    return out, buf


def connect(url, token=None, ca=None, protocols=("v4.channel.k8s.io",), timeout=30):
    """POSTs the upgrade; returns (socket, status, headers dict of lists, rest of the bytes read)."""
    u = urllib.parse.urlsplit(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    s = socket.create_connection((u.hostname, port), timeout=timeout)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca) if ca else ssl._create_unverified_context()
        ctx.set_alpn_protocols(["http/1.1"])
        s = ctx.wrap_socket(s, server_hostname=u.hostname)
    head = [f"POST {u.path}?{u.query} HTTP/1.1", f"Host: {u.netloc}", "Connection: Upgrade",
            "Upgrade: SPDY/3.1", "Content-Length: 0"]
    head += [f"X-Stream-Protocol-Version: {p}" for p in protocols]
    if token:
        head.append(f"Authorization: Bearer {token}")
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    top, _, rest = buf.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return s, status, headers, rest


def run(url, token=None, ca=None, stdin=None, streams=("error", "stdout", "stderr"), ping=False, timeout=30):
    """One exec. Returns a dict: status, headers, body (a refusal's), frames (the server's frames in
    order, as (name, stream, flags, length)), out/err (bytes by stream type), exit (the error
    stream's JSON or None)."""
    s, status, headers, rest = connect(url, token, ca, timeout=timeout)
    res = {"status": status, "headers": headers, "frames": [], "out": b"", "err": b"", "exit": None,
           "body": b""}
    if status != 101:
        s.settimeout(2)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except OSError:
            pass
        res["body"] = rest
        s.close()
        return res
    hw = HeaderWriter()
    ids = {}
    out = b""
    for i, kind in enumerate(streams):
        ids[kind] = 1 + 2 * i
        out += syn_stream(hw, ids[kind], [("streamtype", kind)])
    if "stdin" in ids and stdin is not None:
        for i in range(0, len(stdin), 1 << 16):
            out += data(ids["stdin"], 0, stdin[i:i + (1 << 16)])
        out += data(ids["stdin"], FLAG_FIN, b"")
    if ping:
        out += control(PING, 0, struct.pack(">I", 1))
    s.sendall(out)
    by_id = {v: k for k, v in ids.items()}
    status_text = b""
    buf = rest
    while True:
        frames, buf = read_frames(buf)
        for is_control, t, flags, payload in frames:
            if is_control:
                sid = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF if t in (
                    SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE) and len(payload) >= 4 else None
                res["frames"].append((NAMES.get(t, str(t)), by_id.get(sid, sid), flags, len(payload)))
                if t == PING and payload != struct.pack(">I", 1):
                    s.sendall(control(PING, 0, payload))
            else:
                name = by_id.get(t, t)
                res["frames"].append(("DATA", name, flags, len(payload)))
                if name == "stdout":
                    res["out"] += payload
                elif name == "stderr":
                    res["err"] += payload
                elif name == "error":
                    status_text += payload
        try:
            chunk = s.recv(1 << 16)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        buf += chunk
    s.close()
    if status_text:
        res["exit"] = json.loads(status_text)
    return res


def squeeze(frames):
    """Consecutive DATA frames of one stream without flags as one entry (their count varies)."""
    out = []
    for f in frames:
        if out and f[0] == "DATA" and f[2] == 0 and out[-1][0] == "DATA" and out[-1][1] == f[1] and out[-1][2] == 0:
            continue
        out.append(f)
    return [(n, s, fl) for n, s, fl, _ in out]


if __name__ == "__main__":
    r = run(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None, sys.argv[3] if len(sys.argv) > 3 else None,
            stdin=b"hello\n" if "stdin=1" in sys.argv[1] else None,
            streams=("error", "stdin", "stdout", "stderr") if "stdin=1" in sys.argv[1] else ("error", "stdout", "stderr"),
            ping=True)
    print(r["status"], {k: v for k, v in r["headers"].items() if k.startswith("x-") or k in ("upgrade", "connection")})
    for f in squeeze(r["frames"]):
        print(" ", f)
    print("out", r["out"][:200], "err", r["err"][:200], "exit", r["exit"], "body", r["body"][:300])
