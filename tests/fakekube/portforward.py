"""pods/portforward over WebSocket (v4.channel.k8s.io), as the 1.32 API server serves it: one TCP connection
per port listed, channel 2*i its data and 2*i+1 its errors, each first carrying the port (2 bytes,
little-endian). The fake's pods run no servers, so a pod's annotation fakekube.wb.dev/port-forward
("8080=127.0.0.1:41234,9090=...") names where its ports lead; nothing listens on a port it does not name. In 1.18 mode the upgrade is
refused with 400 "Upgrade request required", as by a server that forwards over SPDY only."""
import asyncio
import struct

from aiohttp import WSMsgType, web

from kutil import bad_request, not_found

PROTOCOL = "v4.channel.k8s.io"
TARGET_ANNOTATION = "fakekube.wb.dev/port-forward"


def _running(server, ns, name):
    pod = server.store.get(server.reg.for_kind("Pod").storage, ns, name)
    if pod is None or pod["metadata"].get("deletionTimestamp"):
        return None
    rt = server.ctl.pod_rt(ns, name)
    if rt is None or not any("running" in c.state for c in rt.containers.values()):
        return None
    return pod


async def handle_portforward(server, request, ns, name):
    if server.store.get(server.reg.for_kind("Pod").storage, ns, name) is None:
        raise not_found("pods", "", name)
    if request.headers.get("Upgrade", "").lower() != "websocket" or server.k8s_version == "1.18":
        raise bad_request("Upgrade request required")
    if request.headers.get("Accept", "").strip() == "application/json":
        # As kube-apiserver 1.32 answers an upgrade that accepts only JSON (seen on the kit).
        return web.Response(status=406, text="406: Not Acceptable\nAvailable representations: ")
    ports = [p for v in request.query.getall("ports", []) for p in v.split(",") if p]
    if len(ports) != 1 or not ports[0].isdigit() or not 0 < int(ports[0]) < 65536:
        raise bad_request("the fake forwards exactly one port (1-65535) per connection")
    port = int(ports[0])
    pod = _running(server, ns, name)
    if pod is None:
        raise bad_request(f"unable to upgrade connection: pod {name} is not running")
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if PROTOCOL not in offered:
        raise bad_request("unable to upgrade connection: no supported subprotocol; supported: " + PROTOCOL)
    ws = web.WebSocketResponse(protocols=[PROTOCOL], max_msg_size=0, autoclose=False, autoping=True)
    await ws.prepare(request)
    header = struct.pack("<H", port)
    await ws.send_bytes(b"\x00" + header)
    await ws.send_bytes(b"\x01" + header)
    targets = (pod["metadata"].get("annotations") or {}).get(TARGET_ANNOTATION, "")
    target = dict(t.strip().partition("=")[::2] for t in targets.split(",") if "=" in t).get(str(port), "")
    host, _, tport = target.rpartition(":")
    try:
        if not host or not tport.isdigit():
            raise ConnectionRefusedError("connection refused")
        reader, writer = await asyncio.open_connection(host, int(tport))
    except OSError as e:
        # As the kubelet words it (containerd 1.6) when nothing listens on the port.
        await ws.send_bytes(b"\x01" + (
            f"an error occurred forwarding {port} -> {port}: error forwarding port {port} to pod "
            f"{pod['metadata'].get('uid', '')}, uid : failed to execute portforward in network namespace "
            f'"/var/run/netns/cni-fake": failed to connect to localhost:{port} inside namespace: '
            f"{e.strerror or e}").encode())
        await ws.close(code=1000)
        return ws

    async def upstream():
        try:
            while True:
                msg = await ws.receive()
                if msg.type == WSMsgType.BINARY and msg.data[:1] == b"\x00" and len(msg.data) > 1:
                    writer.write(msg.data[1:])
                    await writer.drain()
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    return
        except (ConnectionError, RuntimeError):
            return

    async def downstream():
        try:
            while True:
                data = await reader.read(32768)
                if not data:
                    return
                await ws.send_bytes(b"\x00" + data)
        except (ConnectionError, RuntimeError):
            return

    async def pod_gone():
        while _running(server, ns, name) is not None:
            await asyncio.sleep(0.2)

    tasks = [asyncio.ensure_future(t()) for t in (upstream, downstream, pod_gone)]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in tasks:
        t.cancel()
    writer.close()
    try:
        await ws.close(code=1000)
    except (ConnectionError, RuntimeError):
        pass
    return ws
