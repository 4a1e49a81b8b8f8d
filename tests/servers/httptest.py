#!/usr/bin/python3
"""Scriptable HTTP/WebSocket server for the http module's tests.

Listens on 127.0.0.1 with three ports: plain HTTP, TLS, and TLS that requires a client
certificate. Certificates are generated at start into a temporary directory:
  ca.pem (signs server.pem and client.pem), other-ca.pem (signs nothing we serve),
  server.pem/server-key.pem (localhost, 127.0.0.1), client.pem/client-key.pem.
Prints `READY <port> <tls_port> <mtls_port> <cert_dir>` and serves until stdin closes.

Endpoints (all ports):
  /status/<code>              answers with that status
  /flaky/<id>/<n>             first n requests for <id>: 503 (?code=) with Retry-After (?retry_after=, 'none'); then 200
  /count/<id>                 how many requests /flaky or /cut saw for <id>, and when (/flaky)
  /cut/<id>/<n>               first n requests: headers and part of the body, then the connection drops
  /slow?s=<seconds>           answers after a delay
  /echo                       method, headers, body length/sha256 (and body when small), client port as JSON
  /big/<bytes>                streams <bytes> bytes; byte i is i % 251
  /redirect/<n>               302 chains down to /redirect/0 (200)
  /endless/<code>             that status, and a body that never ends (?type= its Content-Type)
  /endless-headers            200, then header lines that never end (?one_line: one line that never ends)
  /v2/, /v2/<repo>/manifests/<ref>, /v2/<repo>/tags/list  a minimal registry: see registry_*
  /ws/echo                    websocket echo; chooses v5.channel.k8s.io when offered, else the first offer
  /ws/headers                 websocket that sends the request headers as one JSON text message
  /ws/fragmented              sends "Hel" + ping + "lo " + "world" as fragments; then "pong:<data>" once pong arrives
  /ws/close                   closes with 4001 "bye now"
  /ws/reject                  401 with a Status JSON body
"""
import asyncio
import collections
import datetime
import hashlib
import ipaddress
import logging
import os
import ssl
import struct
import sys
import tempfile
import threading
import time

from aiohttp import WSMsgType, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

counts = collections.Counter()
times = collections.defaultdict(list)  # id -> monotonic seconds of each /flaky request


