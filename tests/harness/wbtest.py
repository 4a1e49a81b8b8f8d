"""Test harness for wb's end-to-end tests.

Starts the services the tests talk to and runs the real wb binary:
  * a Kubernetes API server: the fake one in tests/fakekube (TLS, tokens, client certs), or a
    real cluster when WB_TEST_KUBECONFIG names an admin kubeconfig ("real mode", see RealCluster);
  * the real OCI registry (Debian's docker-registry), plain or TLS + htpasswd, on random ports.

Every test gets its own HOME, so profiles and state never leak between tests or into the user's.

Real mode needs, besides WB_TEST_KUBECONFIG, WB_TEST_REGISTRY: a registry (host:port, plain HTTP,
no auth) that this machine pushes to and the cluster's nodes pull from. Images that run there (the
test server jar on a JRE base, a crashing release, a busybox image) are pushed into it under
wb-test/. Users are made with CertificateSigningRequests (signer kubernetes.io/kube-apiserver-client,
approved by the admin); namespaces are made per test and labelled wb-test.dev/run=<run id>, and
deleted when the module ends. scripts/test-real.sh runs the suite this way.
"""
import base64
import fcntl
import hashlib
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import uuid
import time
import unittest
import urllib.request
import urllib.error
import ssl

SOURCE_DIR = os.environ.get("WB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WB_BIN = os.path.abspath(os.environ.get("WB_BIN") or os.path.join(SOURCE_DIR, "build", "default", "cli", "wb"))
PYTHON = "/usr/bin/python3"
REAL_KUBECONFIG = os.environ.get("WB_TEST_KUBECONFIG", "")
REAL_REGISTRY = os.environ.get("WB_TEST_REGISTRY", "")
# One id per test run (scripts/test-real.sh sets it for all modules); names what this run made.
RUN_ID = os.environ.get("WB_TEST_RUN_ID") or uuid.uuid4().hex[:6]
RUN_LABEL = "wb-test.dev/run"
CACHE_DIR = os.environ.get("WB_TEST_CACHE", "/var/tmp/wb-test-cache")
# Profile lines for apps that really run on a real cluster: a CPU request of 5% of the limit instead
# of 25% (the limit stays, so a JVM starts as fast), so that the pods of modules running in parallel
# fit on a small node (2 CPUs hold 16 apps at the default, 80 at this). Empty on the fake.
LEAN_APPS = "defaults:\n  cpuRequestPercent: 5\n" if REAL_KUBECONFIG else ""

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _locked(name):
    """An exclusive lock file under CACHE_DIR (held until the returned file is closed): modules run in
    parallel and must not build the same cached fixture twice."""
    os.makedirs(CACHE_DIR, exist_ok=True)
    f = open(os.path.join(CACHE_DIR, name + ".lock"), "w")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def _yaml_load(path):
    import yaml  # Debian's python3-yaml
    with open(path) as f:
        return yaml.safe_load(f)


def kubeconfig_through_proxy(src, dst, proxy_url):
    """Writes to `dst` the kubeconfig `src` (YAML or JSON) with every cluster's proxy-url set."""
    cfg = _yaml_load(src)
    for c in cfg.get("clusters") or []:
        c["cluster"]["proxy-url"] = proxy_url
    with open(dst, "w") as f:
        json.dump(cfg, f)
    return dst


class ConnectProxy:
    """An HTTP proxy on a loopback port that only tunnels (CONNECT), as a corporate proxy in front
    of a cluster does; remembers the targets it was asked for and counts the tunnels and the bytes
    that went through them each way."""

    def __init__(self):
        self.targets = []
        self.bytes_up = 0    # client -> server, through all tunnels
        self.bytes_down = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn):
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target = head.split(b" ")[:2]
            if method != b"CONNECT":
                conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.targets.append(target.decode())
            host, port = target.decode().rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as up:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                while True:
                    ready, _, _ = select.select([conn, up], [], [], 30)
                    if not ready:
                        return
                    for s in ready:
                        try:
                            data = s.recv(65536)
                            if not data:
                                return
                            (up if s is conn else conn).sendall(data)
                        except OSError:  # a side reset the connection: the tunnel ends
                            return
                        with self.lock:
                            if s is conn:
                                self.bytes_up += len(data)
                            else:
                                self.bytes_down += len(data)

    def close(self):
        self.sock.close()


