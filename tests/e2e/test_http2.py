"""wb over HTTP/2: a real kube-apiserver answers ALPN h2, and wb's libcurl transport asks for it,
but the fake API server speaks only HTTP/1.1. Here nghttpx (Debian's nghttp2-proxy) terminates
TLS with an h2 frontend (ALPN h2, http/1.1) in front of the fake (backend over TLS, HTTP/1.1),
and its access log records the protocol of every request ($alpn), so each test proves that wb's
requests went over h2: whoami (and its -vv trace, doctor's clock from the date header); 401/403/404
errors; app create/start/status and config set (the app rolls; both wait by polling); logs of all
replicas and -f following three replicas at once (their pod watch too) with lines said while
following and a scale-down ending one stream; a follow stream the proxy resets mid-body resuming
without loss or repeats; a plain read reset twice; 503s retried; open streams outliving a GOAWAY
(the proxy's graceful reload) and new ones going to a new connection; cp-files both ways (exec is
a WebSocket, which wb opens over HTTP/1.1 (an Upgrade, as kubectl does), and the proxy passes
through as an HTTP/1.1 upgrade: asserted as such).

Tokens only: the proxy terminates TLS, so a client certificate would not reach the API server.

With WB_TEST_KUBECONFIG the proxy stands in front of the real API server instead (backend: TLS,
verified against the cluster's CA; frontend: a certificate of the test's own CA) and alice is a
ServiceAccount of the test's namespace with a token from the TokenRequest API: whoami, the errors,
create/start/status/config set, logs and -f, and cp-files run for real (the app runs the test
server image). A stream cut mid-body, 503s on demand and a GOAWAY need the fake (those skip).
"""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
sys.path.insert(0, HERE)
from wbtest import FakeCluster, WbTestCase, LEAN_APPS, free_port, real_images  # noqa: E402
from test_logs import Follower  # noqa: E402

TOKEN = "h2-alice-token-0123456789"
IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64
NGHTTPX = shutil.which("nghttpx") or next((p for p in ("/usr/sbin/nghttpx", "/usr/bin/nghttpx")
                                           if os.access(p, os.X_OK)), None)
# One access-log line per request, fields split by tabs; the user agent last (it may hold spaces).
LOG_FORMAT = "\t".join(["$alpn", "$remote_port", "$status", "$method", "$path", "$http_user_agent"])

cluster = None
proxy = None
PROXY_CA = None  # the CA a kubeconfig through the proxy trusts


class Entry:
    def __init__(self, line):
        self.alpn, port, self.status, self.method, self.path, self.agent = line.rstrip("\n").split("\t", 5)
        self.port = int(port)

    def __repr__(self):
        return "%s %s %s %s (port %d, %s)" % (self.alpn, self.method, self.path, self.status, self.port, self.agent)


def proxy_certificate(dir):
    """A CA of the test's own and a server certificate for 127.0.0.1 signed by it, in DIR
    (ca.crt, server.crt, server.key): the proxy's frontend in front of a real API server, whose
    key the test does not have."""
    def openssl(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=wb-test h2 proxy CA",
            "-keyout", os.path.join(dir, "ca.key"), "-out", os.path.join(dir, "ca.crt"))
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", os.path.join(dir, "server.key"), "-out", os.path.join(dir, "server.csr"))
    ext = os.path.join(dir, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", os.path.join(dir, "server.csr"), "-CA", os.path.join(dir, "ca.crt"),
            "-CAkey", os.path.join(dir, "ca.key"), "-CAcreateserial", "-days", "2", "-extfile", ext,
            "-out", os.path.join(dir, "server.crt"))
    return os.path.join(dir, "ca.crt")


