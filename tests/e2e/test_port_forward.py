"""wb port-forward and wb app open against the fake API server (whose pods run no servers: each pod's
fakekube.wb.dev/port-forward annotation points at an HTTP server this module starts for it, answering
"hello from POD") and, with WB_TEST_KUBECONFIG, a real cluster (the test server image, which answers
"hello from POD version V"). Two hundred concurrent requests all answer with flat memory; a rollout
ends the connections to the old replicas and later ones reach the new replicas, without restarting
wb; bad input and a missing app or replica are one line with the right exit status; an API server
that cannot forward over WebSocket (the fake's 1.18 mode) is one line naming what is needed, exit 2.
"""
import concurrent.futures
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, WB_BIN, WbTestCase, cluster_with_app, free_port, real_images, start_app  # noqa: E402

IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64
IMAGE_V2 = "registry.local/shop/orders@sha256:" + "b" * 64
APP = "orders"
REPLICAS = 2
cluster = None
ns = None
pod_servers = {}  # fake mode: pod name -> its HTTP server


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = ("hello from %s version fake\n" % self.server.pod).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_pods():
    """Fake mode: an HTTP server for each running replica that has none yet, named in its annotation."""
    if cluster.real:
        return
    for pod in cluster.running_pods(ns, APP):
        if pod in pod_servers:
            continue
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
        server.daemon_threads = True
        server.request_queue_size = 256
        server.pod = pod
        threading.Thread(target=server.serve_forever, daemon=True).start()
        pod_servers[pod] = server
        status, body = cluster.request(
            "PATCH", "/api/v1/namespaces/%s/pods/%s" % (ns, pod),
            {"metadata": {"annotations": {"fakekube.wb.dev/port-forward": "8080=127.0.0.1:%d" % server.server_address[1]}}},
            content_type="application/merge-patch+json")
        assert status == 200, body


def setUpModule():
    global cluster, ns
    cluster, ns = cluster_with_app("pf", APP, IMAGE, replicas=REPLICAS)
    try:
        serve_pods()
    except BaseException:
        cluster.stop()
        raise


def tearDownModule():
    for server in pod_servers.values():
        server.shutdown()
    if cluster:
        cluster.stop()