class FakeCluster:
    """The fake API server in a temp dir, or a real cluster named by WB_TEST_KUBECONFIG.

    Both present the same surface: `kubeconfig` (admin), `server`, `ca`, `request()` as admin or as a
    user named by one of `tokens`, `kubeconfig_for()`, `apply()`, `workspace_for()`, `say()`,
    `kubectl()`. In real mode the fake's tokens become users with client certificates, and what only
    the fake can do is skipped by the test (`skip_unless_fake`)."""

    def __init__(self, k8s_version="1.32", tokens=None, kubesphere=False):
        self.real = bool(REAL_KUBECONFIG)
        self.dir = tempfile.mkdtemp(prefix="wb-fakekube-")
        self.proc = None
        self.users = {}          # token -> (cert, key) of the user it stands for (real mode)
        self.namespaces = []     # namespaces this object made (real mode: deleted by stop())
        self.cluster_objects = []  # API paths of cluster-scoped objects to delete at stop() (real mode)
        if self.real:
            self._init_real(tokens or [])
            return
        args = [PYTHON, os.path.join(SOURCE_DIR, "tests", "fakekube", "fakekube.py"), "--dir", self.dir,
                "--k8s-version", k8s_version]
        if kubesphere:
            args.append("--kubesphere")
        if tokens:
            path = os.path.join(self.dir, "tokens.csv")
            with open(path, "w") as f:
                for token, user, groups in tokens:
                    f.write('%s,%s,%s,"%s"\n' % (token, user, user, ",".join(groups)))
            args += ["--tokens", path]
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        deadline = time.time() + 30
        line = ""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY "):
                break
            if not line and self.proc.poll() is not None:
                break
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError("fake API server did not start: " + open(os.path.join(self.dir, "server.log")).read()[-2000:])
        self.info = json.loads(line[len("READY "):])
        self.port = self.info["port"]
        self.server = "https://127.0.0.1:%d" % self.port
        self.kubeconfig = self.info["kubeconfig"]
        self.ca = self.info["ca"]
        self.admin_token = self.info["admin_token"]
        self.admin_cert = None

    # ------------------------------------------------------------------ real mode
    def _init_real(self, tokens):
        """Reads the admin kubeconfig (its current context) and makes the users `tokens` name."""
        self.kubeconfig = REAL_KUBECONFIG
        self.info = {}
        cfg = _yaml_load(REAL_KUBECONFIG)
        ctx_name = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg.get("contexts", []) if c["name"] == ctx_name)
        cl = next(c["cluster"] for c in cfg.get("clusters", []) if c["name"] == ctx["cluster"])
        user = next((u.get("user") or {} for u in cfg.get("users", []) if u["name"] == ctx.get("user")), {})
        base = os.path.dirname(os.path.abspath(REAL_KUBECONFIG))

        def data_or_file(obj, key, name):
            if obj.get(key + "-data"):
                path = os.path.join(self.dir, name)
                with open(path, "wb") as f:
                    f.write(base64.b64decode(obj[key + "-data"]))
                return path
            if obj.get(key):
                return os.path.join(base, obj[key])
            return None

        self.server = cl["server"].rstrip("/")
        self.port = int(self.server.rsplit(":", 1)[1]) if self.server.count(":") == 2 else 443
        self.ca = data_or_file(cl, "certificate-authority", "ca.crt")
        if not self.ca:
            raise RuntimeError("real mode needs a kubeconfig whose cluster names its CA (certificate-authority[-data])")
        self.admin_token = user.get("token")
        if not self.admin_token and user.get("tokenFile"):
            with open(os.path.join(base, user["tokenFile"])) as f:
                self.admin_token = f.read().strip()
        crt = data_or_file(user, "client-certificate", "admin.crt")
        key = data_or_file(user, "client-key", "admin.key")
        self.admin_cert = (crt, key) if crt and key else None
        if not self.admin_token and not self.admin_cert:
            raise RuntimeError("real mode needs an admin kubeconfig with a token or a client certificate "
                               "(exec plugins are not supported by the harness)")
        for token, name, groups in tokens:
            self.users[token] = self.issue_cert(name, groups)

    def _csr_cert(self, user, groups):
        """A client certificate for USER in GROUPS, signed by the cluster through a
        CertificateSigningRequest (kube-apiserver-client signer) that the admin approves. Cached
        under CACHE_DIR for the run, so each user is made once however many modules ask."""
        tag = "%s-%s" % (user, "+".join(sorted(groups))) if groups else user
        tag = "".join(c if c.isalnum() or c in "-_." else "_" for c in tag)
        out = os.path.join(CACHE_DIR, "users-" + RUN_ID)
        crt, key = os.path.join(out, tag + ".crt"), os.path.join(out, tag + ".key")
        with _locked("users-" + RUN_ID):
            if os.path.exists(crt):
                return crt, key
            os.makedirs(out, exist_ok=True)
            subj = "/CN=%s" % user + "".join("/O=%s" % g for g in groups)
            csr_path = os.path.join(out, tag + ".csr")
            subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                            csr_path, "-subj", subj], check=True, capture_output=True)
            name = "wb-test-%s-%s" % (RUN_ID, uuid.uuid4().hex[:6])
            with open(csr_path, "rb") as f:
                request = base64.b64encode(f.read()).decode()
            status, body = self.request("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", {
                "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": {"name": name, "labels": {RUN_LABEL: RUN_ID}},
                "spec": {"request": request, "signerName": "kubernetes.io/kube-apiserver-client",
                         "expirationSeconds": 86400, "usages": ["client auth"]}})
            assert status == 201, (status, body)
            body["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "WbTest",
                                              "message": "approved by the wb test harness"}]}
            path = "/apis/certificates.k8s.io/v1/certificatesigningrequests/" + name
            status, body = self.request("PUT", path + "/approval", body)
            assert status == 200, (status, body)
            deadline = time.time() + 60
            while time.time() < deadline:
                status, body = self.request("GET", path)
                cert = (body.get("status") or {}).get("certificate") if status == 200 else None
                if cert:
                    with open(crt, "wb") as f:
                        f.write(base64.b64decode(cert))
                    self.request("DELETE", path)
                    return crt, key
                time.sleep(0.2)
            raise RuntimeError("the cluster did not sign CSR %s in 60 s: is a kube-apiserver-client signer running "
                               "(kube-controller-manager --cluster-signing-cert-file)?" % name)

    # ------------------------------------------------------------------ both modes
    def skip_unless_fake(self, test, what):
        if self.real:
            test.skipTest("needs the fake API server (%s); a real cluster cannot do that on demand" % what)

    def issue_cert(self, user, groups=()):
        """A client certificate for USER (CN) in GROUPS (O): signed by the fake's CA, or by the real
        cluster through a CertificateSigningRequest. Returns (cert path, key path)."""
        if self.real:
            return self._csr_cert(user, list(groups))
        prefix = os.path.join(self.dir, "client-" + user)
        args = [PYTHON, os.path.join(SOURCE_DIR, "tests", "fakekube", "fakekube.py"), "issue-cert", "--dir", self.dir,
                "--user", user, "--out", prefix]
        for g in groups:
            args += ["--group", g]
        subprocess.run(args, check=True, capture_output=True)
        return prefix + ".crt", prefix + ".key"

    def request(self, method, path, body=None, token=None, content_type="application/json", timeout=30):
        """A direct API call (as admin unless a token is given); returns (status, parsed body).
        In real mode a token of the fake's stands for its user's client certificate."""
        ctx = ssl.create_default_context(cafile=self.ca)
        cert = None
        if token in self.users:
            cert, token = self.users[token], None
        elif token is None and not self.admin_token:
            cert = self.admin_cert
        if cert:
            ctx.load_cert_chain(*cert)
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            data = data.encode() if isinstance(data, str) else data
        req = urllib.request.Request(self.server + path, data=data, method=method)
        bearer = token or (None if cert else self.admin_token)
        if bearer:
            req.add_header("Authorization", "Bearer " + bearer)
        req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=timeout) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            status = e.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def kubectl(self, *args, input=None, timeout=120):
        """Runs kubectl as the admin; returns the CompletedProcess (text)."""
        return subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig] + [str(a) for a in args], input=input,
                              capture_output=True, text=True, timeout=timeout)

    def set_app_image(self, ns, app, image):
        """Points an app's container at `image` as an admin would (what `wb push jar` does);
        returns (status, body) of the PATCH."""
        patch = {"spec": {"template": {"spec": {"containers": [{"name": app, "image": image}]}}}}
        return self.request("PATCH", "/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, app), patch,
                            content_type="application/strategic-merge-patch+json")

    def running_pods(self, ns, app):
        """Names of the app's running pods (not being deleted), sorted."""
        status, body = self.request("GET", "/api/v1/namespaces/%s/pods?labelSelector=app.kubernetes.io/name=%s"
                                    % (ns, app))
        assert status == 200, body
        return sorted(p["metadata"]["name"] for p in body["items"]
                      if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"))

    def say(self, ns, pod, text, container=None):
        """Writes lines into a pod's log: through the fake's control API, or on a real cluster by
        writing into the standard output of the container's PID 1 (kubectl exec)."""
        if self.real:
            args = ["exec", "-i", "-n", ns, pod] + (["-c", container] if container else []) + \
                   ["--", "sh", "-c", "cat > /proc/1/fd/1; exit $?"]  # sh stays: see sh()
            p = self.kubectl(*args, input=text, timeout=60)
            assert p.returncode == 0, p.stderr
            return
        status, body = self.request("POST", "/fake/v1/namespaces/%s/pods/%s/log" % (ns, pod), text,
                                    content_type="text/plain")
        assert status == 200, body

    def sh(self, ns, pod, script, *args, input=b"", container=None, timeout=120):
        """Runs `sh -c SCRIPT sh ARGS...` in a pod's container as the admin (kubectl exec, both modes),
        feeding it `input` (bytes); returns the CompletedProcess (bytes). Mind that containerd closes
        an exec's stdin once the command closes its stdout or stderr, and busybox sh execs a script's
        last command: `cat > FILE` as the whole script loses input there; `cat > FILE; exit $?` does not."""
        cmd = ["kubectl", "--kubeconfig", self.kubeconfig, "exec", "-i", "-n", ns, pod] + \
              (["-c", container] if container else []) + ["--", "sh", "-c", script, "sh"] + [str(a) for a in args]
        return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)

    def apply(self, obj):
        """Creates an object as admin (namespaced by its metadata.namespace). In real mode a
        namespace gets the run label and is deleted by stop()."""
        api = obj["apiVersion"]
        base = "/api/" + api if "/" not in api else "/apis/" + api
        kind = obj["kind"].lower()
        if kind == "endpoints":
            plural = kind
        elif kind.endswith("y"):
            plural = kind[:-1] + "ies"
        elif kind.endswith("s"):
            plural = kind + "es"
        else:
            plural = kind + "s"
        if obj["kind"] == "Namespace":
            path = "/api/v1/namespaces"
            if self.real:
                obj = json.loads(json.dumps(obj))
                obj["metadata"].setdefault("labels", {})[RUN_LABEL] = RUN_ID
                self.namespaces.append(obj["metadata"]["name"])
        elif obj["metadata"].get("namespace"):
            path = "%s/namespaces/%s/%s" % (base, obj["metadata"]["namespace"], plural)
        else:
            path = "%s/%s" % (base, plural)
        return self.request("POST", path, obj)

    def namespace(self, prefix, labels=None):
        """A fresh namespace PREFIX-<random> made as admin (deleted at stop() in real mode)."""
        ns = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
        meta = {"name": ns}
        if labels:
            meta["labels"] = labels
        status, body = self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        assert status in (200, 201), body
        return ns

    def adopt_namespace(self, ns):
        """Marks a namespace that wb made (e.g. `wb workspace create`) for deletion at stop()."""
        if self.real and ns not in self.namespaces:
            self.namespaces.append(ns)

    def adopt(self, path):
        """Marks a cluster-scoped object (its API path) that a test made for deletion at stop()."""
        if self.real and path not in self.cluster_objects:
            self.cluster_objects.append(path)

    def workspace_for(self, user, prefix, labels=None, cluster_role="edit"):
        """A fresh namespace (PREFIX-<random>) in which USER holds CLUSTER_ROLE through a RoleBinding
        "<user>-<role>"; returns its name. Raises AssertionError when the cluster refuses either."""
        ns = self.namespace(prefix, labels)
        status, body = self.apply({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "%s-%s" % (user, cluster_role), "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]})
        assert status == 201, body
        return ns

    def service_account_token(self, ns, name, seconds=3600):
        """A real bearer token (both modes): ServiceAccount NAME in NS, made if missing, and a token for
        it by TokenRequest, as `kubectl create token` gets one. Returns (token, username)."""
        status, body = self.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                                   "metadata": {"name": name, "namespace": ns}})
        assert status in (201, 409), body
        status, body = self.request("POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (ns, name), {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds}})
        assert status == 201, body
        return body["status"]["token"], "system:serviceaccount:%s:%s" % (ns, name)

    def kubeconfig_for(self, path, token=None, cert=None, server=None, ca=True, namespace=None, exec_cfg=None,
                       tls_server_name=None, insecure=False):
        """Writes a kubeconfig for this cluster with the given credentials (in real mode a token of
        the fake's stands for its user's client certificate)."""
        if token in self.users:
            cert, token = self.users[token], None
        cluster = {"server": server or self.server}
        if insecure:
            cluster["insecure-skip-tls-verify"] = True
        elif ca:
            cluster["certificate-authority"] = self.ca
        if tls_server_name:
            cluster["tls-server-name"] = tls_server_name
        user = {}
        if token:
            user["token"] = token
        if cert:
            user["client-certificate"], user["client-key"] = cert
        if exec_cfg:
            user["exec"] = exec_cfg
        ctx = {"cluster": "fake", "user": "me"}
        if namespace:
            ctx["namespace"] = namespace
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
               "clusters": [{"name": "fake", "cluster": cluster}],
               "users": [{"name": "me", "user": user}],
               "contexts": [{"name": "fake", "context": ctx}]}
        with open(path, "w") as f:
            json.dump(cfg, f)  # JSON is YAML
        return path

    def wait_ready(self, ns, selector, count=1, timeout=180):
        """Waits until COUNT pods matching SELECTOR in NS are Ready (both modes); returns their names."""
        deadline = time.time() + timeout
        names = []
        while time.time() < deadline:
            status, body = self.request("GET", "/api/v1/namespaces/%s/pods?labelSelector=%s" % (ns, selector))
            names = sorted(p["metadata"]["name"] for p in (body or {}).get("items", [])
                           if not p["metadata"].get("deletionTimestamp") and any(
                               c.get("type") == "Ready" and c.get("status") == "True"
                               for c in (p.get("status") or {}).get("conditions", [])))
            if len(names) >= count:
                return names
            time.sleep(0.5)
        raise AssertionError("%d pod(s) %s in %s not ready in %d s (have %s)" % (count, selector, ns, timeout, names))

    def stop(self):
        if self.real:
            for ns in self.namespaces:
                self.request("DELETE", "/api/v1/namespaces/" + ns, {"propagationPolicy": "Background"})
            for path in reversed(self.cluster_objects):
                self.request("DELETE", path)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