# --- certificates -------------------------------------------------------------------------------

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject_cn, key, issuer_cn, issuer_key, ca=False, sans=None, client=False):
    now = datetime.datetime.utcnow()
    b = (x509.CertificateBuilder().subject_name(_name(subject_cn)).issuer_name(_name(issuer_cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _write(path, cert=None, key=None):
    with open(path, "wb") as f:
        if cert is not None:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))


def make_certs(d):
    new_key = lambda: ec.generate_private_key(ec.SECP256R1())
    ca_key, other_key, server_key, client_key = new_key(), new_key(), new_key(), new_key()
    ca = _cert("wb-test-ca", ca_key, "wb-test-ca", ca_key, ca=True)
    other = _cert("wb-other-ca", other_key, "wb-other-ca", other_key, ca=True)
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = _cert("localhost", server_key, "wb-test-ca", ca_key, sans=sans)
    client = _cert("wb-test-client", client_key, "wb-test-ca", ca_key, client=True)
    _write(os.path.join(d, "ca.pem"), cert=ca)
    _write(os.path.join(d, "other-ca.pem"), cert=other)
    _write(os.path.join(d, "server.pem"), cert=server)
    _write(os.path.join(d, "server-key.pem"), key=server_key)
    _write(os.path.join(d, "client.pem"), cert=client)
    _write(os.path.join(d, "client-key.pem"), key=client_key)


# --- HTTP endpoints -----------------------------------------------------------------------------

async def status(request):
    code = int(request.match_info["code"])
    return web.Response(status=code, text=f"status {code}\n")


async def flaky(request):
    key, n = request.match_info["id"], int(request.match_info["n"])
    await request.read()
    counts[key] += 1
    times[key].append(time.monotonic())
    if counts[key] <= n:
        after = request.query.get("retry_after", "1")
        headers = {} if after == "none" else {"Retry-After": after}
        return web.Response(status=int(request.query.get("code", "503")), text="try again", headers=headers)
    return web.json_response({"attempts": counts[key]})


async def count(request):
    key = request.match_info["id"]
    return web.json_response({"count": counts[key], "times": times[key]})


async def cut(request):
    key, n = request.match_info["id"], int(request.match_info["n"])
    counts[key] += 1
    if counts[key] > n:
        return web.Response(text="whole body")
    resp = web.StreamResponse()
    resp.content_length = 1000
    await resp.prepare(request)
    await resp.write(b"x" * 100)
    request.transport.close()
    return resp


async def slow(request):
    await asyncio.sleep(float(request.query.get("s", "5")))
    return web.Response(text="finally")


async def echo(request):
    body = await request.read()
    return web.json_response({
        "method": request.method,
        "path_qs": request.path_qs,
        "headers": dict(request.headers),
        "body_len": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body": body.decode("latin-1") if len(body) <= 4096 else None,
        "peer_port": request.transport.get_extra_info("peername")[1],
    })


BLOCK = bytes(i % 251 for i in range(251 * 261))


async def big(request):
    n = int(request.match_info["bytes"])
    resp = web.StreamResponse()
    resp.content_type = "application/octet-stream"
    resp.content_length = n
    await resp.prepare(request)
    sent = 0
    while sent < n:
        chunk = BLOCK[: min(len(BLOCK), n - sent)]
        await resp.write(chunk)
        sent += len(chunk)
    await resp.write_eof()
    return resp


async def endless(request):
    """An answer with the given status whose body never ends (until the client goes away)."""
    return await endless_body(request, int(request.match_info["code"]))


async def endless_body(request, code):
    resp = web.StreamResponse(status=code)
    resp.content_type = request.query.get("type", "application/octet-stream")
    await resp.prepare(request)
    chunk = b"x" * 65536
    while not request.transport.is_closing():
        await resp.write(chunk)
    return resp


async def endless_headers(request):
    """A status line, then header lines for ever (raw bytes: aiohttp would not send them); with
    ?one_line, one header line that never ends."""
    t = request.transport
    t.write(b"HTTP/1.1 200 OK\r\n")
    one_line = "one_line" in request.query
    if one_line:
        t.write(b"X-Long: ")
    n = 0
    while not t.is_closing():
        if t.get_write_buffer_size() > 1 << 20:
            await asyncio.sleep(0.01)
            continue
        t.write(b"y" * 100 if one_line else b"X-Filler-%d: %s\r\n" % (n, b"y" * 100))
        n += 1
        await asyncio.sleep(0)
    return web.Response()  # not sent: the connection is gone


def registry_url(request, path):
    return "http://127.0.0.1:%d%s" % (request.transport.get_extra_info("sockname")[1], path)


async def registry_ping(request):
    """/v2/ of a minimal registry: anonymous on 127.0.0.1, a token service on localhost."""
    if request.host.startswith("localhost"):
        realm = registry_url(request, "/endless/200")
        return web.json_response({}, status=401, headers={
            "WWW-Authenticate": 'Bearer realm="%s",service="test"' % realm})
    return web.json_response({})


async def registry_manifest(request):
    """Manifests: `big` never ends; `throttled-<id>` is 429 and `busy-<id>` 503, with Retry-After
    (the ?-less tag: seconds), counted and timed as <id>."""
    repo, tag = request.match_info["repo"], request.match_info["ref"]
    if repo == "big":
        return await endless_body(request, 200)
    kind, _, key = repo.partition("-")
    counts[key] += 1
    times[key].append(time.monotonic())
    code = {"throttled": 429, "busy": 503}.get(kind, 404)
    return web.Response(status=code, headers={"Retry-After": tag},
                        text='{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}')


async def registry_tags(request):
    """Tag lists: `endless` links to a next page for ever, each page a new URL."""
    page = int(request.query.get("last", "0"))
    link = '</v2/%s/tags/list?n=1&last=%d>; rel="next"' % (request.match_info["repo"], page + 1)
    return web.json_response({"name": request.match_info["repo"], "tags": ["t%d" % page]}, headers={"Link": link})


async def redirect(request):
    n = int(request.match_info["n"])
    if n == 0:
        return web.Response(text="arrived")
    raise web.HTTPFound(f"/redirect/{n - 1}")


# --- WebSocket endpoints ------------------------------------------------------------------------

def chosen_protocols(request):
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if "v5.channel.k8s.io" in offered:
        return ["v5.channel.k8s.io"]
    return offered[:1]


async def ws_echo(request):
    ws = web.WebSocketResponse(protocols=chosen_protocols(request), max_msg_size=0)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def ws_headers(request):
    ws = web.WebSocketResponse(protocols=chosen_protocols(request))
    await ws.prepare(request)
    await ws.send_json(dict(request.headers))
    async for _ in ws:
        pass
    return ws


def raw_frame(opcode, payload, fin):
    assert len(payload) < 126
    return struct.pack("!BB", (0x80 if fin else 0) | opcode, len(payload)) + payload


async def ws_fragmented(request):
    ws = web.WebSocketResponse(autoping=False)
    await ws.prepare(request)
    request.transport.write(raw_frame(0x1, b"Hel", False) + raw_frame(0x9, b"ping!", True) +
                            raw_frame(0x0, b"lo ", False) + raw_frame(0x0, b"world", True))
    msg = await ws.receive(timeout=5)
    if msg.type == WSMsgType.PONG:
        await ws.send_str("pong:" + msg.data.decode())
    else:
        await ws.send_str(f"unexpected {msg.type}")
    async for _ in ws:
        pass
    return ws


async def ws_huge(request):
    """A binary frame that claims to carry 1 TiB, then bytes until the client goes away."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    request.transport.write(struct.pack("!BBQ", 0x82, 127, 1 << 40))
    while not request.transport.is_closing():
        request.transport.write(b"x" * 65536)
        await asyncio.sleep(0.01)
    return ws


async def ws_close(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.close(code=4001, message=b"bye now")
    return ws


async def ws_reject(request):
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "message": "Unauthorized", "reason": "Unauthorized", "code": 401}, status=401)


def make_app():
    app = web.Application(client_max_size=1 << 30)
    r = app.router
    r.add_get("/status/{code}", status)
    r.add_route("*", "/flaky/{id}/{n}", flaky)
    r.add_get("/count/{id}", count)
    r.add_get("/cut/{id}/{n}", cut)
    r.add_get("/slow", slow)
    r.add_route("*", "/echo", echo)
    r.add_get("/big/{bytes}", big)
    r.add_get("/redirect/{n}", redirect)
    r.add_get("/endless/{code}", endless)
    r.add_get("/endless-headers", endless_headers)
    r.add_get("/v2/", registry_ping)
    r.add_get("/v2/{repo}/manifests/{ref}", registry_manifest)
    r.add_get("/v2/{repo}/tags/list", registry_tags)
    r.add_get("/ws/echo", ws_echo)
    r.add_get("/ws/headers", ws_headers)
    r.add_get("/ws/fragmented", ws_fragmented)
    r.add_get("/ws/close", ws_close)
    r.add_get("/ws/huge", ws_huge)
    r.add_get("/ws/reject", ws_reject)
    return app


def tls_context(d, require_client_cert):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server-key.pem"))
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(d, "ca.pem"))
    return ctx


async def main():
    cert_dir = tempfile.mkdtemp(prefix="wb-httptest-")
    make_certs(cert_dir)
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    ports = []
    for ctx in (None, tls_context(cert_dir, False), tls_context(cert_dir, True)):
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        ports.append(site._server.sockets[0].getsockname()[1])
    print("READY", *ports, cert_dir, flush=True)
    await asyncio.Event().wait()


def exit_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)


if __name__ == "__main__":
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)  # dropped connections are the point here
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    asyncio.run(main())