def read_response(sock):
    """One HTTP/1.1 response with a Content-Length from a kept-alive socket (headers and body may
    come in separate reads)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    while length and len(body) < int(length.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def get(url, timeout=60):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read().decode()


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Forward:
    """A running `wb port-forward` (or `wb app open`): its forwarded URLs once it printed them."""

    def __init__(self, test, *args):
        self.proc = subprocess.Popen([WB_BIN, "--kubeconfig", cluster.kubeconfig, "-w", ns] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=test.workdir,
                                     env=test.env())
        test.addCleanup(self.kill)
        self.lines = []
        self.err_lines = []
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_err(self):
        for line in self.proc.stderr:
            self.err_lines.append(line)

    def read_lines(self, count, timeout=60):
        deadline = time.time() + timeout
        while len(self.lines) < count:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("wb ended (exit %s) after printing %r; stderr: %s"
                                     % (self.proc.wait(), self.lines, "".join(self.err_lines)))
            self.lines.append(line.rstrip("\n"))
            if time.time() > deadline:
                raise AssertionError("wb printed only %r in %d s" % (self.lines, timeout))
        return self.lines

    def urls(self, count=1):
        out = []
        for line in self.read_lines(count)[:count]:
            m = re.fullmatch(r"Forwarding (http://\S+) -> %s:(\d+)" % APP, line)
            assert m, "unexpected line %r" % line
            out.append(m.group(1))
        return out

    def interrupt(self):
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class PortForward(WbTestCase):
    def run_wb(self, *args, **kw):
        return self.wb("--kubeconfig", cluster.kubeconfig, "-w", ns, *args, **kw)

    def test_two_hundred_concurrent_requests_with_flat_memory(self):
        fw = Forward(self, "port-forward", APP, "0:8080")
        url = fw.urls()[0]
        self.assertRegex(url, r"^http://127\.0\.0\.1:\d+$")
        self.assertNotEqual(url, "http://127.0.0.1:0")

        def round_of(n):
            barrier = threading.Barrier(n)

            def one(_):
                barrier.wait()
                return get(url + "/")
            with concurrent.futures.ThreadPoolExecutor(n) as pool:
                return list(pool.map(one, range(n)))

        answers = round_of(200)
        self.assertEqual(len(answers), 200)
        for status, body in answers:
            self.assertEqual(status, 200)
            self.assertTrue(body.startswith("hello from %s-" % APP), body)
        first = peak_rss_kib(fw.proc.pid)
        for _ in range(3):
            self.assertTrue(all(s == 200 for s, _ in round_of(200)))
        last = peak_rss_kib(fw.proc.pid)
        print("\n4 x 200 concurrent requests through wb port-forward: peak RSS %d MiB after the first 200, %d MiB "
              "after all" % (first // 1024, last // 1024), file=sys.stderr)
        if "ASAN_OPTIONS" not in os.environ:  # ASan's quarantine holds freed memory: RSS says nothing there
            self.assertLess(last - first, 16 * 1024)
        self.assertIsNone(fw.proc.poll())
        self.assertEqual(fw.interrupt(), 130)
        self.assertEqual("".join(fw.err_lines).strip(), "")

    def test_a_rollout_is_survived(self):
        fw = Forward(self, "port-forward", APP, "0:8080")
        url = fw.urls()[0]
        old = set(cluster.running_pods(ns, APP))
        self.assertIn(get(url)[1].split()[2], old)
        # A kept-alive connection to an old replica ends when that replica goes.
        host, port = url[len("http://"):].split(":")
        kept = socket.create_connection((host, int(port)), timeout=120)
        self.addCleanup(kept.close)
        kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"hello from", read_response(kept))

        status, body = cluster.set_app_image(ns, APP, real_images()["server-v2"] if cluster.real else IMAGE_V2)
        self.assertEqual(status, 200, body)
        deadline = time.time() + 300
        while time.time() < deadline:
            now = set(cluster.running_pods(ns, APP))
            if len(now) == REPLICAS and not now & old:
                break
            time.sleep(0.5)
        new = set(cluster.wait_ready(ns, "app.kubernetes.io/name=" + APP, REPLICAS))
        self.assertFalse(new & old)
        serve_pods()
        kept.settimeout(60)
        self.assertEqual(kept.recv(65536), b"", "the connection to a replica that went away stays open")

        for _ in range(5):
            status, body = get(url)
            self.assertEqual(status, 200)
            self.assertIn(body.split()[2], new)
            if cluster.real:
                self.assertIn("version 2", body)
        self.assertIsNone(fw.proc.poll(), "wb ended with the rollout")
        self.assertEqual(fw.interrupt(), 130)

    def test_the_apps_port_by_default(self):
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", 8080))
        except OSError:
            self.skipTest("local port 8080 is taken here")
        finally:
            probe.close()
        fw = Forward(self, "port-forward", APP)
        self.assertEqual(fw.read_lines(1), ["Forwarding http://127.0.0.1:8080 -> %s:8080" % APP])
        self.assertEqual(get("http://127.0.0.1:8080/")[0], 200)
        self.assertEqual(fw.interrupt(), 130)

    def test_two_ports_and_an_address(self):
        a, b = free_port(), free_port()
        fw = Forward(self, "port-forward", APP, "%d:8080" % a, "%d:8080" % b, "--address", "localhost")
        self.assertEqual(fw.urls(2), ["http://127.0.0.1:%d" % a, "http://127.0.0.1:%d" % b])
        for port in (a, b):
            self.assertEqual(get("http://127.0.0.1:%d/" % port)[0], 200)
        self.assertEqual(fw.interrupt(), 130)

    def test_nothing_listening_ends_that_connection_only(self):
        fw = Forward(self, "port-forward", APP, "0:8080", "0:9")
        good, bad = fw.urls(2)
        host, port = bad[len("http://"):].split(":")
        with socket.create_connection((host, int(port)), timeout=60) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            self.assertEqual(s.recv(100), b"")
        deadline = time.time() + 30
        while not fw.err_lines and time.time() < deadline:
            time.sleep(0.1)
        self.assertTrue(fw.err_lines, "no word about the failed connection")
        self.assertRegex(fw.err_lines[0], r"^warning: connection to port 9 of replica %s-\S+: " % APP)
        self.assertEqual(get(good)[0], 200)
        self.assertEqual(fw.interrupt(), 130)

    def test_bad_input_is_one_line(self):
        r = self.run_wb("port-forward", APP, "http")
        self.assertOneLineError(r, 2, "error:", "'http' is not a port to forward")
        r = self.run_wb("port-forward", APP, "8080:70000")
        self.assertOneLineError(r, 2, "error:", "'8080:70000' is not a port to forward")
        r = self.run_wb("port-forward", APP, "0:8080", "--address", "my-laptop")
        self.assertOneLineError(r, 2, "error:", "'my-laptop' is not an IP address")
        r = self.run_wb("port-forward", "nosuchapp")
        self.assertOneLineError(r, 3, "error:", "nosuchapp")
        r = self.run_wb("port-forward", APP, "0:8080", "--replica", "zzzzz")
        self.assertOneLineError(r, 3, "error:", "no replica 'zzzzz'")
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        r = self.run_wb("port-forward", APP, "%d:8080" % port)
        self.assertOneLineError(r, 2, "error:", "local port %d on 127.0.0.1 is taken" % port)

    def test_an_app_without_ready_replicas(self):
        self.assertExit(self.run_wb("app", "create", "idle"), 0)
        r = self.run_wb("port-forward", "idle", "0:8080")
        self.assertOneLineError(r, 3, "error:", "app 'idle' has no ready replica")
        r = self.run_wb("app", "open", "idle")
        self.assertOneLineError(r, 3, "error:", "app 'idle' has no ready replica")

    def test_app_open_without_a_route_forwards(self):
        fw = Forward(self, "app", "open", APP)
        lines = fw.read_lines(2)
        m = re.fullmatch(r"Forwarding (http://127\.0\.0\.1:\d+) -> %s:8080" % APP, lines[0])
        self.assertTrue(m, lines)
        self.assertEqual(lines[1], m.group(1))
        self.assertEqual(get(lines[1] + "/")[0], 200)
        self.assertEqual(fw.interrupt(), 130)

    def test_app_open_with_a_route_prints_it(self):
        self.assertExit(self.run_wb("app", "create", "shop", "--port", "9000"), 0)
        self.assertExit(self.run_wb("route", "add", "shop", "--host", "shop.example.com"), 0)
        r = self.run_wb("app", "open", "shop")
        self.assertExit(r, 0)
        self.assertRegex(r.out, r"^https?://shop\.example\.com\n$")


@unittest.skipIf(os.environ.get("WB_TEST_KUBECONFIG"), "needs the fake API server's Kubernetes 1.18 mode")
class OnKubernetes118(WbTestCase):
    def test_an_old_api_server_is_one_line(self):
        old = FakeCluster(k8s_version="1.18")
        self.addCleanup(old.stop)
        old.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
        old_ns = old.namespace("pf-old")
        start_app(old, old_ns, APP, IMAGE)
        r = self.wb("--kubeconfig", old.kubeconfig, "-w", old_ns, "port-forward", APP, "0:8080")
        self.assertOneLineError(r, 2, "error:", "v1.18", "needs Kubernetes 1.31 or later")


if __name__ == "__main__":
    unittest.main()
