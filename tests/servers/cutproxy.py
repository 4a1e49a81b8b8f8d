#!/usr/bin/python3
"""A TCP proxy in front of an HTTP/1.1 server that cuts connections in the middle of request bodies.

    cutproxy.py --target 127.0.0.1:5000 --cut-after 1000000 [--cuts 1] [--methods PATCH,PUT]

Forwards every connection to the target. For requests whose method is listed, once `cut-after`
bytes of the request body have been forwarded, the proxy drops both sides of the connection
(at most `cuts` times in all; -1 = always). Requests are followed on keep-alive connections by
their Content-Length, or their chunks (Transfer-Encoding: chunked, as streamed uploads are sent;
the bytes counted are the chunks' data). Prints `READY <port>` and serves until stdin closes. Each
cut is logged on stderr as `CUT <method> <path> after <n> bytes`.

With --total, `cut-after` is an offset into all the request bodies of the listed methods together
(a push's whole upload): the request whose body crosses it is cut there, and once it is passed a
request of a listed method without a body (GET, HEAD) is dropped before it gets an answer.

With --raw nothing is parsed (TLS passes through): a connection is cut once `cut-after` bytes went
from the client to the target on it (a big upload over a WebSocket, say).
"""
import argparse
import asyncio
import sys


class State:
    cuts_left = 1
    total = 0  # request body bytes of the listed methods forwarded so far (--total)


def cut_offset(method, length, methods, args):
    """Where in this request's body to cut it (0 for a request without one), or None."""
    if method not in methods or State.cuts_left == 0:
        return None
    if not args.total:
        return args.cut_after if length > args.cut_after else None
    if length == 0:
        return 0 if State.total >= args.cut_after else None
    return max(0, args.cut_after - State.total) if State.total + length > args.cut_after else None


def chunked_cut_offset(method, methods, args):
    """Where in this chunked request's body (of unknown length) to cut it, or None."""
    if method not in methods or State.cuts_left == 0:
        return None
    return max(0, args.cut_after - State.total) if args.total else args.cut_after


def note_cut(method, path, at):
    if State.cuts_left > 0:
        State.cuts_left -= 1
    print("CUT %s %s after %d bytes" % (method, path, at), file=sys.stderr, flush=True)


async def pump_responses(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def pump_raw(client_reader, client_writer, up_writer, args):
    sent = 0
    while True:
        data = await client_reader.read(65536)
        if not data:
            return
        if State.cuts_left != 0 and sent + len(data) >= args.cut_after:
            up_writer.write(data[:args.cut_after - sent])
            await up_writer.drain()
            note_cut("raw", "-", args.cut_after)
            up_writer.transport.abort()
            client_writer.transport.abort()
            return
        up_writer.write(data)
        await up_writer.drain()
        sent += len(data)


async def read_more(reader, buf):
    data = await reader.read(65536)
    if not data:
        raise ConnectionError("the client went away")
    return buf + data


async def forward_chunked(reader, client_writer, up_writer, buf, method, path, cut, counted):
    """Forwards one chunked body, cutting it after `cut` bytes of data (None: never); returns the
    bytes read past it, or None once the connection was cut."""
    sent = 0
    while True:
        while b"\r\n" not in buf:
            buf = await read_more(reader, buf)
        line, buf = buf.split(b"\r\n", 1)
        up_writer.write(line + b"\r\n")
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:  # trailer lines, then an empty one
            while True:
                while b"\r\n" not in buf:
                    buf = await read_more(reader, buf)
                trailer, buf = buf.split(b"\r\n", 1)
                up_writer.write(trailer + b"\r\n")
                if not trailer:
                    await up_writer.drain()
                    return buf
        left = size + 2  # the data and its CRLF
        while left > 0:
            if not buf:
                buf = await read_more(reader, buf)
            take = min(len(buf), left)
            data = min(take, max(0, left - 2))
            if cut is not None and sent + data >= cut:
                up_writer.write(buf[:cut - sent])
                await up_writer.drain()
                if counted:
                    State.total += cut - sent
                note_cut(method, path, cut)
                up_writer.transport.abort()
                client_writer.transport.abort()
                return None
            up_writer.write(buf[:take])
            buf = buf[take:]
            left -= take
            sent += data
            if counted:
                State.total += data
        await up_writer.drain()


async def handle(client_reader, client_writer, args):
    host, port = args.target.rsplit(":", 1)
    try:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        client_writer.close()
        return
    back = asyncio.ensure_future(pump_responses(up_reader, client_writer))
    methods = set(args.methods.split(","))
    buf = b""
    try:
        if args.raw:
            await pump_raw(client_reader, client_writer, up_writer, args)
            return
        first = await client_reader.read(65536)
        if first[:1] == b"\x16":  # a TLS handshake: not ours to parse, pass it through
            up_writer.write(first)
            while True:
                data = await client_reader.read(65536)
                if not data:
                    return
                up_writer.write(data)
                await up_writer.drain()
        buf = first
        while True:
            # Request headers.
            while b"\r\n\r\n" not in buf:
                data = await client_reader.read(65536)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[0], lines[0].split(" ")[1]
            length = 0
            chunked = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                if name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
            if chunked:
                up_writer.write(head + b"\r\n\r\n")
                buf = await forward_chunked(client_reader, client_writer, up_writer, buf, method, path,
                                            chunked_cut_offset(method, methods, args), method in methods)
                if buf is None:
                    return
                continue
            cut = cut_offset(method, length, methods, args)
            if cut is not None and length == 0:
                note_cut(method, path, 0)
                client_writer.transport.abort()
                return
            up_writer.write(head + b"\r\n\r\n")
            sent = 0
            while sent < length:
                if not buf:
                    buf = await client_reader.read(65536)
                    if not buf:
                        return
                take = min(len(buf), length - sent)
                if cut is not None and sent + take >= cut:
                    take = cut - sent
                    up_writer.write(buf[:take])
                    await up_writer.drain()
                    if method in methods:
                        State.total += take
                    note_cut(method, path, cut)
                    up_writer.transport.abort()
                    client_writer.transport.abort()
                    return
                up_writer.write(buf[:take])
                buf = buf[take:]
                sent += take
                if method in methods:
                    State.total += take
            await up_writer.drain()
    except (ConnectionError, ValueError, IndexError):
        pass
    finally:
        up_writer.close()
        await back


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--target", required=True)
    p.add_argument("--cut-after", type=int, required=True)
    p.add_argument("--cuts", type=int, default=1)
    p.add_argument("--methods", default="PATCH,PUT")
    p.add_argument("--total", action="store_true", help="cut-after counts all request bodies together")
    p.add_argument("--raw", action="store_true", help="cut-after counts a connection's bytes, unparsed")
    args = p.parse_args()
    State.cuts_left = args.cuts
    server = await asyncio.start_server(lambda r, w: handle(r, w, args), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until stdin closes
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