class H2Proxy:
    """nghttpx on a free 127.0.0.1 port: TLS with the server certificate in cert_dir (SAN
    IP:127.0.0.1; the fake's own, signed by its CA, or one of proxy_certificate()'s), ALPN h2 and
    http/1.1; backend: the API server over TLS at backend_host:backend_port, verified against its
    CA `ca` (nghttpx checks it against a host name: the server's, or localhost for an IP)."""

    def __init__(self, backend_host, backend_port, cert_dir, ca):
        self.dir = os.path.join(cert_dir, "nghttpx")
        os.makedirs(self.dir, exist_ok=True)
        sni = "localhost" if backend_host.replace(".", "").isdigit() or ":" in backend_host else backend_host
        self.access_log = os.path.join(self.dir, "access.log")
        self.error_log = os.path.join(self.dir, "error.log")
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            args = [NGHTTPX, "--conf=/dev/null", "--frontend=127.0.0.1,%d" % self.port,
                    # The fake's certificate (and the test kit's apiserver's) names localhost and
                    # 127.0.0.1; nghttpx checks the backend's certificate against a host name.
                    "--backend=%s,%d;;tls;sni=%s" % (backend_host, backend_port, sni), "--cacert=" + ca,
                    "--npn-list=h2,http/1.1", "--single-thread", "--no-ocsp", "--no-via",
                    "--accesslog-file=" + self.access_log, "--accesslog-format=" + LOG_FORMAT,
                    # Long streams (watch, follow) get their line when their headers come.
                    "--accesslog-write-early", "--errorlog-file=" + self.error_log,
                    # A quiet follow stream must outlive a busy test machine's pauses.
                    "--backend-read-timeout=10m", "--frontend-http2-read-timeout=10m",
                    os.path.join(cert_dir, "server.key"), os.path.join(cert_dir, "server.crt")]
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            if self._wait_ready():
                self.url = "https://127.0.0.1:%d" % self.port
                return
            self.stop()
        raise RuntimeError("nghttpx did not start: " + self.errors())

    def _wait_ready(self):
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False  # e.g. the port was taken meanwhile
            if "Listening on 127.0.0.1:%d" % self.port in self.errors():
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return True
                except OSError:
                    pass
            time.sleep(0.05)
        return False

    def reload(self):
        """A graceful reload: GOAWAY on every open h2 connection (waits until it happened)."""
        before = self.errors(full=True).count("Graceful shutdown signal received")
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 15
        while self.errors(full=True).count("Graceful shutdown signal received") <= before:
            if time.time() > deadline:
                raise AssertionError("nghttpx did not reload: " + self.errors())
            time.sleep(0.05)

    def errors(self, full=False):
        try:
            with open(self.error_log, errors="replace") as f:
                text = f.read()
                return text if full else text[-3000:]
        except OSError:
            return ""

    def mark(self):
        """Where the access log ends now: entries() after it are what came since."""
        try:
            return os.path.getsize(self.access_log)
        except OSError:
            return 0

    def entries(self, since=0):
        try:
            with open(self.access_log) as f:
                f.seek(since)
                return [Entry(line) for line in f if line.strip()]
        except OSError:
            return []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # the master stops its worker process too
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def setUpModule():
    global cluster, proxy, IMAGE, PROXY_CA
    if not NGHTTPX:
        raise unittest.SkipTest("nghttpx is not installed (Debian package nghttp2-proxy; "
                                "scripts/install-deps.sh --with-tests installs it)")
    cluster = FakeCluster(tokens=[(TOKEN, "alice", ["developers"])])
    try:
        if cluster.real:
            IMAGE = real_images()["server"]
            cert_dir = tempfile.mkdtemp(prefix="wb-h2proxy-", dir=cluster.dir)
            PROXY_CA = proxy_certificate(cert_dir)
            url = urllib.parse.urlsplit(cluster.server)
            proxy = H2Proxy(url.hostname, url.port or 443, cert_dir, cluster.ca)
        else:
            status, body = cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
            assert status == 200, body
            PROXY_CA = cluster.ca
            proxy = H2Proxy("127.0.0.1", cluster.port, cluster.dir, cluster.ca)
    except BaseException:
        cluster.stop()
        raise


def tearDownModule():
    if proxy:
        proxy.stop()
    if cluster:
        cluster.stop()


def fake_only(what):
    """Marks a test that needs the fake API server for WHAT: on a real cluster it skips, saying so,
    before its setUp makes anything there."""
    def mark(test):
        test.fake_only = what
        return test
    return mark


