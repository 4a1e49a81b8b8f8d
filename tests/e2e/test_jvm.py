"""wb jvm threads: a thread dump of each ready replica, read back from the log after SIGQUIT, so it
works on the test server's JRE-only image (no jcmd). The dump needs a real JVM: on the fake API
server (whose pods run no Java) only wb's own failures are tested; with WB_TEST_KUBECONFIG the real
cluster runs the test server, whose dump names its HTTP server's threads.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, WbTestCase, start_app  # noqa: E402

IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64
APP = "orders"
cluster = None
ns = None


def setUpModule():
    global cluster, ns
    cluster = FakeCluster()
    try:
        if not cluster.real:
            status, body = cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
            assert status == 200, body
        ns = cluster.namespace("jvm")
        start_app(cluster, ns, APP, IMAGE, replicas=2)
    except BaseException:
        cluster.stop()
        raise


def tearDownModule():
    if cluster:
        cluster.stop()


class JvmThreads(WbTestCase):
    def threads(self, *args):
        return self.wb("--kubeconfig", cluster.kubeconfig, "-w", ns, "jvm", "threads", *args, timeout=120)

    def needs_jvm(self):
        if not cluster.real:
            self.skipTest("needs a real JVM: the fake API server's pods run no Java (WB_TEST_KUBECONFIG runs it)")

    def replicas(self):
        status, body = cluster.request("GET", "/api/v1/namespaces/%s/pods?labelSelector=app.kubernetes.io/name=%s"
                                       % (ns, APP))
        assert status == 200, body
        # As wb names them: the app and the pod's own suffix ("orders-x2x9z").
        return sorted(APP + "-" + p["metadata"]["name"].rsplit("-", 1)[1] for p in body["items"])

    def dumps(self, out):
        """{replica: dump text} from wb's output."""
        parts = re.split(r"^==> (\S+) <==\n", out, flags=re.M)
        self.assertEqual(parts[0], "", out[:2000])
        return dict(zip(parts[1::2], parts[2::2]))

    def assert_dump(self, text):
        lines = text.rstrip("\n").split("\n")
        self.assertTrue(lines[0].startswith("Full thread dump "), text[:500])
        # The server's own threads: its HTTP dispatcher, and the JVM's launcher thread that ran main.
        self.assertIn('"HTTP-Dispatcher"', text)
        self.assertIn('"DestroyJavaVM"', text)
        self.assertIn("java.lang.Thread.State: RUNNABLE", text)
        self.assertTrue(any(l.startswith("JNI global refs") for l in lines), text[-2000:])
        # Only the dump: no log timestamps, none of the app's own lines.
        for l in lines:
            self.assertIsNone(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", l), l)
            self.assertFalse(l.startswith(("serving version", "request ")), l)

    def test_every_ready_replica_is_dumped_under_its_name(self):
        self.needs_jvm()
        r = self.threads(APP)
        self.assertExit(r, 0)
        dumps = self.dumps(r.out)
        self.assertEqual(sorted(dumps), self.replicas())
        for text in dumps.values():
            self.assert_dump(text)

    def test_one_replica_by_name_and_again(self):
        self.needs_jvm()
        pod = self.replicas()[0]
        for _ in range(2):  # a second dump is read, not the first one again
            r = self.threads(APP, "--replica", pod)
            self.assertExit(r, 0)
            dumps = self.dumps(r.out)
            self.assertEqual(list(dumps), [pod])
            self.assert_dump(dumps[pod])
            self.assertEqual(dumps[pod].count("Full thread dump"), 1)

    def test_a_replica_without_java_is_one_line_exit_3(self):
        self.needs_jvm()
        start_app(cluster, ns, "web", IMAGE, real_image="busybox")
        r = self.threads("web")
        self.assertOneLineError(r, 3, "runs no Java process")
        self.assertEqual(r.out, "")

    def test_no_such_app_or_replica_is_one_line_exit_3(self):
        r = self.threads("nope")
        self.assertOneLineError(r, 3, "nope")
        r = self.threads(APP, "--replica", "zzzzz")
        self.assertOneLineError(r, 3, "zzzzz")
        self.assertEqual(r.out, "")
