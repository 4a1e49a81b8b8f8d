"""Test-control API under /fake/v1 (admin / system:masters only)."""
import json

from aiohttp import web

from kutil import ApiError, bad_request, jdump, not_found


def _json(obj, status=200):
    return web.Response(body=jdump(obj).encode(), status=status, content_type="application/json")


def route(server, app):
    def admin(fn):
        async def h(request):
            user = request["user"]
            if "system:masters" not in user.groups:
                raise ApiError(403, "Forbidden", f'User "{user.name}" cannot use the fake control API')
            return await fn(request)
        return h

    def pod_and_rt(request):
        ns, name = request.match_info["ns"], request.match_info["pod"]
        pod = server.store.get("/pods", ns, name)
        if pod is None:
            raise not_found("pods", "", name)
        rt = server.ctl.pod_rt(ns, name)
        return pod, rt

    def container_of(request, pod, rt):
        c = request.query.get("container")
        if not c:
            c = pod["spec"]["containers"][0]["name"]
        if rt is None or c not in rt.containers:
            raise bad_request(f"container {c} is not valid for pod {pod['metadata']['name']}")
        return c

    async def log(request):
        pod, rt = pod_and_rt(request)
        c = container_of(request, pod, rt)
        cr = rt.containers[c]
        lb = cr.current_log()
        if lb is None or lb.closed:
            raise bad_request(f'container "{c}" is not running')
        lb.append(await request.read())
        return _json({"appended": True, "lines": len(lb.lines)})

    async def log_cut(request):
        pod, rt = pod_and_rt(request)
        c = container_of(request, pod, rt)
        lb = rt.containers[c].current_log()
        if lb is None:
            raise bad_request(f'container "{c}" has no log yet')
        if "afterBytes" in request.query:
            # Arms the next `count` streams (follow or not) to break off after that many bytes.
            try:
                lb.cut_after = [int(request.query["afterBytes"]), int(request.query.get("count", "1"))]
            except ValueError:
                raise bad_request("afterBytes and count must be integers")
            return _json({"armed": True})
        lb.cuts += 1
        lb._kick()
        # How many follow streams the cut reached (0: none was open yet; a test may try again).
        return _json({"cut": True, "streams": lb.following})

    async def crash(request):
        pod, rt = pod_and_rt(request)
        c = container_of(request, pod, rt)
        cr = rt.containers[c]
        code = int(request.query.get("exitCode", "1"))
        if cr.crash_now is None or cr.crash_now.done():
            raise bad_request(f'container "{c}" is not running')
        body = await request.read()
        if body and cr.current_log():
            cr.current_log().append(body)
        cr.crash_now.set_result(code)
        return _json({"crashed": True, "exitCode": code})

    async def ready(request):
        pod, rt = pod_and_rt(request)
        body = json.loads(await request.read() or b"{}")
        v = body.get("ready")
        rt.forced_ready = None if v is None else bool(v)
        server.ctl.write_pod_status(rt)
        return _json({"ready": rt.forced_ready})

    async def root(request):
        pod, rt = pod_and_rt(request)
        c = container_of(request, pod, rt)
        return _json({"path": server.ctl.pod_root(pod["metadata"]["namespace"], pod["metadata"]["name"], c)})

    async def override(request):
        pod, rt = pod_and_rt(request)
        c = container_of(request, pod, rt)
        rt.exec_override[c] = await request.read()
        return _json({"armed": True, "bytes": len(rt.exec_override[c])})

    async def exec_cut(request):
        pod, rt = pod_and_rt(request)
        c = container_of(request, pod, rt)
        try:
            after = int(request.query.get("afterBytes", "0"))
            count = int(request.query.get("count", "1"))
        except ValueError:
            raise bad_request("afterBytes and count must be integers")
        if count <= 0:
            rt.exec_cut.pop(c, None)
        else:
            rt.exec_cut[c] = [after, count]
        return _json({"armed": count > 0, "afterBytes": after, "count": count})

    async def settings(request):
        if request.method == "POST":
            body = json.loads(await request.read() or b"{}")
            for k, v in body.items():
                if k not in server.settings:
                    raise bad_request(f"unknown setting {k}; known: {sorted(server.settings)}")
                server.settings[k] = float(v)
        return _json(server.settings)

    async def requests(request):
        if request.method == "DELETE":
            server.requests.clear()
            return _json({"cleared": True})
        return _json({"items": list(server.requests)})

    async def faults(request):
        if request.method == "DELETE":
            server.faults.clear()
            return _json({"cleared": True})
        if request.method == "POST":
            body = json.loads(await request.read() or b"{}")
            items = body if isinstance(body, list) else [body]
            for f in items:
                server.faults.append(dict(f))
        return _json({"items": server.faults})

    async def tokens(request):
        body = json.loads(await request.read() or b"{}")
        from rbac import User
        tok = body.get("token")
        if not tok or not body.get("user"):
            raise bad_request("token and user are required")
        server.tokens[tok] = User(body["user"], body.get("groups") or [], uid=body.get("uid", ""))
        return _json({"added": True})

    base = "/fake/v1/namespaces/{ns}/pods/{pod}"
    app.router.add_route("POST", base + "/log", admin(log))
    app.router.add_route("POST", base + "/crash", admin(crash))
    app.router.add_route("POST", base + "/log-cut", admin(log_cut))
    app.router.add_route("POST", base + "/ready", admin(ready))
    app.router.add_route("GET", base + "/root", admin(root))
    app.router.add_route("POST", base + "/exec-override", admin(override))
    app.router.add_route("POST", base + "/exec-cut", admin(exec_cut))
    app.router.add_route("*", "/fake/v1/settings", admin(settings))
    app.router.add_route("*", "/fake/v1/requests", admin(requests))
    app.router.add_route("*", "/fake/v1/faults", admin(faults))
    app.router.add_route("POST", "/fake/v1/tokens", admin(tokens))