class OverHttp2(WbTestCase):
    def setUp(self):
        super().setUp()
        what = getattr(getattr(self, self._testMethodName), "fake_only", None)
        if what:
            cluster.skip_unless_fake(self, what)
        self.app = "orders"
        if cluster.real:
            # A token that reaches the real API server through the proxy: alice is a ServiceAccount
            # of the namespace, who may edit there.
            self.ns = cluster.namespace("h2")
            status, body = cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                                          "metadata": {"name": "alice", "namespace": self.ns}})
            self.assertEqual(status, 201, body)
            status, body = cluster.apply({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "alice-edit", "namespace": self.ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                "subjects": [{"kind": "ServiceAccount", "name": "alice", "namespace": self.ns}]})
            self.assertEqual(status, 201, body)
            status, body = cluster.request("POST", "/api/v1/namespaces/%s/serviceaccounts/alice/token" % self.ns,
                                           {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                            "spec": {"expirationSeconds": 3600}})
            self.assertEqual(status, 201, body)
            self.token = body["status"]["token"]
            # How wb names that user, and the group a test looks for.
            self.username = "system:serviceaccount:%s:alice" % self.ns
            self.user_words, self.group = "robot 'alice' of %s" % self.ns, "system:serviceaccounts"
        else:
            self.ns = cluster.workspace_for("alice", "h2")
            self.token, self.username, self.user_words, self.group = TOKEN, "alice", "alice", "developers"
        # Server: the proxy; certificate-authority: the CA that signed the proxy's certificate (the fake's).
        self.kubeconfig = self.proxy_kubeconfig("kubeconfig", self.token)
        self.mark = proxy.mark()

    # ------------------------------------------------------------ helpers
    def env(self, extra=None):
        """Real mode: wb runs with a profile of LEAN_APPS (apps ask for little CPU) unless a test names
        another."""
        env = super().env()
        if LEAN_APPS:
            path = os.path.join(self.home, "lean-profile.yaml")
            if not os.path.exists(path):
                with open(path, "w") as f:
                    f.write(LEAN_APPS)
            env["WB_PROFILE"] = path
        env.update(extra or {})
        return env

    def proxy_kubeconfig(self, name, token):
        path = cluster.kubeconfig_for(os.path.join(self.home, name), token=token, server=proxy.url)
        with open(path) as f:
            cfg = json.load(f)
        cfg["clusters"][0]["cluster"]["certificate-authority"] = PROXY_CA
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def run_wb(self, *args, **kw):
        return self.wb("--kubeconfig", self.kubeconfig, "-w", self.ns, *args, **kw)

    def wb_entries(self):
        """The proxy's access-log entries of wb's requests since this test began."""
        return [e for e in proxy.entries(self.mark) if e.agent.startswith("wb/")]

    def assertAllH2(self, entries, what):
        """Every one of wb's requests went over HTTP/2 (and there were some)."""
        self.assertTrue(entries, "no request of %s reached the proxy" % what)
        not_h2 = [e for e in entries if e.alpn != "h2"]
        self.assertEqual(not_h2, [], "requests of %s not over h2" % what)

    def started(self, replicas):
        r = self.run_wb("app", "create", self.app, "--replicas", str(replicas))
        self.assertExit(r, 0)
        status, body = cluster.set_app_image(self.ns, self.app, IMAGE)
        self.assertEqual(status, 200, body)
        r = self.run_wb("app", "start", self.app, "--timeout", "60s")
        self.assertExit(r, 0)
        return r

    def pods(self):
        return cluster.running_pods(self.ns, self.app)

    def say(self, pod, text):
        cluster.say(self.ns, pod, text)

    def short(self, pod):
        return self.app + pod[pod.rfind("-"):]

    def started_line(self, pod):
        """The line a replica's log starts with: the fake's, or what the test server prints when it serves."""
        return "serving version 1 on port 8080" if cluster.real else "container %s of pod %s started" % (self.app, pod)

    # What a replica's log has before the lines a test writes: the fake's two lines, or the JVM's
    # note of JAVA_TOOL_OPTIONS and the test server's.
    OWN_LINES = ("Starting", "container", "Picked up JAVA_TOOL_OPTIONS", "serving version")

    def wait_until(self, predicate, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        self.fail("timed out waiting for " + what)

    def follow_requests(self, pod):
        return [e for e in self.wb_entries() if e.path.startswith("/api/v1/namespaces/%s/pods/%s/log?" % (self.ns, pod))
                and "follow=true" in e.path]

    # ------------------------------------------------------------ tests
    def test_whoami(self):
        r = self.run_wb("whoami")
        self.assertExit(r, 0)
        self.assertIn("You are %s " % self.username, r.out)
        self.assertIn(self.group, r.out)
        entries = self.wb_entries()
        self.assertAllH2(entries, "wb whoami")
        self.assertTrue(any(e.method == "POST" and "selfsubjectreviews" in e.path for e in entries), entries)
        # The trace shows the h2 exchange (lower-case header names) with the token redacted.
        r = self.run_wb("-vv", "whoami")
        self.assertExit(r, 0)
        self.assertIn("< HTTP/2 201", r.err)
        self.assertIn("> authorization: <redacted>", r.err)
        self.assertNotIn(self.token, r.err + r.out)
        # wb doctor reads the server's clock from the (lower-case) date header of an h2 answer.
        r = self.run_wb("doctor")
        status, version = cluster.request("GET", "/version")
        self.assertEqual(status, 200, version)
        self.assertIn("server reachable       %s (Kubernetes %s)" % (proxy.url, version["gitVersion"]), r.out)
        self.assertIn("clock in sync          same time as the API server", r.out)
        self.assertAllH2(self.wb_entries(), "wb whoami -vv, wb doctor")

    def test_errors_read_the_same_over_h2(self):
        # The API server's Status answers (401, 404, 403) come as h2 responses: the same one-line
        # errors and exit codes as over HTTP/1.1.
        bad = self.proxy_kubeconfig("bad", "unknown-h2-token")
        r = self.wb("--kubeconfig", bad, "whoami")
        self.assertOneLineError(r, 4, "401")
        self.assertNotIn("unknown-h2-token", r.err)
        r = self.run_wb("app", "status", "nope")
        self.assertOneLineError(r, 3, "app 'nope' not found in workspace '%s'" % self.ns)
        other = cluster.workspace_for("bob", "h2-other")  # alice has no role there
        r = self.wb("--kubeconfig", self.kubeconfig, "-w", other, "app", "status", "orders")
        self.assertOneLineError(r, 4, "you (%s) cannot see apps in workspace %s" % (self.user_words, other))
        statuses = {e.status for e in proxy.entries(self.mark) if "wb/" in e.agent}
        self.assertTrue({"401", "404", "403"} <= statuses, statuses)
        self.assertAllH2(proxy.entries(self.mark), "the refused requests")

    def test_app_start_status_and_config_set(self):
        r = self.started(replicas=2)
        self.assertIn("orders", r.out + r.err)
        r = self.run_wb("app", "status", self.app)
        self.assertExit(r, 0)
        self.assertIn("Running 2/2", r.out)
        r = self.run_wb("config", "set", self.app, "MODE=prod", "-m", "over h2", "--timeout", "60s")
        self.assertExit(r, 0)
        self.assertIn("Config v1 of orders", r.out)
        # The app rolled to the new version: its pods are those of a new ReplicaSet, all running.
        status, d = cluster.request("GET", "/apis/apps/v1/namespaces/%s/deployments/%s" % (self.ns, self.app))
        self.assertEqual(status, 200, d)
        refs = [f["configMapRef"]["name"] for c in d["spec"]["template"]["spec"]["containers"]
                for f in c.get("envFrom", []) if "configMapRef" in f]
        self.assertEqual(refs, ["orders-config-v1"])
        r = self.run_wb("app", "status", self.app)
        self.assertExit(r, 0)
        self.assertIn("Running 2/2", r.out)
        entries = self.wb_entries()
        self.assertAllH2(entries, "app create/start/status, config set")
        # `wb app start` and `config set` wait for the rollout by polling: many GETs, and each
        # wb run kept to one h2 connection for all of them.
        polls = [e for e in entries if e.method == "GET" and e.path.endswith("/deployments/" + self.app)]
        self.assertGreaterEqual(len(polls), 4, entries)
        writes = {e.method for e in entries}
        self.assertTrue({"POST", "GET"} <= writes and writes & {"PATCH", "PUT"}, writes)

    def test_logs_of_all_replicas_and_follow_three_at_once(self):
        self.started(replicas=3)
        pods = self.pods()
        self.assertEqual(len(pods), 3)
        for i, p in enumerate(pods):
            self.say(p, "hello from %d\n" % i)
        r = self.run_wb("logs", self.app)
        self.assertExit(r, 0)
        for i, p in enumerate(pods):
            self.assertIn("%s hello from %d\n" % (self.short(p), i), r.out)
            self.assertIn("%s %s\n" % (self.short(p), self.started_line(p)), r.out)
        self.assertAllH2(self.wb_entries(), "wb logs")

        f = Follower(self)
        try:
            # All three streams open: each has shown its replica's old line.
            for i, p in enumerate(pods):
                f.wait_for("%s hello from %d" % (self.short(p), i))
            for round in range(3):
                for i, p in enumerate(pods):
                    self.say(p, "round %d from %d\n" % (round, i))
            for i, p in enumerate(pods):
                f.wait_for("%s round 2 from %d" % (self.short(p), i))
            # Scale down: the removed replica's stream ends cleanly (END_STREAM), the others go on.
            self.assertExit(self.run_wb("app", "scale", self.app, "2"), 0)
            left = self.pods()
            self.assertEqual(len(left), 2)
            for p in left:
                self.say(p, "still here %d\n" % pods.index(p))
            for p in left:
                f.wait_for("%s still here %d" % (self.short(p), pods.index(p)))
        finally:
            f.interrupt()
        err = f.finish()
        text = "".join(f.lines)
        for i, p in enumerate(pods):
            mine = [line for line in f.lines if line.startswith(self.short(p) + " ")
                    and not line[len(self.short(p)) + 1:].startswith(self.OWN_LINES)]
            self.assertEqual(mine, ["%s hello from %d\n" % (self.short(p), i)] +
                             ["%s round %d from %d\n" % (self.short(p), round, i) for round in range(3)] +
                             (["%s still here %d\n" % (self.short(p), i)] if p in left else []), text)
        self.assertNotIn("reconnecting", err)
        self.assertNotIn("lost track", err)
        entries = self.wb_entries()
        self.assertAllH2(entries, "wb logs -f")
        # The pod watch that notices replicas coming and going streamed over h2 too.
        self.assertTrue([e for e in entries if "/pods?watch=" in e.path], entries)
        # Each stream was open at once (each showed its old line before any new one was said)
        # and none broke: one request each. (wb's transport gives every concurrent request its own
        # connection, one easy handle each: the streams are not multiplexed on one connection.)
        follows = {p: [e for e in self.follow_requests(p) if e.status == "200"] for p in pods}
        for p in pods:
            self.assertEqual(len(follows[p]), 1, follows)  # one stream each, none broke

    @fake_only("a log stream cut on demand")
    def test_follow_resumes_a_stream_the_proxy_reset(self):
        self.started(replicas=1)
        pod = self.pods()[0]
        self.say(pod, "\n".join("before %d" % i for i in range(50)) + "\n")
        f = Follower(self, "--replica", pod)
        try:
            f.wait_for("before 49")
            for round in range(3):
                # The fake breaks the backend connection mid-body; the proxy resets the h2
                # stream (RST_STREAM), and wb must ask again from where it was.
                self.wait_until(lambda: self.cut(pod), "a follow stream of %s to cut" % pod)
                self.say(pod, "gap %d a\ngap %d b\n" % (round, round))  # while the stream is down
                self.wait_until(lambda: len(self.follow_requests(pod)) >= round + 2,
                                "wb to follow %s again" % pod)
                self.say(pod, "after %d\n" % round)
                f.wait_for("after %d" % round)
        finally:
            f.interrupt()
        err = f.finish()
        messages = [line.rstrip("\n").split(" ", 1)[1] for line in f.lines]
        want = ["before %d" % i for i in range(50)]
        for round in range(3):
            want += ["gap %d a" % round, "gap %d b" % round, "after %d" % round]
        self.assertEqual([m for m in messages if not m.startswith(("Starting", "container"))], want, err)
        self.assertIn("reconnecting", err)
        self.assertAllH2(self.follow_requests(pod), "the follow streams")
        self.assertAllH2(self.wb_entries(), "wb logs -f")

    @fake_only("a log read cut on demand")
    def test_read_resumes_after_the_proxy_reset_the_stream(self):
        self.started(replicas=1)
        pod = self.pods()[0]
        # More than the 64 KiB an h2 stream's initial flow-control window lets through.
        self.say(pod, "".join("line %04d of the log\n" % i for i in range(5000)))
        cluster.request("DELETE", "/fake/v1/requests")
        # The next two reads of the log break off mid-way (mid-line): the fake aborts the backend
        # connection and the proxy resets the h2 stream (RST_STREAM).
        status, body = cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/log-cut?afterBytes=70005&count=2"
                                       % (self.ns, pod))
        self.assertEqual(status, 200, body)
        r = self.run_wb("-v", "logs", self.app, "--replica", pod)
        self.assertExit(r, 0)
        messages = [line.split(" ", 1)[1] for line in r.out.splitlines()]
        self.assertEqual([m for m in messages if m.startswith("line ")], ["line %04d of the log" % i for i in range(5000)])
        # Whether wb had part of the body when the reset came depends on how much of it the proxy
        # passed on before it saw the backend go: with some, wb resumes the log where it broke
        # ("reconnecting"); with none yet, its transport asks again at once ("retrying"). Either
        # way, every break was answered by exactly one new request.
        breaks = r.err.count("log stream broke") + r.err.count("* retrying GET")
        self.assertEqual(breaks, 2, r.err)
        _, body = cluster.request("GET", "/fake/v1/requests")
        self.assertEqual(len([e for e in body["items"] if e["path"].endswith("/pods/%s/log" % pod)]), 3, body)
        reads = [e for e in self.wb_entries() if e.path.startswith("/api/v1/namespaces/%s/pods/%s/log?" % (self.ns, pod))]
        self.assertEqual(len(reads), 3, reads)
        self.assertAllH2(reads, "the log reads")

    @fake_only("503s on demand")
    def test_retries_a_refused_request_over_h2(self):
        self.started(replicas=1)
        # The API server is briefly unavailable: two 503s with Retry-After, then the answer.
        status, body = cluster.request("POST", "/fake/v1/faults", {
            "method": "GET", "path": "/deployments/%s$" % self.app, "code": 503, "count": 2,
            "message": "the server is currently unable to handle the request", "retryAfterSeconds": 0})
        self.assertEqual(status, 200, body)
        mark = proxy.mark()
        r = self.run_wb("app", "status", self.app)
        self.assertExit(r, 0)
        self.assertIn("Running 1/1", r.out)
        gets = [e for e in proxy.entries(mark) if e.path.endswith("/deployments/" + self.app)]
        self.assertEqual([e.status for e in gets], ["503", "503", "200"], gets)
        self.assertAllH2(gets, "the retried GETs")
        self.assertEqual(len({e.port for e in gets}), 1, gets)  # the connection survives a 503

    @fake_only("a log stream cut on demand after a GOAWAY")
    def test_follow_survives_a_goaway(self):
        # A kube-apiserver sends GOAWAY when it shuts down gracefully (and at random with
        # --goaway-chance): streams open on that connection go on, new ones need a new connection.
        # nghttpx does the same on a reload (SIGHUP): a new worker takes new connections, the old
        # one sends GOAWAY on its own and serves its open streams to their end.
        self.started(replicas=1)
        pod = self.pods()[0]
        self.say(pod, "one\n")
        f = Follower(self, "--replica", pod)
        try:
            f.wait_for("one")
            first = self.follow_requests(pod)
            self.assertEqual(len(first), 1, first)
            before = {e.port for e in self.wb_entries()}
            proxy.reload()
            self.say(pod, "two\n")  # on the stream the GOAWAY let live
            f.wait_for("two")
            self.wait_until(lambda: self.cut(pod), "a follow stream of %s to cut" % pod)
            self.say(pod, "three\n")  # wb follows again, on a new connection
            f.wait_for("three")
            r = self.run_wb("app", "status", self.app)
            self.assertExit(r, 0)
            self.assertIn("Running 1/1", r.out)
        finally:
            f.interrupt()
        err = f.finish()
        messages = [line.rstrip("\n").split(" ", 1)[1] for line in f.lines]
        self.assertEqual([m for m in messages if not m.startswith(("Starting", "container"))],
                         ["one", "two", "three"], err)
        self.assertEqual(err.count("reconnecting"), 1, err)  # the cut, nothing else
        follows = self.follow_requests(pod)
        self.assertEqual(len(follows), 2, follows)
        self.assertNotIn(follows[1].port, before)  # no connection that got the GOAWAY was used again
        self.assertAllH2(self.wb_entries(), "wb logs -f and app status around a GOAWAY")

    def cut(self, pod):
        status, body = cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/log-cut" % (self.ns, pod))
        self.assertEqual(status, 200, body)
        return body["streams"] >= 1

    def test_cp_files_both_ways(self):
        self.started(replicas=1)
        pod = self.pods()[0]
        if cluster.real:
            # The file is put into the container (and looked at there) by the admin's kubectl exec.
            def in_pod(script, input=None):
                p = cluster.kubectl("exec", "-i", "-n", self.ns, pod, "--", "sh", "-c", script, input=input)
                self.assertEqual(p.returncode, 0, p.stderr)
                return p.stdout
            in_pod("mkdir -p /app/logs && cat > /app/logs/app.log", input="line over h2\n" * 2000)
        else:
            status, body = cluster.request("GET", "/fake/v1/namespaces/%s/pods/%s/root" % (self.ns, pod))
            self.assertEqual(status, 200, body)
            root = body["path"]
            with open(os.path.join(root, "app/logs/app.log"), "wb") as f:
                f.write(b"line over h2\n" * 2000)
        local = os.path.join(self.home, "local")
        os.makedirs(local)
        r = self.run_wb("cp-files", self.app + ":/app/logs/app.log", local)
        self.assertExit(r, 0)
        with open(os.path.join(local, "app.log"), "rb") as f:
            self.assertEqual(f.read(), b"line over h2\n" * 2000)
        up = os.path.join(local, "conf.yaml")
        with open(up, "w") as f:
            f.write("server:\n  port: 8080\n")
        os.chmod(up, 0o640)
        r = self.run_wb("cp-files", up, self.app + ":/app/application.yaml")
        self.assertExit(r, 0)
        if cluster.real:
            self.assertEqual(in_pod("cat /app/application.yaml"), "server:\n  port: 8080\n")
            self.assertEqual(in_pod("stat -c %a /app/application.yaml"), "640\n")
        else:
            landed = os.path.join(root, "app/application.yaml")
            with open(landed) as f:
                self.assertEqual(f.read(), "server:\n  port: 8080\n")
            self.assertEqual(stat.S_IMODE(os.stat(landed).st_mode), 0o640)
        entries = self.wb_entries()
        # Exec is an HTTP/1.1 upgrade the proxy passed through, never h2: copies go over SPDY (POST
        # 101), other execs (finding what is there) over a WebSocket (GET 101); everything else
        # (finding the replica) went over h2.
        execs = [e for e in entries if "/exec?" in e.path]
        self.assertTrue(execs, entries)
        self.assertEqual({e.alpn for e in execs}, {"http/1.1"}, execs)
        self.assertTrue({(e.method, e.status) for e in execs} <= {("POST", "101"), ("GET", "101")}, execs)
        self.assertEqual({e.method for e in execs if "command=cat" in e.path or "command=sh" in e.path},
                         {"POST"}, execs)
        self.assertAllH2([e for e in entries if e not in execs], "cp-files (apart from exec)")


if __name__ == "__main__":
    unittest.main()