Cluster = FakeCluster


def jre_layout():
    """The JRE base as an OCI layout: WB_TEST_JRE_LAYOUT, else one made once by tests/fixtures/jre
    (debootstrap + openjdk-17-jre-headless; needs root; cached under CACHE_DIR, minutes the first time)."""
    if os.environ.get("WB_TEST_JRE_LAYOUT"):
        return os.environ["WB_TEST_JRE_LAYOUT"]
    layout = os.path.join(CACHE_DIR, "jre-layout")
    with _locked("jre-layout"):
        if not os.path.exists(os.path.join(layout, "index.json")):
            script = os.path.join(SOURCE_DIR, "tests", "fixtures", "jre", "make_jre_layout.sh")
            p = subprocess.run(["bash", script, layout, os.path.join(CACHE_DIR, "jre-rootfs")], capture_output=True,
                               text=True, timeout=900)
            if p.returncode != 0:
                raise RuntimeError("could not make the JRE base: " + p.stderr[-2000:])
    return layout


def busybox_layout():
    """A busybox image as an OCI layout (from Debian's busybox-static), cached under CACHE_DIR. Its
    command serves /www on port 8080 with busybox httpd and ends on SIGTERM."""
    layout = os.path.join(CACHE_DIR, "busybox-layout")
    with _locked("busybox-layout"):
        if not os.path.exists(os.path.join(layout, "index.json")):
            root = tempfile.mkdtemp(prefix="wb-busybox-")
            try:
                for d in ("bin", "tmp", "www", "proc", "sys", "dev", "etc"):
                    os.makedirs(os.path.join(root, d))
                shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
                applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                                         check=True).stdout.split()
                for applet in applets:
                    if applet != "busybox":
                        os.symlink("busybox", os.path.join(root, "bin", applet))
                with open(os.path.join(root, "www", "index.html"), "w") as f:
                    f.write("hello from busybox\n")
                with open(os.path.join(root, "etc", "passwd"), "w") as f:
                    f.write("root:x:0:0:root:/root:/bin/sh\n")
                cmd = ["sh", "-c", "trap 'exit 0' TERM; httpd -p 8080 -h /www; echo busybox serving on port 8080; "
                       "while :; do sleep 1; done"]
                subprocess.run([PYTHON, os.path.join(SOURCE_DIR, "tests", "fixtures", "jre", "rootfs_to_layout.py"),
                                root, layout, "1", "--cmd", json.dumps(cmd), "--env", "PATH=/bin",
                                "--history", "busybox-static from Debian"], check=True, capture_output=True)
            finally:
                shutil.rmtree(root, ignore_errors=True)
    return layout


