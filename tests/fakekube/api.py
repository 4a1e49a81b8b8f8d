"""HTTP layer of the fake kube-apiserver: authentication, authorization, REST verbs, watch."""
import asyncio
import base64
import collections
import contextvars
import json
import re
import secrets
import time
import urllib.parse

from aiohttp import web

import fieldvalidation
import kinds
import patch as patchmod
from controller import Controllers, KubeletLogText, rand_suffix
from kutil import (ApiError, already_exists, b64, bad_request, check_name, conflict, deepcopy, expired,
                   field_match, invalid, jdump, label_match, load_yaml, method_not_allowed, new_uid,
                   not_found, parse_field_selector, parse_label_selector, parse_time, rfc3339,
                   rfc3339_micro, success_status, unauthorized)
from rbac import (Authorizer, User, default_cluster_roles, escalation_message, forbidden_message,
                  uncovered_rules)
from resources import Registry, to_table

VERSIONS = {
    "1.32": {"major": "1", "minor": "32", "gitVersion": "v1.32.0",
             "gitCommit": "70d3cc986aa8221cd1dfb1121852688902d3bf53", "gitTreeState": "clean",
             "buildDate": "2024-12-11T17:58:53Z", "goVersion": "go1.23.3", "compiler": "gc",
             "platform": "linux/amd64"},
    "1.18": {"major": "1", "minor": "18", "gitVersion": "v1.18.20",
             "gitCommit": "1f3e19b7beb1cc0110255668c4238ed63dadb7ad", "gitTreeState": "clean",
             "buildDate": "2021-06-16T12:51:17Z", "goVersion": "go1.13.15", "compiler": "gc",
             "platform": "linux/amd64"},
}

DEFAULT_SETTINGS = {
    "readinessDelay": 0.3,   # container start -> Ready
    "schedulingDelay": 0.05,
    "pullDelay": 0.05,
    "crashDelay": 0.5,       # crashloop: running time after the readiness delay before the crash
    "backoffDelay": 1.0,     # crashloop / image pull back-off
    "bookmarkInterval": 1.0,
    "namespaceDeleteDelay": 0.1,
    "execV5": 1,             # 0: exec offers v4.channel.k8s.io at most (an API server before 1.30)
    "execSpdy": 1,           # 0: exec over SPDY/3.1 is refused with 400 (a proxy that passes WebSockets only)
    "previousLogGap": 0,     # seconds after a crash that a previous-log read gets the kubelet's error text
}

JSON_CT = "application/json"

# The user of the request being served (each aiohttp request runs in its own task and context), for
# checks deep inside admission such as RBAC escalation prevention; None for controller writes.
CURRENT_USER = contextvars.ContextVar("fakekube_current_user", default=None)


def jresp(obj, status=200, headers=None):
    return web.Response(body=jdump(obj).encode(), status=status, content_type=JSON_CT, headers=headers)


def err_resp(e):
    h = {}
    if e.retry_after is not None:
        h["Retry-After"] = str(e.retry_after)
    return jresp(e.status(), e.code, headers=h)


def with_warnings(request, resp):
    """Warning headers (fieldValidation=Warn) go on any answer, an error that followed included."""
    for text in request.get("warnings") or ():
        if not resp.prepared:
            resp.headers.add("Warning", fieldvalidation.warning_header(text))
    return resp


def _bool(v):
    return v is not None and v.lower() in ("1", "true", "yes")


