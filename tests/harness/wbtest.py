"""Test harness for wb's end-to-end tests.

Starts the services the tests talk to and runs the real wb binary:
  * a Kubernetes API server: the fake one in tests/fakekube (TLS, tokens, client certs), or a
    real cluster when WB_TEST_KUBECONFIG names a kubeconfig;
  * the real OCI registry (Debian's docker-registry), plain or TLS + htpasswd, on random ports.

Every test gets its own HOME, so profiles and state never leak between tests or into the user's.
"""
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
import time
import unittest
import urllib.request
import ssl

SOURCE_DIR = os.environ.get("WB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WB_BIN = os.environ.get("WB_BIN") or os.path.join(SOURCE_DIR, "build", "default", "cli", "wb")
PYTHON = "/usr/bin/python3"
REAL_KUBECONFIG = os.environ.get("WB_TEST_KUBECONFIG", "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeCluster:
    """The fake API server in a temp dir (or a real cluster named by WB_TEST_KUBECONFIG)."""

    def __init__(self, k8s_version="1.32", tokens=None, kubesphere=False):
        self.real = bool(REAL_KUBECONFIG)
        self.dir = tempfile.mkdtemp(prefix="wb-fakekube-")
        self.proc = None
        if self.real:
            self.kubeconfig = REAL_KUBECONFIG
            self.info = {}
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

    def skip_unless_fake(self, test, what):
        if self.real:
            test.skipTest("needs the fake API server (%s); a real cluster cannot do that on demand" % what)

    def issue_cert(self, user, groups=()):
        prefix = os.path.join(self.dir, "client-" + user)
        args = [PYTHON, os.path.join(SOURCE_DIR, "tests", "fakekube", "fakekube.py"), "issue-cert", "--dir", self.dir,
                "--user", user, "--out", prefix]
        for g in groups:
            args += ["--group", g]
        subprocess.run(args, check=True, capture_output=True)
        return prefix + ".crt", prefix + ".key"

    def request(self, method, path, body=None, token=None, content_type="application/json"):
        """A direct API call (as admin unless a token is given); returns (status, parsed body)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            data = data.encode() if isinstance(data, str) else data
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + (token or self.admin_token))
        req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            status = e.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

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

    def say(self, ns, pod, text):
        """Writes lines into a pod's log (the fake's control API)."""
        status, body = self.request("POST", "/fake/v1/namespaces/%s/pods/%s/log" % (ns, pod), text,
                                    content_type="text/plain")
        assert status == 200, body

    def apply(self, obj):
        """Creates an object as admin (namespaced by its metadata.namespace)."""
        kind_paths = {"Namespace": "/api/v1/namespaces", "RoleBinding": None}
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
            path = kind_paths["Namespace"]
        elif obj["metadata"].get("namespace"):
            path = "%s/namespaces/%s/%s" % (base, obj["metadata"]["namespace"], plural)
        else:
            path = "%s/%s" % (base, plural)
        return self.request("POST", path, obj)

    def workspace_for(self, user, prefix, labels=None, cluster_role="edit"):
        """A fresh namespace (PREFIX-<random>) in which USER holds CLUSTER_ROLE through a RoleBinding
        "<user>-<role>"; returns its name. Raises AssertionError when the fake refuses either."""
        ns = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
        meta = {"name": ns}
        if labels:
            meta["labels"] = labels
        status, body = self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        assert status in (200, 201), body
        status, body = self.apply({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "%s-%s" % (user, cluster_role), "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]})
        assert status == 201, body
        return ns

    def kubeconfig_for(self, path, token=None, cert=None, server=None, ca=True, namespace=None, exec_cfg=None,
                       tls_server_name=None, insecure=False):
        """Writes a kubeconfig for this cluster with the given credentials."""
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

    def stop(self):
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
