"""pods/exec over SPDY/3.1: the channel protocol v4.channel.k8s.io carried by SPDY streams, as a real API
server passes it through to the kubelet. What the fake sends was read off the kit (kube-apiserver and
kubelet 1.32, tests/fakekube/spdyclient.py against both):

- the upgrade is a POST with `Upgrade: SPDY/3.1` and one or more `X-Stream-Protocol-Version` headers; the
  answer is 101 with `X-Stream-Protocol-Version: v4.channel.k8s.io`; without the header 400 text/plain
  "unable to upgrade: X-Stream-Protocol-Version is required", with none the server speaks 403 text/plain
  (the message twice, as the kubelet writes it) and `X-Accepted-Stream-Protocol-Versions` headers;
- the client opens one stream per channel (SYN_STREAM with header `streamtype`: error, stdin, stdout,
  stderr, resize); each gets a SYN_REPLY; PINGs are answered with the same id;
- output goes as DATA frames on the stdout/stderr streams, each ended by an empty DATA frame with FIN;
  then the status JSON as DATA on the error stream (no FIN), RST_STREAM CANCEL on error and stdin,
  GOAWAY, and the connection closes.

Header blocks are one zlib stream per direction. The fake reads blocks written without SPDY's preset
dictionary (as wb writes them: stored blocks and a sync flush); a client whose blocks need the
dictionary gets GOAWAY PROTOCOL_ERROR. The fake's own blocks are compressed without it.
"""
import asyncio
import struct
import zlib

from aiohttp import web
from multidict import CIMultiDict

from kutil import jdump

PROTOCOLS = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 1
CANCEL, PROTOCOL_ERROR = 5, 1
STREAM_WAIT = 30.0       # the kubelet's wait for the client's streams
PAUSE_AT = 4 << 20       # stop reading the socket while this much stdin waits for the command
RESUME_AT = 1 << 20


def negotiate(request):
    """None when the client offers a protocol the fake speaks (request["spdy_protocol"] is set), else the
    refusal to send."""
    offered = []
    for v in request.headers.getall("X-Stream-Protocol-Version", []):
        offered += [p.strip() for p in v.split(",") if p.strip()]
    if not offered:
        return web.Response(status=400, text="unable to upgrade: X-Stream-Protocol-Version is required\n",
                            content_type="text/plain")
    chosen = next((p for p in PROTOCOLS if p in offered), None)
    if chosen is None:
        msg = (f"unable to upgrade: unable to negotiate protocol: client supports [{' '.join(offered)}], "
               f"server accepts [{' '.join(PROTOCOLS)}]\n")
        headers = CIMultiDict()
        for p in PROTOCOLS:
            headers.add("X-Accepted-Stream-Protocol-Versions", p)
        return web.Response(status=403, text=msg * 2, content_type="text/plain", headers=headers)
    request["spdy_protocol"] = chosen
    return None


