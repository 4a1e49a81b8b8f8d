#!/usr/bin/python3
"""A docker-token-auth front for a registry: a reverse proxy that demands Bearer tokens.

    tokenauth.py --target 127.0.0.1:5000 --user U --password P [--anonymous-pull]

Serves plain HTTP on a free loopback port. `/token?service=..&scope=..` issues tokens for the
requested scopes to callers with the right Basic credentials (with --anonymous-pull, callers
without credentials get pull-only tokens). Every other request needs `Authorization: Bearer`
with a token whose scopes cover it (GET/HEAD = pull, others = push; `/v2/` = any token),
otherwise 401 with `WWW-Authenticate: Bearer realm=...,service="tokenauth",scope=...`. Allowed
requests are forwarded to the target with the original Host header (so its Location headers
point back here). Logs `TOKEN <user> <scope> ...` per token on stderr. Prints `READY <port>`
and serves until stdin closes.
"""
import argparse
import asyncio
import base64
import re
import secrets
import sys

import aiohttp
from aiohttp import web

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
       "proxy-authenticate", "content-length"}


def make_app(args, port_holder):
    tokens = {}  # token -> set of (repo, action)
    session_holder = {}

    def realm(request):
        return "http://%s/token" % request.host

    def challenge(request, scope):
        value = 'Bearer realm="%s",service="tokenauth"' % realm(request)
        if scope:
            value += ',scope="%s"' % scope
        body = '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}'
        return web.Response(status=401, text=body, content_type="application/json",
                            headers={"WWW-Authenticate": value})

    async def token(request):
        auth = request.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return web.json_response({"errors": [{"code": "UNAUTHORIZED", "message": "bad header"}]}, status=401)
            if u != args.user or p != args.password:
                return web.json_response({"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                                         status=401)
            user = u
        elif not args.anonymous_pull:
            return web.json_response({"errors": [{"code": "UNAUTHORIZED", "message": "credentials required"}]},
                                     status=401)
        grants = set()
        scopes = request.query.getall("scope", [])
        for scope in scopes:
            m = re.match(r"^repository:([^:]+):(.*)$", scope)
            if not m:
                continue
            for action in m.group(2).split(","):
                if user or action == "pull":
                    grants.add((m.group(1), action))
        t = secrets.token_hex(16)
        tokens[t] = grants
        print("TOKEN %s %s service=%s" % (user or "-", " ".join(scopes), request.query.get("service", "")),
              file=sys.stderr, flush=True)
        return web.json_response({"token": t, "access_token": t, "expires_in": 300})

    async def proxy(request):
        path = request.path
        m = re.match(r"^/v2/(.+?)/(blobs|manifests|tags)/", path)
        needed = []
        if m:
            action = "pull" if request.method in ("GET", "HEAD") else "push"
            needed.append((m.group(1), action))
            if request.method == "POST" and "from" in request.query:
                needed.append((request.query["from"], "pull"))
        auth = request.headers.get("Authorization", "")
        grants = tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if grants is None:
            scope = "repository:%s:%s" % (needed[0][0], "pull" if needed[0][1] == "pull" else "pull,push") \
                if needed else ""
            return challenge(request, scope)
        # A mount whose source is not granted becomes a plain upload (as real registries do).
        missing = [n for n in needed if n not in grants]
        query = request.query_string
        if missing and m and request.method == "POST" and missing[0] == needed[-1] and len(needed) == 2:
            query = ""
        elif missing:
            repo, action = missing[0]
            return challenge(request, "repository:%s:%s" % (repo, "pull" if action == "pull" else "pull,push"))
        url = "http://%s%s%s" % (args.target, path, "?" + query if query else "")
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in HOP and k.lower() not in ("authorization", "host")}
        headers["Host"] = request.host
        body = await request.read()
        async with session_holder["s"].request(request.method, url, headers=headers, data=body,
                                               allow_redirects=False) as up:
            data = await up.read()
            resp = web.StreamResponse(status=up.status)
            for k, v in up.headers.items():
                if k.lower() not in HOP:
                    resp.headers.add(k, v)
            resp.content_length = int(up.headers.get("Content-Length", len(data)))
            await resp.prepare(request)
            if request.method != "HEAD" and data:
                await resp.write(data)
            await resp.write_eof()
            return resp

    async def on_startup(app):
        session_holder["s"] = aiohttp.ClientSession(auto_decompress=False, skip_auto_headers=["Content-Type"])

    async def on_cleanup(app):
        await session_holder["s"].close()

    app = web.Application(client_max_size=1 << 30)
    app.router.add_get("/token", token)
    app.router.add_route("*", "/{tail:.*}", proxy)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--target", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--anonymous-pull", action="store_true")
    args = p.parse_args()
    app = make_app(args, {})
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