def test_jars():
    """The test jars (tests/fixtures/jars) built once into CACHE_DIR for this source tree; returns the directory."""
    out = os.path.join(CACHE_DIR, "jars-" + RUN_ID)
    with _locked("jars-" + RUN_ID):
        if not os.path.exists(os.path.join(out, "server.jar")):
            p = subprocess.run(["sh", os.path.join(SOURCE_DIR, "tests", "fixtures", "jars", "build.sh"), out],
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                raise RuntimeError("could not build the test jars: " + p.stderr[-2000:])
    return out


def file_sha256(path):
    """The sha256 of a file's bytes, read in 1 MiB pieces (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

def start_app(cluster, ns, app, fake_image, replicas=1, real_image="server", create_args=(), patch=None):
    """Creates APP in NS (`wb app create` with CREATE_ARGS too) and starts it with REPLICAS replicas,
    on real_images()[REAL_IMAGE] (the test server) on a real cluster, else on FAKE_IMAGE, and waits
    until they are ready. PATCH (a strategic merge patch of its Deployment) is applied before the start."""
    home = os.path.join(cluster.dir, "home")
    os.makedirs(home, exist_ok=True)

    def wb(*args):
        p = subprocess.run([WB_BIN, "--kubeconfig", cluster.kubeconfig, "-w", ns] + list(args), capture_output=True,
                           text=True, timeout=300, cwd=home, env={"HOME": home, "PATH": os.environ["PATH"]})
        assert p.returncode == 0, (args, p.stdout, p.stderr)

    wb("app", "create", app, "--replicas", str(replicas), *create_args)
    status, body = cluster.set_app_image(ns, app, real_images()[real_image] if cluster.real else fake_image)
    assert status == 200, body
    if patch:
        status, body = cluster.request("PATCH", "/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, app), patch,
                                       content_type="application/strategic-merge-patch+json")
        assert status == 200, body
    wb("app", "start", app, "--no-wait")
    cluster.wait_ready(ns, "app.kubernetes.io/name=" + app)


def cluster_with_app(ns_prefix, app, fake_image, replicas=1):
    """A FakeCluster (real with WB_TEST_KUBECONFIG) with APP started in a namespace of its own (fake
    pods ready after 0.1 s), for a module's setUpModule. Stops the cluster if anything fails;
    returns (cluster, ns)."""
    cluster = FakeCluster()
    try:
        if not cluster.real:
            status, body = cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
            assert status == 200, body
        ns = cluster.namespace(ns_prefix)
        start_app(cluster, ns, app, fake_image, replicas=replicas)
    except BaseException:
        cluster.stop()
        raise
    return cluster, ns


def real_images():
    """Images that really run, pushed into WB_TEST_REGISTRY under wb-test/ once per run:
    jre (the JRE base), server and server-v2 (the test HTTP server jar on it, pushed by wb; two
    versions), crash (a release that exits 1 at once), busybox (httpd on 8080, no tar of GNU's).
    Returns {name: reference by digest}."""
    if not REAL_REGISTRY:
        raise RuntimeError("real mode needs WB_TEST_REGISTRY: a plain-HTTP registry (host:port) that this machine "
                           "pushes to and the cluster's nodes pull from")
    path = os.path.join(CACHE_DIR, "images-%s.json" % RUN_ID)
    with _locked("images-" + RUN_ID):
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        images = {}
        for name, layout, tag in (("jre", jre_layout(), "17"), ("busybox", busybox_layout(), "1")):
            dest = "docker://%s/wb-test/%s:%s" % (REAL_REGISTRY, name, tag)
            p = subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", "--digestfile",
                                os.path.join(CACHE_DIR, name + ".digest"), "oci:%s:%s" % (layout, tag), dest],
                               capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                raise RuntimeError("could not push %s into %s: %s" % (name, REAL_REGISTRY, p.stderr[-2000:]))
            with open(os.path.join(CACHE_DIR, name + ".digest")) as f:
                images[name] = "%s/wb-test/%s@%s" % (REAL_REGISTRY, name, f.read().strip())
        jars = test_jars()
        home = tempfile.mkdtemp(prefix="wb-images-")
        try:
            for name, jar in (("server", "server.jar"), ("server-v2", "server-v2.jar"), ("crash", "crash.jar")):
                p = subprocess.run([WB_BIN, "push", "jar", os.path.join(jars, jar), "--no-deploy",
                                    "--to", "%s/wb-test/%s:%s" % (REAL_REGISTRY, name, RUN_ID),
                                    "--base", "%s/wb-test/jre:17" % REAL_REGISTRY],
                                   env={"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                        "WB_REGISTRY_INSECURE": "true"},
                                   capture_output=True, text=True, timeout=600, cwd=home)
                if p.returncode != 0:
                    raise RuntimeError("wb push jar %s failed: %s" % (jar, p.stderr[-2000:]))
                images[name] = p.stdout.strip().splitlines()[-1]
        finally:
            shutil.rmtree(home, ignore_errors=True)
        with open(path, "w") as f:
            json.dump(images, f)
        return images


class Registry:
    """Debian's docker-registry on a random loopback port; tls=True adds TLS and htpasswd auth;
    delete=False turns manifest deletes off (storage.delete.enabled: false, DELETE answers 405)."""

    def __init__(self, tls=False, user="wbuser", password="wbpass", delete=True):
        self.dir = tempfile.mkdtemp(prefix="wb-registry-")
        self.tls, self.user, self.password, self.delete = tls, user, password, delete
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            self.host = "127.0.0.1:%d" % self.port
            self._write_config()
            self.log = open(os.path.join(self.dir, "registry.log"), "w")
            self.proc = subprocess.Popen(["docker-registry", "serve", self.config], stdout=self.log,
                                         stderr=subprocess.STDOUT)
            if self._wait_ready():
                return
            self.proc.kill()
            self.proc.wait()
            self.log.close()
        raise RuntimeError("registry did not start: " + open(os.path.join(self.dir, "registry.log")).read()[-2000:])

    def _write_config(self):
        lines = ["version: 0.1", "log: {level: warn}",
                 "storage: {filesystem: {rootdirectory: %s/data}, delete: {enabled: %s}}" % (
                     self.dir, "true" if self.delete else "false"),
                 "http:", "  addr: 127.0.0.1:%d" % self.port]
        if self.tls:
            self.cert = os.path.join(self.dir, "cert.pem")
            self.key = os.path.join(self.dir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                            "-keyout", self.key, "-out", self.cert], check=True, capture_output=True)
            lines += ["  tls: {certificate: %s, key: %s}" % (self.cert, self.key)]
            htpasswd = os.path.join(self.dir, "htpasswd")
            subprocess.run(["htpasswd", "-Bbc", htpasswd, self.user, self.password], check=True, capture_output=True)
            lines += ["auth: {htpasswd: {realm: basic-realm, path: %s}}" % htpasswd]
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _wait_ready(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def garbage_collect(self):
        """Runs `docker-registry garbage-collect` on this registry's config (frees unreferenced blobs)."""
        return subprocess.run(["docker-registry", "garbage-collect", self.config], capture_output=True, text=True,
                              timeout=120)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def __repr__(self):
        return "exit %d\n--- stdout\n%s\n--- stderr\n%s" % (self.code, self.out, self.err)


class WbTestCase(unittest.TestCase):
    """Base class: a private HOME per test and helpers to run wb."""

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="wb-home-")
        self.addCleanup(shutil.rmtree, self.home, True)
        self.workdir = os.path.join(self.home, "work")
        os.makedirs(self.workdir)

    def env(self, extra=None):
        env = {"HOME": self.home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        for keep in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if keep in os.environ:
                env[keep] = os.environ[keep]
        if extra:
            env.update(extra)
        return env

    def wb(self, *args, env=None, input=None, tty=False, cwd=None, timeout=120):
        """Runs wb; with tty=True stdin, stdout and stderr are a pseudo-terminal (stdout and stderr
        merged into out) and `input` is typed into it."""
        cmd = [WB_BIN] + [str(a) for a in args]
        if not tty:
            p = subprocess.run(cmd, env=self.env(env), input=input, capture_output=True, text=True,
                               cwd=cwd or self.workdir, timeout=timeout)
            return Result(p.returncode, p.stdout, p.stderr)
        master, slave = pty.openpty()
        p = subprocess.Popen(cmd, env=self.env(dict(env or {}, TERM="xterm")), stdin=slave, stdout=slave, stderr=slave,
                             cwd=cwd or self.workdir, close_fds=True)
        os.close(slave)
        if input:
            os.write(master, input.encode())  # the terminal holds the line until wb reads it
        chunks = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            elif p.poll() is not None:
                # drain what is left
                continue
        p.wait(timeout=10)
        os.close(master)
        out = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
        return Result(p.returncode, out, "")

    def assertExit(self, result, code):
        self.assertEqual(result.code, code, repr(result))

    def assertOneLineError(self, result, code, *fragments):
        """A failure prints exactly one line on stderr, naming what is wrong."""
        self.assertExit(result, code)
        lines = [l for l in result.err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "expected one error line:\n" + result.err)
        for frag in fragments:
            self.assertIn(frag, lines[0])