def control(kind, flags, payload):
    return struct.pack(">HHI", 0x8003, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream, flags, payload):
    return struct.pack(">II", stream & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


class _Switched(web.StreamResponse):
    """The 101 answer: no length or chunking headers; after it the connection is the session's."""
    _length_check = False

    async def write_eof(self, data=b""):
        self._eof_sent = True


class SpdyChannels:
    """The exec's channels on SPDY streams (the interface of execws._WsChannels)."""

    def __init__(self, request, stdin, stdout, stderr, tty):
        self.request = request
        self.protocol = request.get("spdy_protocol", PROTOCOLS[0])
        self.json_status = self.protocol == "v4.channel.k8s.io"
        self.expected = {"error"} | {k for k, on in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr),
                                                    ("resize", tty)) if on}
        self.response = _Switched(status=101, headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                                       "X-Stream-Protocol-Version": self.protocol})
        self.response.force_close()
        self.streams = {}          # streamtype -> id
        self.types = {}            # id -> streamtype
        self.fin_sent = set()
        self.last_id = 0
        self.buf = bytearray()
        self.inflate = zlib.decompressobj()
        self.deflate = zlib.compressobj()
        self.events = asyncio.Queue()
        self.queued = 0
        self.paused = False
        self.all_streams = asyncio.Event()
        self.closed = False
        self.transport = None

    # -- the parser aiohttp feeds after the 101 (RequestHandler.set_parser)
    def feed_data(self, data):
        self.buf += data
        while len(self.buf) >= 8 and not self.closed:
            w0, w1 = struct.unpack_from(">II", self.buf)
            n = w1 & 0xFFFFFF
            if len(self.buf) < 8 + n:
                break
            flags, payload = w1 >> 24, bytes(self.buf[8:8 + n])
            del self.buf[:8 + n]
            if w0 & 0x80000000:
                if (w0 >> 16) & 0x7FFF != 3:
                    self._goaway(PROTOCOL_ERROR)
                else:
                    self._on_control(w0 & 0xFFFF, flags, payload)
            else:
                self._on_data(w0 & 0x7FFFFFFF, flags, payload)
        return False, b""

    def feed_eof(self):
        self._event("closed", b"")

    def _event(self, kind, payload):
        self.events.put_nowait((kind, payload))
        self.queued += len(payload)
        if self.queued > PAUSE_AT and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def _on_control(self, kind, flags, payload):
        if kind == SYN_STREAM and len(payload) >= 10:
            sid = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF
            try:
                headers = self._headers(payload[10:])
            except (zlib.error, struct.error, UnicodeDecodeError):
                self._goaway(PROTOCOL_ERROR)
                return
            kind_ = headers.get("streamtype", "")
            self.types[sid] = kind_
            self.streams.setdefault(kind_, sid)
            self.last_id = max(self.last_id, sid)
            self._write(control(SYN_REPLY, 0, struct.pack(">I", sid) + self._block({})))
            if self.expected <= set(self.streams):
                self.all_streams.set()
        elif kind == PING and len(payload) == 4:
            self._write(control(PING, 0, payload))
        elif kind == RST_STREAM and len(payload) >= 4:
            sid = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF
            if self.types.get(sid) == "stdin":
                self._event("stdin_eof", b"")
        elif kind == GOAWAY:
            self._event("closed", b"")

    def _on_data(self, sid, flags, payload):
        kind = self.types.get(sid)
        if kind == "stdin":
            if payload:
                self._event("stdin", payload)
            if flags & FLAG_FIN:
                self._event("stdin_eof", b"")
        elif kind == "resize" and payload:
            for line in payload.split(b"\n"):  # one JSON size per line (v3+ resize stream)
                if line.strip():
                    self._event("resize", line)

    def _headers(self, block):
        raw = self.inflate.decompress(block)
        count = struct.unpack_from(">I", raw)[0]
        off, out = 4, {}
        for _ in range(count):
            n = struct.unpack_from(">I", raw, off)[0]
            name = raw[off + 4:off + 4 + n].decode()
            off += 4 + n
            n = struct.unpack_from(">I", raw, off)[0]
            out[name.lower()] = raw[off + 4:off + 4 + n].decode()
            off += 4 + n
        return out

    def _block(self, headers):
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def _write(self, data):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _goaway(self, status):
        self._write(control(GOAWAY, 0, struct.pack(">II", self.last_id, status)))
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._event("closed", b"")

    # -- the exec's side
    async def start(self, request):
        """Sends the 101 and waits for the client's streams; False when they did not all come."""
        await self.response.prepare(request)
        self.transport = request.transport
        request.protocol.keep_alive(False)
        request.protocol.set_parser(self)
        try:
            await asyncio.wait_for(self.all_streams.wait(), STREAM_WAIT)
        except asyncio.TimeoutError:
            self._goaway(0)
            return False
        return not self.closed

    async def send(self, ch, data):
        sid = self.streams.get({1: "stdout", 2: "stderr", 3: "error"}.get(ch))
        if sid is None or self.closed or sid in self.fin_sent:
            return
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the client closed the connection")
        self._write(data_frame(sid, 0, data))
        await self.request.protocol._drain_helper()

    async def end(self, ch):
        """The command closed its stdout (1) or stderr (2): an empty DATA frame with FIN."""
        sid = self.streams.get({1: "stdout", 2: "stderr"}.get(ch))
        if sid is not None and sid not in self.fin_sent and not self.closed:
            self.fin_sent.add(sid)
            self._write(data_frame(sid, FLAG_FIN, b""))

    async def finish(self, status):
        if self.closed:
            return
        for ch in (1, 2):
            await self.end(ch)
        err = self.streams["error"]
        if self.json_status:
            self._write(data_frame(err, 0, jdump(status).encode()))
        elif status.get("status") != "Success":
            self._write(data_frame(err, 0, status.get("message", "").encode()))
        for kind in ("error", "stdin"):
            if kind in self.streams:
                self._write(control(RST_STREAM, 0, struct.pack(">II", self.streams[kind], CANCEL)))
        self._write(control(GOAWAY, 0, struct.pack(">II", self.last_id, 0)))
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def receive(self):
        kind, payload = await self.events.get()
        self.queued -= len(payload)
        if self.paused and self.queued < RESUME_AT and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        if kind == "closed":
            self.events.put_nowait((kind, payload))  # every later receive() sees it too
        return kind, payload