class Server:
    def __init__(self, dirpath, k8s_version="1.32", tokens=None, ca_path=None, kubesphere=False):
        self.dir = dirpath
        self.k8s_version = k8s_version
        self.kubesphere = kubesphere
        self.reg = Registry(k8s_version, kubesphere=kubesphere)
        from store import Store
        self.store = Store()
        self.settings = dict(DEFAULT_SETTINGS)
        self.tokens = dict(tokens or {})  # token -> User
        self.sa_tokens = {}  # token -> (User, secret key or None, expiry)
        self.admin_token = None
        self.ca_path = ca_path
        self.authz = Authorizer(self.store)
        self.requests = collections.deque(maxlen=5000)
        self.faults = []  # injected failures
        self.ctl = Controllers(self)
        self._seed()

    # ------------------------------------------------------------ seeding
    def new_uid(self):
        return new_uid()

    def _seed(self):
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.sys_create(self.reg.for_kind("Namespace"), {"apiVersion": "v1", "kind": "Namespace",
                                                             "metadata": {"name": ns}})
        roles, bindings = default_cluster_roles()
        for o in roles:
            self.sys_create(self.reg.for_kind("ClusterRole"), o)
        for o in bindings:
            self.sys_create(self.reg.for_kind("ClusterRoleBinding"), o)
        for i, n in enumerate(("fake-node-1", "fake-node-2", "fake-node-3")):
            self.sys_create(self.reg.for_kind("Node"), {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n, "kubernetes.io/os": "linux",
                                                   "kubernetes.io/arch": "amd64"}},
                "spec": {"podCIDR": f"10.244.{i}.0/24"},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "message": "kubelet is posting ready status"}],
                           "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                           "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                           "nodeInfo": {"kubeletVersion": VERSIONS[self.k8s_version]["gitVersion"],
                                        "containerRuntimeVersion": "containerd://1.7.0",
                                        "operatingSystem": "linux", "architecture": "amd64"}}})

    def _on_namespace_created(self, ns):
        sa = self.reg.for_kind("ServiceAccount")
        if self.store.get(sa.storage, ns, "default") is None:
            self.sys_create(sa, {"apiVersion": "v1", "kind": "ServiceAccount",
                                 "metadata": {"name": "default", "namespace": ns}})
        cm = self.reg.for_kind("ConfigMap")
        if self.store.get(cm.storage, ns, "kube-root-ca.crt") is None and self.ca_path:
            try:
                ca = open(self.ca_path).read()
            except OSError:
                ca = ""
            self.sys_create(cm, {"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "kube-root-ca.crt", "namespace": ns,
                                              "annotations": {"kubernetes.io/description": (
                                                  "Contains a CA bundle that can be used to verify the "
                                                  "kube-apiserver when using internal endpoints such as the "
                                                  "internal service IP or kubernetes.default.svc. No other "
                                                  "usage is guaranteed across distributions of Kubernetes "
                                                  "clusters.")}},
                                 "data": {"ca.crt": ca}})

    # ------------------------------------------------------------ internal writes (controllers)
    def _finish_meta(self, r, obj, old=None):
        md = obj.setdefault("metadata", {})
        if old is None:
            md["uid"] = md.get("uid") or new_uid()
            md["creationTimestamp"] = rfc3339()
            if r.generation:
                md["generation"] = 1
        else:
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
                if k in old["metadata"]:
                    md[k] = old["metadata"][k]
                else:
                    md.pop(k, None)
            if r.generation:
                gen = old["metadata"].get("generation", 1)
                # As kube-apiserver: a Deployment's annotations count too (they are copied to its
                # ReplicaSets), so an annotation-only change is a new generation there; the
                # controller's own deployment.kubernetes.io/revision does not (seen on 1.32).
                def own(a):
                    return {k: v for k, v in (a or {}).items() if not k.startswith("deployment.kubernetes.io/")}
                if self._spec_of(obj) != self._spec_of(old) or (r.kind == "Deployment" and own(
                        md.get("annotations")) != own(old["metadata"].get("annotations"))):
                    gen += 1
                md["generation"] = gen
        obj["apiVersion"] = r.gv
        obj["kind"] = r.kind
        if r.namespaced is False:
            md.pop("namespace", None)

    @staticmethod
    def _spec_of(o):
        return {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}

    def sys_create(self, r, obj, manager=None):
        """Controller create; manager (e.g. kube-controller-manager) is recorded in managedFields."""
        obj = deepcopy(obj)
        kinds.prepare(self, r, obj, None, "create")
        self._finish_meta(r, obj)
        if manager:
            patchmod.record_update(None, obj, manager, r.gv, rfc3339())
        out = self.store.put(r.storage, obj, "ADDED")
        self._after_create(r, out)
        return out

    def sys_modify(self, r, ns, name, fn, subresource=None, manager=None):
        """Controller write: atomic read-modify-write of the object as stored right now.

        fn(obj) changes a private copy of the latest stored object in place (return False: no write).
        Controllers must never write back a copy they read earlier: that would revert whatever a client
        changed in between (spec, annotations, managedFields).
        subresource="status": only the status is taken from fn's result (like PUT .../status), and
        the write can only own status fields. Otherwise the stored status is kept for kinds with a
        status subresource. manager: recorded in managedFields as an Update (with the subresource);
        None records nothing (e.g. the scheduler's binding).
        Returns the stored object (unchanged when nothing changed), or None if it does not exist."""
        def mutate(old):
            cand = deepcopy(old)
            if fn(cand) is False:
                return None
            if subresource == "status":
                new = deepcopy(old)
                if cand.get("status") is None:
                    new.pop("status", None)
                else:
                    new["status"] = cand["status"]
            else:
                new = cand
                if r.status_sub:
                    if old.get("status") is None:
                        new.pop("status", None)
                    else:
                        new["status"] = deepcopy(old["status"])
            self._finish_meta(r, new, old)
            if manager:
                patchmod.record_update(old, new, manager, r.gv, rfc3339(), subresource=subresource)
            return None if new == old else new

        old, out = self.store.update(r.storage, ns, name, mutate)
        if old is None:
            return None
        return out if out is not None else deepcopy(old)

    def sys_delete(self, r, ns, name):
        obj = self.store.get(r.storage, ns, name)
        if obj is None:
            return None
        return self._delete_now(r, obj, "Background")

    def _after_create(self, r, obj):
        if r.kind == "Namespace":
            self._on_namespace_created(obj["metadata"]["name"])
        elif r.kind == "Secret" and obj.get("type") == "kubernetes.io/service-account-token":
            pass

    # ------------------------------------------------------------ authentication
    def authenticate(self, request):
        auth = request.headers.get("Authorization", "")
        if auth:
            if not auth.lower().startswith("bearer "):
                # basic auth is not supported by modern clusters
                raise unauthorized()
            tok = auth[7:].strip()
            u = self.tokens.get(tok)
            if u is not None:
                return u
            sa = self.sa_tokens.get(tok)
            if sa is not None:
                user, secret_key, exp = sa
                if exp is not None and time.time() > exp:
                    raise unauthorized()
                if secret_key is not None:
                    sr = self.reg.for_kind("Secret")
                    s = self.store.get(sr.storage, secret_key[0], secret_key[1])
                    if s is None or s["metadata"]["uid"] != secret_key[2]:
                        raise unauthorized()
                return user
            raise unauthorized()
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        if peer:
            cn = None
            groups = []
            for rdn in peer.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        groups.append(v)
            if cn:
                return User(cn, groups)
        raise unauthorized()

    def issue_sa_token(self, ns, name, uid, secret_key=None, ttl=None, audiences=None):
        now = int(time.time())
        exp = now + ttl if ttl else None
        claims = {"iss": "https://kubernetes.default.svc.cluster.local", "sub": f"system:serviceaccount:{ns}:{name}",
                  "aud": audiences or ["https://kubernetes.default.svc.cluster.local"], "iat": now,
                  "nbf": now, "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": name, "uid": uid}}}
        if exp:
            claims["exp"] = exp
        enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
        tok = enc({"alg": "RS256", "kid": "fakekube"}) + "." + enc(claims) + "." + \
            base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        user = User(f"system:serviceaccount:{ns}:{name}",
                    ["system:serviceaccounts", f"system:serviceaccounts:{ns}"], uid=uid)
        self.sa_tokens[tok] = (user, secret_key, exp)
        return tok, exp

    # ------------------------------------------------------------ request entry
    @web.middleware
    async def middleware(self, request, handler):
        start = time.time()
        entry = {"method": request.method, "path": request.path, "query": request.query_string,
                 "contentType": request.headers.get("Content-Type", ""),
                 "accept": request.headers.get("Accept", ""),
                 "userAgent": request.headers.get("User-Agent", ""), "time": rfc3339_micro(start)}
        self.requests.append(entry)
        request["log_entry"] = entry  # handlers may add to it (exec: bytes sent)
        try:
            try:
                user = self.authenticate(request)
            except ApiError:
                if request.path in ("/healthz", "/livez", "/readyz") and False:
                    user = User("system:anonymous", ["system:unauthenticated"])
                else:
                    raise
            entry["user"] = user.name
            request["user"] = user
            CURRENT_USER.set(user)
            fault = self._take_fault(request)
            if fault is not None:
                entry["status"] = fault.code
                return err_resp(fault)
            resp = await handler(request)
            entry["status"] = getattr(resp, "status", 0)
            return with_warnings(request, resp)
        except ApiError as e:
            entry["status"] = e.code
            return with_warnings(request, err_resp(e))
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as e:  # report internal errors as the apiserver would
            import traceback
            traceback.print_exc()
            entry["status"] = 500
            return err_resp(ApiError(500, "InternalError", f"Internal error occurred: {e}"))

    def _take_fault(self, request):
        for f in list(self.faults):
            if f.get("method") and f["method"].upper() != request.method:
                continue
            if f.get("path") and not re.search(f["path"], request.path):
                continue
            if f.get("count", 1) <= 0:
                continue
            f["count"] = f.get("count", 1) - 1
            if f["count"] <= 0:
                self.faults.remove(f)
            code = int(f.get("code", 500))
            reasons = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                       504: "Timeout", 409: "Conflict", 403: "Forbidden", 401: "Unauthorized"}
            return ApiError(code, f.get("reason") or reasons.get(code, "InternalError"),
                            f.get("message") or "injected failure",
                            retry_after=f.get("retryAfterSeconds"))
        return None

    # ------------------------------------------------------------ discovery & misc
    async def h_version(self, request):
        return jresp(VERSIONS[self.k8s_version])

    async def h_health(self, request):
        return web.Response(text="ok", content_type="text/plain")

    async def h_api(self, request):
        return jresp(self.reg.api_versions())

    async def h_apis(self, request):
        return jresp(self.reg.api_group_list())

    async def h_openapi_root(self, request):
        paths = {}
        for g, vs in self.reg.groups:
            for v in vs:
                key = f"api/{v}" if not g else f"apis/{g}/{v}"
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash=FAKE{self.k8s_version.replace('.', '')}"}
        return jresp({"paths": paths})

    async def h_openapi_gv(self, request):
        """Minimal OpenAPI v3 documents: enough for kubectl to see that PATCH/POST accept
        fieldValidation (so it uses server-side field validation)."""
        segs = request.match_info["rest"].strip("/").split("/")
        if segs[0] == "api" and len(segs) == 2:
            group, version = "", segs[1]
        elif segs[0] == "apis" and len(segs) == 3:
            group, version = segs[1], segs[2]
        else:
            raise not_found_path()
        if not self.reg.has_version(group, version):
            raise not_found_path()
        params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
        paths = {}
        schemas = {}
        prefix = f"/api/{version}" if not group else f"/apis/{group}/{version}"
        for r in self.reg.resources:
            if r.group != group or r.version != version:
                continue
            gvk = {"group": group, "version": version, "kind": r.kind}
            base = f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"
            op = {"x-kubernetes-group-version-kind": gvk, "parameters": params,
                  "responses": {"200": {"description": "OK"}}}
            paths[base] = {"post": dict(op, operationId=f"create{r.kind}"),
                           "get": dict(op, operationId=f"list{r.kind}")}
            paths[base + "/{name}"] = {"patch": dict(op, operationId=f"patch{r.kind}"),
                                       "put": dict(op, operationId=f"replace{r.kind}"),
                                       "get": dict(op, operationId=f"read{r.kind}")}
        return jresp({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSIONS[self.k8s_version]["gitVersion"]},
                      "paths": paths, "components": {"schemas": schemas}})

    def route(self, app):
        app.router.add_route("GET", "/version", self.h_version)
        app.router.add_route("GET", "/version/", self.h_version)
        for p in ("/healthz", "/livez", "/readyz"):
            app.router.add_route("GET", p, self.h_health)
        app.router.add_route("GET", "/api", self.h_api)
        app.router.add_route("GET", "/api/", self.h_api)
        app.router.add_route("GET", "/apis", self.h_apis)
        app.router.add_route("GET", "/apis/", self.h_apis)
        app.router.add_route("GET", "/openapi/v3", self.h_openapi_root)
        app.router.add_route("GET", "/openapi/v3/{rest:.*}", self.h_openapi_gv)
        import control
        control.route(self, app)
        app.router.add_route("*", "/api/{rest:.*}", self.h_resource)
        app.router.add_route("*", "/apis/{rest:.*}", self.h_resource)
        app.router.add_route("*", "/{rest:.*}", self.h_other)

    async def h_other(self, request):
        raise not_found_path()

    # ------------------------------------------------------------ resource dispatch
    def parse_path(self, request):
        path = request.path
        segs = [urllib.parse.unquote(s) for s in path.strip("/").split("/")]
        if segs[0] == "api":
            if len(segs) < 2:
                raise not_found_path()
            group, version, rest = "", segs[1], segs[2:]
        else:
            if len(segs) < 2:
                raise not_found_path()
            group = segs[1]
            if len(segs) == 2:
                for g, vs in self.reg.groups:
                    if g == group:
                        return ("group", group, vs)
                raise not_found_path()
            version, rest = segs[2], segs[3:]
        if not self.reg.has_version(group, version):
            raise not_found_path()
        if not rest:
            return ("resources", group, version)
        ns = None
        if rest[0] == "watch":  # legacy /watch/ paths
            rest = rest[1:]
            request["legacy_watch"] = True
            if not rest:
                raise not_found_path()
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            ns = rest[1]
            rest = rest[2:]
        plural = rest[0]
        r = self.reg.lookup(group, version, plural)
        if r is None:
            raise not_found_path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3:
            raise not_found_path()
        if ns is not None and not r.namespaced:
            raise not_found_path()
        if sub is not None and sub not in [s[0] for s in r.subresources]:
            raise not_found_path()
        return ("obj", r, ns, name, sub)

    async def h_resource(self, request):
        parsed = self.parse_path(request)
        user = request["user"]
        if parsed[0] == "group":
            return jresp(self.reg.api_group(parsed[1], parsed[2]) | {"kind": "APIGroup", "apiVersion": "v1"})
        if parsed[0] == "resources":
            return jresp(self.reg.resource_list(parsed[1], parsed[2]))
        _, r, ns, name, sub = parsed
        request["body_target"] = (r, sub)  # read_body checks a POST/PUT body's fields against its schema
        m = request.method
        q = request.query
        is_watch = _bool(q.get("watch")) or request.get("legacy_watch", False)
        if m == "GET":
            verb = "get" if name else ("watch" if is_watch else "list")
        elif m == "POST":
            verb = "create"
        elif m == "PUT":
            verb = "update"
        elif m == "PATCH":
            verb = "patch"
        elif m == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            raise method_not_allowed()
        if sub in ("exec", "attach", "portforward"):
            verb = "create"
        if sub == "log":
            verb = "get"
        # virtual create-only resources
        if r.kind in ("SelfSubjectAccessReview", "SelfSubjectReview", "SelfSubjectRulesReview"):
            if m != "POST" or name:
                raise method_not_allowed()
            return await self.h_review(request, r, user)
        if name is None and m in ("PUT", "PATCH"):
            raise method_not_allowed()
        if name is not None and m == "POST" and sub is None:
            raise method_not_allowed()
        if m == "POST" and name is None and r.namespaced and ns is None:
            raise not_found_path()
        self.check(user, verb, r, sub, name or "", ns or "")
        if sub == "log":
            return await self.h_log(request, r, ns, name)
        if sub in ("exec", "attach"):
            import execws
            return await execws.handle_exec(self, request, ns, name, sub)
        if sub == "token":
            return await self.h_token(request, r, ns, name)
        if sub == "scale":
            return await self.h_scale(request, r, ns, name)
        if sub == "portforward":
            import portforward
            return await portforward.handle_portforward(self, request, ns, name)
        if sub in ("binding", "eviction"):
            return await self.h_eviction(request, r, ns, name, sub)
        if m == "GET":
            if name:
                obj = self.get_obj(r, ns, name)
                return self.respond_obj(request, r, obj)
            if is_watch:
                return await self.h_watch(request, r, ns)
            return self.h_list(request, r, ns)
        if m == "POST":
            body = await self.read_body(request)
            return self.h_create(request, r, ns, body, user)
        if m == "PUT":
            body = await self.read_body(request)
            return self.h_update(request, r, ns, name, body, sub, user)
        if m == "PATCH":
            return await self.h_patch(request, r, ns, name, sub, user)
        if m == "DELETE":
            if name:
                return await self.h_delete(request, r, ns, name)
            return await self.h_deletecollection(request, r, ns)
        raise method_not_allowed()

    def check(self, user, verb, r, sub, name, ns):
        if r.kind == "Namespace" and name and not ns:
            ns = name  # like the apiserver's RequestInfo: a namespace's namespace is its name
        ok, _ = self.authz.authorize(user, verb, r.group, r.plural, sub or "", name, ns)
        if not ok:
            raise ApiError(403, "Forbidden", forbidden_message(user, verb, r.group, r.plural, sub or "", name, ns),
                           name=name or None, group=r.group, kind=r.plural)

    def admit(self, request, r, operation, obj, old, sub=None, kind=None):
        """ValidatingAdmissionPolicy admission (admission.py) of a client's write; controller writes
        (no request) are not admitted."""
        user = CURRENT_USER.get()
        if request is None or user is None:
            return
        import admission
        admission.admit(self, r, operation, obj, old, sub or "", bool(request.query.get("dryRun")), user,
                        kind=kind)

    def check_escalation(self, r, obj, old):
        """RBAC escalation prevention (the apiserver's policy-based rbac storage): a Role/ClusterRole
        needs `escalate` on it or all of its rules held; a binding needs `bind` on the role it refers
        to or all of that role's rules held, in the binding's namespace (cluster-wide for
        ClusterRoleBindings). Raises a 403 Forbidden ApiError."""
        user = CURRENT_USER.get()
        if user is None or "system:masters" in user.groups:
            return
        md = obj.get("metadata") or {}
        name = md.get("name", "")
        ns = md.get("namespace", "") if r.namespaced else ""
        if r.kind in ("Role", "ClusterRole"):
            if old is not None and (old.get("rules") or []) == (obj.get("rules") or []) and \
                    old.get("aggregationRule") == obj.get("aggregationRule"):
                return
            ok, _ = self.authz.authorize(user, "escalate", r.group, r.plural, "", name, ns)
            if ok:
                return
            wanted = list(obj.get("rules") or [])
        else:
            if old is not None and (old.get("subjects") or []) == (obj.get("subjects") or []) and \
                    old.get("roleRef") == obj.get("roleRef"):
                return
            ref = obj.get("roleRef") or {}
            plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
            ok, _ = self.authz.authorize(user, "bind", "rbac.authorization.k8s.io", plural, "",
                                         ref.get("name", ""), ns)
            if ok:
                return
            wanted = self.authz._role_rules(ref, ns)
        held, held_nonres = self.authz.rules_for(user, ns)
        missing = uncovered_rules(held + held_nonres, wanted)
        if missing:
            raise ApiError(403, "Forbidden",
                           f'{r.plural}.{r.group} "{name}" is forbidden: ' + escalation_message(user, missing),
                           name=name or None, group=r.group, kind=r.plural)

    async def read_body(self, request):
        raw = await request.read()
        ct = request.headers.get("Content-Type", "")
        if "protobuf" in ct:
            import pb
            try:
                body = pb.decode(raw)
            except Exception as e:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                               f"accepted media types include: application/json, application/yaml ({e})") from None
        else:
            if not raw:
                raise bad_request("the body of the request was in an unknown format - accepted media types "
                                  "include: application/json, application/yaml, application/vnd.kubernetes.protobuf")
            try:
                body = load_yaml(raw.decode()) if "yaml" in ct else json.loads(raw)
            except Exception as e:
                raise bad_request(f"the object provided is unrecognized: {e}") from None
        target = request.get("body_target")
        if target is not None and request.method in ("POST", "PUT"):
            fieldvalidation.check_body(self, request, target[0], target[1], body, raw, ct)
        return body

    def get_obj(self, r, ns, name):
        obj = self.store.get(r.storage, ns, name)
        if obj is None:
            raise not_found(r.plural, r.group, name)
        return self.present(r, obj)

    def present(self, r, obj, in_list=False):
        o = deepcopy(obj)
        if r.group == "events.k8s.io":
            o = core_event_to_v1(o)
        if in_list:
            o.pop("apiVersion", None)
            o.pop("kind", None)
        else:
            o["apiVersion"] = r.gv
            o["kind"] = r.kind
        return o

    def want_table(self, request):
        acc = request.headers.get("Accept", "")
        first = acc.split(",")[0]
        return "as=Table" in first

    def respond_obj(self, request, r, obj, status=200):
        if self.want_table(request):
            t = to_table(r.kind, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                         request.query.get("includeObject", "Metadata"))
            return jresp(t, status)
        return jresp(obj, status)

    # ------------------------------------------------------------ list
    def _selectors(self, request):
        q = request.query
        lreqs = parse_label_selector(q.get("labelSelector"))
        freqs = parse_field_selector(q.get("fieldSelector"))
        return lreqs, freqs

    def _matcher(self, lreqs, freqs):
        def m(o):
            return label_match(lreqs, o["metadata"].get("labels")) and field_match(freqs, o)
        return m

    def h_list(self, request, r, ns):
        q = request.query
        lreqs, freqs = self._selectors(request)
        match = self._matcher(lreqs, freqs)
        limit = int(q.get("limit", "0") or 0)
        cont = q.get("continue")
        start_after = None
        list_rv = self.store.rv
        if cont:
            try:
                tok = json.loads(base64.b64decode(cont))
                start_after = tuple(tok["start"])
                tok_rv = int(tok["rv"])
            except Exception:
                raise bad_request("continue key is not valid: illegal base64 data") from None
            if tok_rv < self.store.compacted:
                raise expired("The provided continue parameter is too old to display a consistent list "
                              "result. You can start a new list without the continue parameter, or use the "
                              "continue token in this response to retrieve the remainder of the results. "
                              "Continuing with the provided token results in an inconsistent list - objects "
                              "that were created, modified, or deleted between the time the first chunk was "
                              "returned and now may show up in the list.")
            list_rv = tok_rv
        d = self.store.data[r.storage]
        keys = sorted(k for k in d.keys() if ns is None or k[0] == ns)
        if start_after is not None:
            keys = [k for k in keys if k > start_after]
        items = []
        remaining = 0
        next_key = None
        items_last = None
        for i, k in enumerate(keys):
            o = d[k]
            if not match(o):
                continue
            if limit and len(items) >= limit:
                next_key = items_last
                remaining = sum(1 for kk in keys[i:] if match(d[kk]))
                break
            items.append(o)
            items_last = k
        meta = {"resourceVersion": str(list_rv)}
        if next_key is not None:
            meta["continue"] = base64.b64encode(jdump({"rv": list_rv, "start": list(next_key)}).encode()).decode()
            if not lreqs and not freqs:
                meta["remainingItemCount"] = remaining
        if self.want_table(request):
            t = to_table(r.kind, [self.present(r, o) for o in items], meta,
                         q.get("includeObject", "Metadata"))
            return jresp(t)
        out = {"kind": r.kind + "List", "apiVersion": r.gv, "metadata": meta,
               "items": [self.present(r, o, in_list=True) for o in items]}
        return jresp(out)

    # ------------------------------------------------------------ watch
    async def h_watch(self, request, r, ns):
        q = request.query
        lreqs, freqs = self._selectors(request)
        match = self._matcher(lreqs, freqs)
        rv_s = q.get("resourceVersion", "")
        timeout = q.get("timeoutSeconds")
        timeout = float(timeout) if timeout else None
        bookmarks = _bool(q.get("allowWatchBookmarks"))
        send_initial = _bool(q.get("sendInitialEvents"))
        table = self.want_table(request)
        resp = web.StreamResponse(status=200, headers={"Content-Type": JSON_CT,
                                                       "Transfer-Encoding": "chunked",
                                                       "Cache-Control": "no-cache, private"})
        initial = []
        try:
            rv_i = int(rv_s) if rv_s not in ("", "0") else None
        except ValueError:
            raise bad_request(f"invalid resource version: {rv_s}") from None
        try:
            if rv_i is not None and not send_initial:
                w, backlog = self.store.add_watch(r.storage, ns, match, rv_i)
            else:
                w, backlog = self.store.add_watch(r.storage, ns, match, None)
                initial = [o for o in self.store.items(r.storage, ns) if match(o)]
        except LookupError as e:
            await resp.prepare(request)
            st = expired(f"too old resource version: {rv_i} ({e.args[0] + 1})").status()
            await resp.write((jdump({"type": "ERROR", "object": st}) + "\n").encode())
            await resp.write_eof()
            return resp
        await resp.prepare(request)
        first_table = [True]

        def encode(etype, obj):
            if etype == "BOOKMARK":
                o = obj
            else:
                o = self.present(r, obj)
                if table:
                    o = to_table(r.kind, [o], {"resourceVersion": o["metadata"].get("resourceVersion", "")},
                                 q.get("includeObject", "Metadata"), with_columns=first_table[0])
                    first_table[0] = False
            return (jdump({"type": etype, "object": o}) + "\n").encode()

        def bookmark(extra_ann=None):
            md = {"resourceVersion": str(self.store.rv)}
            if extra_ann:
                md["annotations"] = extra_ann
            return encode("BOOKMARK", {"kind": r.kind, "apiVersion": r.gv, "metadata": md})

        deadline = time.time() + timeout if timeout else None
        try:
            for o in initial:
                await resp.write(encode("ADDED", o))
            if send_initial and bookmarks:
                await resp.write(bookmark({"k8s.io/initial-events-end": "true"}))
            for et, o, old in backlog:
                if ns and o["metadata"].get("namespace") != ns:
                    continue
                now_m, was_m = match(o), (match(old) if old is not None else None)
                if et == "MODIFIED" and old is not None:
                    if now_m and not was_m:
                        et = "ADDED"
                    elif was_m and not now_m:
                        et = "DELETED"
                    elif not now_m:
                        continue
                elif not now_m:
                    continue
                await resp.write(encode(et, o))
            last_bm = time.time()
            while True:
                wait = None
                if deadline:
                    wait = deadline - time.time()
                    if wait <= 0:
                        break
                if bookmarks:
                    bi = self.settings["bookmarkInterval"]
                    bw = max(0.0, last_bm + bi - time.time())
                    wait = bw if wait is None else min(wait, bw)
                try:
                    et, o = await asyncio.wait_for(w.queue.get(), wait) if wait is not None \
                        else await w.queue.get()
                except asyncio.TimeoutError:
                    if bookmarks and time.time() >= last_bm + self.settings["bookmarkInterval"]:
                        await resp.write(bookmark())
                        last_bm = time.time()
                    continue
                if w.overflow:
                    break
                await resp.write(encode(et, o))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.remove_watch(w)
        try:
            await resp.write_eof()
        except Exception:
            pass
        return resp

    # ------------------------------------------------------------ create
    def _check_namespace(self, r, ns, name_for_err=None):
        if not r.namespaced:
            return
        nso = self.store.get("/namespaces", "", ns)
        if nso is None:
            raise not_found("namespaces", "", ns)
        if nso.get("status", {}).get("phase") == "Terminating":
            raise ApiError(403, "Forbidden", f"{r.plural} \"{name_for_err}\" is forbidden: unable to create new "
                           f"content in namespace {ns} because it is being terminated",
                           name=name_for_err, group=r.group, kind=r.plural,
                           causes=[{"reason": "NamespaceTerminating",
                                    "message": f"namespace {ns} is being terminated",
                                    "field": "metadata.namespace"}])

    def _manager(self, request, default=None):
        fm = request.query.get("fieldManager")
        if fm:
            return fm
        if default:
            return default
        ua = request.headers.get("User-Agent", "unknown")
        return ua.split("/")[0] or "unknown"

    def _validate_body(self, r, body, ns):
        if not isinstance(body, dict):
            raise bad_request("the object provided is unrecognized")
        kind = body.get("kind")
        if kind and kind != r.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({r.kind})")
        av = body.get("apiVersion")
        if av and av != r.gv and not (r.storage.endswith("ingresses")):
            raise bad_request(f"the API version in the data ({av}) does not match the expected API version ({r.gv})")
        md = body.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise bad_request("metadata must be an object")
        if r.namespaced:
            bns = md.get("namespace")
            if bns and ns and bns != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent "
                                  "on the request")
            md["namespace"] = ns
        if r.group == "events.k8s.io":
            body.update(v1_event_to_core(body))

    def h_create(self, request, r, ns, body, user, manager=None):
        self._validate_body(r, body, ns)
        md = body["metadata"]
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + rand_suffix()
        name = md.get("name")
        if not name:
            raise invalid(r.kind, r.group, "", [("metadata.name", "Required value: name or generateName is "
                                                 "required", "FieldValueRequired")])
        errs = check_name(name, r.name_kind)
        if r.kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
            errs = [] if ("/" not in name and "%" not in name and name not in (".", "..")) else \
                ["may not contain '/'"]
        if errs:
            raise invalid(r.kind, r.group, name, [("metadata.name", f'Invalid value: "{name}": {e}',
                                                   "FieldValueInvalid") for e in errs])
        self._check_namespace(r, ns, name)
        for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation",
                  "selfLink"):
            md.pop(k, None)
        if r.kind == "Secret" and body.get("type") == "kubernetes.io/service-account-token":
            self._fill_sa_secret(r, body, ns)
        kinds.prepare(self, r, body, None, "create")
        self._finish_meta(r, body)
        mgr = manager or self._manager(request)
        patchmod.record_update(None, body, mgr, r.gv, rfc3339())
        self.admit(request, r, "CREATE", body, None)
        # Like the apiserver: RBAC escalation checks, validation and admission come first; storage
        # says AlreadyExists last (a dry run included).
        if self.store.get(r.storage, ns, name) is not None:
            raise already_exists(r.plural, r.group, name)
        if request.query.get("dryRun"):
            body["metadata"]["resourceVersion"] = ""
            return jresp(self.present(r, body), 201)
        out = self.store.put(r.storage, body, "ADDED")
        self._after_create(r, out)
        return self.respond_obj(request, r, self.present(r, out), 201)

    def _fill_sa_secret(self, r, body, ns):
        ann = body["metadata"].get("annotations") or {}
        saname = ann.get("kubernetes.io/service-account.name")
        sar = self.reg.for_kind("ServiceAccount")
        sa = self.store.get(sar.storage, ns, saname) if saname else None
        if sa is None:
            return  # the real token controller would delete the secret; keep it tokenless
        body["metadata"].setdefault("annotations", {})["kubernetes.io/service-account.uid"] = sa["metadata"]["uid"]
        body["metadata"]["uid"] = new_uid()
        tok, _ = self.issue_sa_token(ns, saname, sa["metadata"]["uid"],
                                     secret_key=(ns, body["metadata"]["name"], body["metadata"]["uid"]))
        data = body.setdefault("data", {}) or {}
        body["data"] = data
        data["token"] = b64(tok)
        data["namespace"] = b64(ns)
        try:
            data["ca.crt"] = b64(open(self.ca_path).read()) if self.ca_path else ""
        except OSError:
            pass

    # ------------------------------------------------------------ update
    def h_update(self, request, r, ns, name, body, sub, user, manager=None):
        self._validate_body(r, body, ns)
        md = body["metadata"]
        if md.get("name") and md["name"] != name:
            raise bad_request(f"the name of the object ({md['name']}) does not match the name on the URL ({name})")
        md["name"] = name
        old = self.store.get(r.storage, ns, name)
        if old is None:
            raise not_found(r.plural, r.group, name)
        out = self.do_update(request, r, old, body, sub, manager or self._manager(request))
        return self.respond_obj(request, r, self.present(r, out))

    def do_update(self, request, r, old, body, sub, manager, op_apply=False):
        name = old["metadata"]["name"]
        rv = body["metadata"].get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(r.plural, r.group, name)
        if sub == "status":
            new = deepcopy(old)
            new["status"] = body.get("status")
            new["metadata"] = deepcopy(old["metadata"])
        else:
            new = body
            if r.status_sub and not op_apply:
                new["status"] = deepcopy(old.get("status"))
                if new["status"] is None:
                    new.pop("status")
            elif r.status_sub and op_apply:
                new["status"] = deepcopy(old.get("status"))
                if new["status"] is None:
                    new.pop("status")
            kinds.prepare(self, r, new, old, "update")
        self._finish_meta(r, new, old)
        if not op_apply:
            patchmod.record_update(old, new, manager, r.gv, rfc3339(),
                                   subresource=sub if sub in ("status", "scale") else None)
        if sub != "scale":  # h_scale admits the Scale object itself
            self.admit(request, r, "UPDATE", new, old, sub)
        cmp_new = deepcopy(new)
        cmp_new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        cmp_old = deepcopy(old)
        for o in (cmp_new, cmp_old):
            for e in o["metadata"].get("managedFields") or []:
                e.pop("time", None)
        if cmp_new == cmp_old:
            return old  # no-op update: resourceVersion unchanged
        if request is not None and request.query.get("dryRun"):
            return new
        # finalizers cleared on an object being deleted -> delete it now
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers") and \
                r.kind != "Namespace":
            self.store.put(r.storage, new, "MODIFIED")
            return self.store.remove(r.storage, new["metadata"].get("namespace"), name)
        return self.store.put(r.storage, new, "MODIFIED")

    # ------------------------------------------------------------ patch
    async def h_patch(self, request, r, ns, name, sub, user):
        fieldvalidation.mode(self, request, "PatchOptions")  # like the apiserver: options before the object
        ct = request.headers.get("Content-Type", "").split(";")[0].strip()
        raw = await request.read()
        old = self.store.get(r.storage, ns, name)
        q = request.query
        if ct == "application/apply-patch+yaml":
            try:
                applied = load_yaml(raw.decode())
            except Exception as e:
                raise bad_request(f"error decoding YAML: {e}") from None
            if not isinstance(applied, dict):
                raise bad_request("the object provided is unrecognized")
            manager = q.get("fieldManager")
            if not manager:
                raise bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                                  "is required for apply patch")
            fieldvalidation.check_apply(self, request, r, sub, raw.decode(), applied)
            force = _bool(q.get("force"))
            self._validate_body(r, applied, ns)
            amd = applied["metadata"]
            if amd.get("name") and amd["name"] != name:
                raise bad_request(f"the name of the object ({amd['name']}) does not match the name on the "
                                  f"URL ({name})")
            amd["name"] = name
            if applied.get("apiVersion") is None or applied.get("kind") is None:
                raise bad_request("invalid object type: /, Kind=")
            if old is None:
                self._check_namespace(r, ns, name)
                errs = check_name(name, r.name_kind)
                if errs:
                    raise invalid(r.kind, r.group, name, [("metadata.name", f'Invalid value: "{name}": {e}',
                                                           "FieldValueInvalid") for e in errs])
            base = old
            if sub == "status":
                body = {"status": applied.get("status")}
                new = patchmod.merge_patch(old, body) if old else None
                if old is None:
                    raise not_found(r.plural, r.group, name)
                out = self.do_update(request, r, old, new, "status", manager)
                return self.respond_obj(request, r, self.present(r, out))
            new = patchmod.server_side_apply(base, applied, manager, r.gv, force, rfc3339(),
                                             r.plural, r.group, name)
            new["apiVersion"] = r.gv
            new["kind"] = r.kind
            new["metadata"]["name"] = name
            if r.namespaced:
                new["metadata"]["namespace"] = ns
            if old is None:
                if r.kind == "Secret" and new.get("type") == "kubernetes.io/service-account-token":
                    self._fill_sa_secret(r, new, ns)
                mfs = new["metadata"].get("managedFields")
                kinds.prepare(self, r, new, None, "create")
                self._finish_meta(r, new)
                new["metadata"]["managedFields"] = mfs
                self.admit(request, r, "CREATE", new, None)
                if q.get("dryRun"):
                    return jresp(self.present(r, new), 201)
                out = self.store.put(r.storage, new, "ADDED")
                self._after_create(r, out)
                return self.respond_obj(request, r, self.present(r, out), 201)
            if "resourceVersion" not in amd:
                new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            out = self.do_update(request, r, old, new, None, manager, op_apply=True)
            return self.respond_obj(request, r, self.present(r, out))
        if old is None:
            raise not_found(r.plural, r.group, name)
        try:
            p = json.loads(raw) if "yaml" not in ct else load_yaml(raw.decode())
        except Exception as e:
            raise bad_request(f"error decoding patch: {e}") from None
        cur = self.present(r, old)
        if ct == "application/json-patch+json":
            new = patchmod.json_patch(cur, p)
        elif ct == "application/merge-patch+json":
            if not isinstance(p, dict):
                raise bad_request("merge patch must be an object")
            new = patchmod.merge_patch(cur, p)
        elif ct == "application/strategic-merge-patch+json":
            if not isinstance(p, dict):
                raise bad_request("strategic merge patch must be an object")
            new = patchmod.smp(cur, p)
        else:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                           "accepted media types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml, "
                           "application/strategic-merge-patch+json")
        if not isinstance(new, dict):
            raise bad_request("patch produced a non-object")
        fieldvalidation.check_patched(self, request, r, sub, raw, ct, p, new)
        new.setdefault("metadata", {})
        if new["metadata"].get("name") != name:
            raise bad_request("metadata.name: Invalid value: the name of the object cannot be changed")
        if r.namespaced:
            new["metadata"]["namespace"] = ns
        if r.group == "events.k8s.io":
            new.update(v1_event_to_core(new))
        if r.kind == "Secret" and "stringData" in new:
            pass
        if (p.get("metadata") or {}).get("resourceVersion") if isinstance(p, dict) else False:
            pass
        else:
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        out = self.do_update(request, r, old, new, sub, self._manager(request))
        return self.respond_obj(request, r, self.present(r, out))

    # ------------------------------------------------------------ delete
    async def h_delete(self, request, r, ns, name):
        raw = await request.read()
        # no await after this read: the object written back below is the latest one
        obj = self.store.get(r.storage, ns, name)
        if obj is None:
            raise not_found(r.plural, r.group, name)
        opts = {}
        if raw and "protobuf" in request.headers.get("Content-Type", ""):
            import pb
            try:
                opts = pb.decode(raw)
            except Exception:
                raise bad_request("invalid DeleteOptions") from None
        elif raw:
            try:
                opts = json.loads(raw)
            except Exception:
                raise bad_request("invalid DeleteOptions") from None
        q = request.query
        policy = q.get("propagationPolicy") or opts.get("propagationPolicy")
        if policy is None:
            orphan = opts.get("orphanDependents")
            if orphan is None and q.get("orphanDependents") is not None:
                orphan = _bool(q.get("orphanDependents"))
            policy = "Orphan" if orphan else "Background"
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
            raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on {r.plural} \"{name}\": Precondition "
                           f"failed: UID in precondition: {pre['uid']}, UID in object meta: "
                           f"{obj['metadata']['uid']}", name=name, group=r.group, kind=r.plural)
        if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on {r.plural} \"{name}\": Precondition "
                           f"failed: ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion "
                           f"in object meta: {obj['metadata']['resourceVersion']}",
                           name=name, group=r.group, kind=r.plural)
        self.admit(request, r, "DELETE", None, obj)
        if q.get("dryRun") or opts.get("dryRun"):
            return jresp(self.present(r, obj))
        if r.kind == "Namespace":
            if name in ("default", "kube-system", "kube-public"):
                raise ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not be '
                               "deleted", name=name, kind="namespaces", group="")
            out = self._terminate_namespace(obj)
            return jresp(self.present(r, out))
        if obj["metadata"].get("finalizers"):
            if obj["metadata"].get("deletionTimestamp"):
                return jresp(self.present(r, obj))
            o = deepcopy(obj)
            o["metadata"]["deletionTimestamp"] = rfc3339()
            o["metadata"]["deletionGracePeriodSeconds"] = 0
            if policy == "Foreground" and "foregroundDeletion" not in o["metadata"]["finalizers"]:
                pass
            out = self.store.put(r.storage, o, "MODIFIED")
            return jresp(self.present(r, out), 202 if policy == "Foreground" else 200)
        out = self._delete_now(r, obj, policy)
        if r.kind in ("Pod", "Namespace", "Service"):
            return jresp(self.present(r, out))
        return jresp(success_status(name, r.group, r.plural, out["metadata"]["uid"]))

    def _delete_now(self, r, obj, policy):
        md = obj["metadata"]
        out = self.store.remove(r.storage, md.get("namespace"), md["name"])
        uid = md["uid"]
        # garbage collection of dependents
        for other in self.reg.resources:
            if not other.namespaced and r.namespaced:
                continue
            if other.plural in ("events",):
                continue
            seen = set()
            for o in list(self.store.items(other.storage, md.get("namespace") if r.namespaced else None)):
                refs = o["metadata"].get("ownerReferences") or []
                if not any(ref.get("uid") == uid for ref in refs):
                    continue
                key = (other.storage, o["metadata"].get("namespace"), o["metadata"]["name"])
                if key in seen:
                    continue
                seen.add(key)
                if policy == "Orphan":
                    o2 = deepcopy(o)
                    o2["metadata"]["ownerReferences"] = [x for x in refs if x.get("uid") != uid]
                    if not o2["metadata"]["ownerReferences"]:
                        del o2["metadata"]["ownerReferences"]
                    self.store.put(other.storage, o2, "MODIFIED")
                else:
                    cur = self.store.get(other.storage, o["metadata"].get("namespace"), o["metadata"]["name"])
                    if cur is not None:
                        self._delete_now(other, cur, policy)
        if r.kind == "ServiceAccount":
            for tok, (u, sk, exp) in list(self.sa_tokens.items()):
                if u.uid == uid:
                    del self.sa_tokens[tok]
        return out

    def _terminate_namespace(self, obj):
        if obj.get("status", {}).get("phase") == "Terminating":
            return obj
        o = deepcopy(obj)
        o["metadata"]["deletionTimestamp"] = rfc3339()
        o["status"] = {"phase": "Terminating"}
        out = self.store.put("/namespaces", o, "MODIFIED")
        name = obj["metadata"]["name"]

        async def finish():
            await asyncio.sleep(self.settings["namespaceDeleteDelay"])
            for r in self.reg.resources:
                if not r.namespaced:
                    continue
                for item in list(self.store.items(r.storage, name)):
                    if self.store.get(r.storage, name, item["metadata"]["name"]) is not None:
                        self.store.remove(r.storage, name, item["metadata"]["name"])
            self.store.remove("/namespaces", "", name)
        asyncio.get_event_loop().create_task(finish())
        return out

    async def h_deletecollection(self, request, r, ns):
        lreqs, freqs = self._selectors(request)
        match = self._matcher(lreqs, freqs)
        if r.kind == "Namespace":
            raise method_not_allowed()
        items = [o for o in self.store.items(r.storage, ns) if match(o)]
        for o in items:
            self.admit(request, r, "DELETE", None, o)
        out = []
        for o in items:
            cur = self.store.get(r.storage, o["metadata"].get("namespace"), o["metadata"]["name"])
            if cur is not None:
                out.append(self.present(r, self._delete_now(r, cur, "Background"), in_list=True))
        return jresp({"kind": r.kind + "List", "apiVersion": r.gv,
                      "metadata": {"resourceVersion": str(self.store.rv)}, "items": out})

    # ------------------------------------------------------------ subresources
    async def h_scale(self, request, r, ns, name):
        raw = await request.read() if request.method != "GET" else b""
        # read the object only after the last await: a copy taken before it could be stale and
        # writing it back would revert concurrent changes (controller annotations/status, other clients)
        obj = self.store.get(r.storage, ns, name)
        if obj is None:
            raise not_found(r.plural, r.group, name)

        def scale_of(o):
            from kutil import labelselector_to_string
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {"name": name, "namespace": ns, "uid": o["metadata"]["uid"],
                                 "resourceVersion": o["metadata"]["resourceVersion"],
                                 "creationTimestamp": o["metadata"]["creationTimestamp"]},
                    "spec": {"replicas": o["spec"].get("replicas", 1)},
                    "status": {"replicas": (o.get("status") or {}).get("replicas", 0),
                               "selector": labelselector_to_string(o["spec"].get("selector") or {})}}
        cur = scale_of(obj)
        if request.method == "GET":
            return jresp(cur)
        ct = request.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            body = json.loads(raw) if "yaml" not in ct else load_yaml(raw.decode())
        except Exception:
            raise bad_request("invalid body") from None
        if request.method == "PUT":
            fieldvalidation.check_body(self, request, r, "scale", body, raw, ct)
            new = body
        else:
            new = patchmod.json_patch(cur, body) if ct == "application/json-patch+json" else \
                patchmod.merge_patch(cur, body)
            fieldvalidation.check_patched(self, request, r, "scale", raw, ct, body, new)
        rv = (new.get("metadata") or {}).get("resourceVersion")
        if request.method == "PUT" and rv and rv != obj["metadata"]["resourceVersion"]:
            raise conflict(r.plural, r.group, name)
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise invalid("Scale", "autoscaling", name, [("spec.replicas", f"Invalid value: {replicas}: must be "
                                                          "greater than or equal to 0", "FieldValueInvalid")])
        o = deepcopy(obj)
        o["spec"]["replicas"] = replicas
        self.admit(request, r, "UPDATE", scale_of(o), cur, "scale", kind=("autoscaling", "v1", "Scale"))
        out = self.do_update(request, r, obj, o, "scale", self._manager(request))
        return jresp(scale_of(out))

    async def h_token(self, request, r, ns, name):
        if request.method != "POST":
            raise method_not_allowed()
        sa = self.store.get(r.storage, ns, name)
        if sa is None:
            raise not_found("serviceaccounts", "", name)
        body = {}
        raw = await request.read()
        if raw:
            body = await self.read_body(request)
        spec = body.get("spec") or {}
        ttl = int(spec.get("expirationSeconds") or 3600)
        tok, exp = self.issue_sa_token(ns, name, sa["metadata"]["uid"], ttl=ttl,
                                       audiences=spec.get("audiences"))
        out = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
               "spec": {"audiences": spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"],
                        "expirationSeconds": ttl, "boundObjectRef": spec.get("boundObjectRef")},
               "status": {"token": tok, "expirationTimestamp": rfc3339(exp)}}
        return jresp(out, 201)

    async def h_eviction(self, request, r, ns, name, sub):
        obj = self.store.get(r.storage, ns, name)
        if obj is None:
            raise not_found(r.plural, r.group, name)
        if sub == "eviction":
            self._delete_now(r, obj, "Background")
            return jresp(success_status(), 201)
        raise method_not_allowed()

    async def h_review(self, request, r, user):
        body = await self.read_body(request)
        if r.kind == "SelfSubjectReview":
            return jresp({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                          "metadata": {"creationTimestamp": None},
                          "status": {"userInfo": user.info()}}, 201)
        spec = body.get("spec") or {}
        if r.kind == "SelfSubjectRulesReview":
            res, nonres = self.authz.rules_for(user, spec.get("namespace", ""))
            rr = [{"verbs": x.get("verbs", []), "apiGroups": x.get("apiGroups", []),
                   "resources": x.get("resources", []),
                   **({"resourceNames": x["resourceNames"]} if x.get("resourceNames") else {})} for x in res]
            nr = [{"verbs": x.get("verbs", []), "nonResourceURLs": x.get("nonResourceURLs", [])} for x in nonres]
            return jresp({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                          "metadata": {"creationTimestamp": None}, "spec": spec,
                          "status": {"resourceRules": rr, "nonResourceRules": nr, "incomplete": False}}, 201)
        ra = spec.get("resourceAttributes")
        nra = spec.get("nonResourceAttributes")
        if ra:
            ok, reason = self.authz.authorize(user, ra.get("verb", ""), ra.get("group", ""), ra.get("resource", ""),
                                              ra.get("subresource", ""), ra.get("name", ""),
                                              ra.get("namespace", ""))
        elif nra:
            ok, reason = self.authz.authorize(user, nra.get("verb", ""), "", "", path=nra.get("path", ""))
        else:
            raise invalid("SelfSubjectAccessReview", "authorization.k8s.io", "",
                          [("spec.resourceAttributes", "Invalid value: \"null\": exactly one of "
                            "nonResourceAttributes or resourceAttributes must be specified", "FieldValueInvalid")])
        st = {"allowed": ok}
        if reason:
            st["reason"] = reason
        return jresp({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                      "metadata": {"creationTimestamp": None}, "spec": spec, "status": st}, 201)

    # ------------------------------------------------------------ logs
    async def h_log(self, request, r, ns, name):
        q = request.query
        pod = self.store.get(r.storage, ns, name)
        if pod is None:
            raise not_found("pods", "", name)
        container = self.ctl.pick_container(pod, q.get("container"))
        opts = {"follow": _bool(q.get("follow")), "timestamps": _bool(q.get("timestamps"))}
        for k in ("tailLines", "limitBytes", "sinceSeconds"):
            if q.get(k) is not None:
                try:
                    opts[k] = int(q[k])
                except ValueError:
                    raise bad_request(f"{k}: invalid value") from None
        if "sinceSeconds" in opts and "sinceTime" in q:
            raise invalid("PodLogOptions", "", "", [("", "at most one of `sinceTime` or `sinceSeconds` may be "
                                                     "specified", "FieldValueForbidden")])
        if q.get("sinceTime"):
            try:
                opts["sinceTime"] = parse_time(q["sinceTime"])
            except ValueError:
                raise bad_request("sinceTime: invalid time") from None
        try:
            lb = self.ctl.log_source(pod, container, _bool(q.get("previous")))
        except KubeletLogText as e:
            return web.Response(status=200, body=e.text.encode(), content_type="text/plain")
        rt = self.ctl.pod_rt(ns, name)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})

        # Like the kubelet: a followed log is flushed line by line, a plain read goes out in
        # 32 KiB pieces (io.Copy's buffer), not a chunk per line. A plain read's status line and
        # headers go out with its first piece (or at its end); a follow's at once, before any
        # line, as kube-apiserver 1.32 sends them (seen: a follow of a quiet log with
        # tailLines=0 gets its 200 and headers within milliseconds, over HTTP/1.1 and h2).
        pending = []
        pending_size = 0

        async def send(data):
            if not resp.prepared:
                await resp.prepare(request)
            await resp.write(data)

        async def write(data):
            nonlocal pending_size
            if opts.get("follow"):
                await send(data)
                return
            pending.append(data)
            pending_size += len(data)
            if pending_size >= 32768:
                await flush()

        async def flush():
            nonlocal pending_size
            if pending:
                await send(b"".join(pending))
                pending.clear()
                pending_size = 0
        try:
            if opts.get("follow"):
                await resp.prepare(request)
            await self.ctl.stream_logs(lb, rt, opts, write,
                                       alive=lambda: request.transport is not None and
                                       not request.transport.is_closing())
            await flush()
            if not resp.prepared:
                await resp.prepare(request)
            await resp.write_eof()
        except ConnectionAbortedError:
            await flush()
            if request.transport is not None:  # a broken connection: no end of the chunked body
                request.transport.abort()       # (before any byte: no response at all)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp


def not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def core_event_to_v1(o):
    out = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": o.get("metadata", {}),
           "regarding": o.get("involvedObject"), "note": o.get("message"), "reason": o.get("reason"),
           "type": o.get("type"), "reportingController": o.get("reportingComponent") or
           (o.get("source") or {}).get("component", ""),
           "reportingInstance": o.get("reportingInstance") or (o.get("source") or {}).get("host", ""),
           "eventTime": o.get("eventTime"), "deprecatedSource": o.get("source"),
           "deprecatedFirstTimestamp": o.get("firstTimestamp"), "deprecatedLastTimestamp": o.get("lastTimestamp"),
           "deprecatedCount": o.get("count"), "action": o.get("action")}
    return {k: v for k, v in out.items() if v is not None}


def v1_event_to_core(o):
    if "regarding" not in o and "note" not in o:
        return {}
    return {"involvedObject": o.get("regarding") or {}, "message": o.get("note", ""),
            "reportingComponent": o.get("reportingController", ""),
            "reportingInstance": o.get("reportingInstance", ""), "apiVersion": "v1"}
