"""wb jvm threads: a thread dump of each ready replica, read back from the log after SIGQUIT, so it
works on the test server's JRE-only image (no jcmd). wb jvm heap / jfr: a heap dump or a flight
recording through wb's own attach client (that image has no jcmd), downloaded and removed from
the container. These need a real JVM: on the fake API server (whose pods run no Java) only wb's own
failures are tested; with WB_TEST_KUBECONFIG the real cluster runs the test server.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import WB_BIN, WbTestCase, cluster_with_app, start_app  # noqa: E402

IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64
APP = "orders"
cluster = None
ns = None


def setUpModule():
    global cluster, ns
    cluster, ns = cluster_with_app("jvm", APP, IMAGE, replicas=2)


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


HPROF_HEADER = b"JAVA PROFILE 1.0.2\0"


class JvmFiles(WbTestCase):
    def jvm(self, verb, *args, env=None):
        return self.wb("--kubeconfig", cluster.kubeconfig, "-w", ns, "jvm", verb, *args, env=env, timeout=300)

    def needs_jvm(self):
        if not cluster.real:
            self.skipTest("needs a real JVM: the fake API server's pods run no Java (WB_TEST_KUBECONFIG runs it)")

    def tmp_entries(self, app):
        """Names in the app's /tmp (its first ready replica), as wb files ls sees them."""
        r = self.wb("--kubeconfig", cluster.kubeconfig, "-w", ns, "files", "ls", app + ":/tmp", "-o", "json")
        self.assertExit(r, 0)
        return [e["name"] for e in json.loads(r.out)]

    def heap_dump_rss(self, app, path):
        """Takes a heap dump of APP into PATH with -o json; returns (its JSON, wb's peak RSS in KiB)."""
        cmd = [WB_BIN, "--kubeconfig", cluster.kubeconfig, "-w", ns, "jvm", "heap", app, path, "-o", "json"]
        with open(path + ".out", "w+b") as out, open(path + ".err", "w+b") as err:
            p = subprocess.Popen(cmd, env=self.env(), stdout=out, stderr=err, cwd=self.workdir)
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            self.assertEqual(p.returncode, 0, err.read().decode())
            return json.loads(out.read()), usage.ru_maxrss

    def assert_hprof(self, doc, path):
        with open(path, "rb") as f:
            self.assertEqual(f.read(len(HPROF_HEADER)), HPROF_HEADER)
        size = os.path.getsize(path)
        print("heap dump %s: %d bytes here, %s in the container" % (path, size, doc["size_in_container"]))
        self.assertEqual(size, doc["bytes"])
        self.assertEqual(size, doc["size_in_container"])
        self.assertEqual(doc["via"], "attach")  # the JRE-only image has no jcmd

    def test_heap_dump_is_hprof_of_the_container_size_and_gone_there(self):
        self.needs_jvm()
        path = os.path.join(self.workdir, "orders.hprof")
        r = self.jvm("heap", APP, path, "-o", "json")
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertEqual(doc["to"], path)
        self.assert_hprof(doc, path)
        self.assertFalse([n for n in self.tmp_entries(APP) if n.startswith((".wb-heap-", ".wb-attach.", ".attach_pid"))])

    def test_a_large_heap_dump_moves_with_flat_memory(self):
        self.needs_jvm()
        start_app(cluster, ns, "big", IMAGE, create_args=("--memory", "1Gi", "--env", "WB_TEST_HOLD_MIB=256"))
        small, small_rss = self.heap_dump_rss(APP, os.path.join(self.workdir, "small.hprof"))
        big, big_rss = self.heap_dump_rss("big", os.path.join(self.workdir, "big.hprof"))
        self.assert_hprof(big, os.path.join(self.workdir, "big.hprof"))
        self.assertGreater(big["bytes"], 256 << 20)
        print("peak RSS of wb: %d KiB for %d bytes, %d KiB for %d bytes" % (small_rss, small["bytes"], big_rss,
                                                                            big["bytes"]))
        if "ASAN_OPTIONS" not in os.environ:
            self.assertLess(big_rss, small_rss + 24 * 1024)

    def test_a_dump_that_would_not_fit_is_refused_before_it_starts(self):
        self.needs_jvm()
        # /tmp as a 2 MiB tmpfs (a memory-backed emptyDir is sized by its sizeLimit): the heap is bigger.
        tiny = {"spec": {"template": {"spec": {"volumes": [
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "2Mi"}}]}}}}
        start_app(cluster, ns, "tiny", IMAGE, patch=tiny)
        path = os.path.join(self.workdir, "tiny.hprof")
        r = self.jvm("heap", "tiny", path)
        self.assertOneLineError(r, 1, "would not fit", "free in /tmp", "its heap uses")
        self.assertFalse(os.path.exists(path))
        self.assertFalse([n for n in self.tmp_entries("tiny") if n.startswith(".wb-")])

    def test_flight_recording_starts_with_flr(self):
        self.needs_jvm()
        path = os.path.join(self.workdir, "orders.jfr")
        r = self.jvm("jfr", APP, "--duration", "2s", path, "-o", "json")
        self.assertExit(r, 0)
        with open(path, "rb") as f:
            self.assertEqual(f.read(4), b"FLR\0")
        self.assertEqual(json.loads(r.out)["bytes"], os.path.getsize(path))
        self.assertFalse([n for n in self.tmp_entries(APP) if n.startswith(".wb-")])

    def test_ctrl_c_ends_a_recording_early_and_still_fetches_it(self):
        self.needs_jvm()
        path = os.path.join(self.workdir, "short.jfr")
        cmd = [WB_BIN, "--kubeconfig", cluster.kubeconfig, "-w", ns, "jvm", "jfr", APP, "--duration", "5m", path,
               "-o", "json"]
        started = time.time()
        p = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.workdir)
        time.sleep(8)  # the recording runs by then (starting it takes a JVM start in the container)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err.decode())
        self.assertLess(time.time() - started, 120)
        with open(path, "rb") as f:
            self.assertEqual(f.read(4), b"FLR\0")
        self.assertEqual(json.loads(out)["bytes"], os.path.getsize(path))
        self.assertFalse([n for n in self.tmp_entries(APP) if n.startswith(".wb-")])

    def test_an_image_without_java_is_one_line(self):
        self.needs_jvm()
        start_app(cluster, ns, "static", IMAGE, real_image="busybox")
        for verb, args in (("heap", ["x.hprof"]), ("jfr", ["--duration", "1s", "x.jfr"])):
            r = self.jvm(verb, "static", *args)
            self.assertOneLineError(r, 3, "runs no Java process")
            self.assertFalse(os.path.exists(os.path.join(self.workdir, args[-1])))

    def test_a_jvm_without_attach_is_one_line(self):
        self.needs_jvm()
        start_app(cluster, ns, "closed", IMAGE, create_args=("--env", "JAVA_TOOL_OPTIONS=-XX:+DisableAttachMechanism"))
        r = self.jvm("heap", "closed", "x.hprof")
        self.assertOneLineError(r, 1, "-XX:+DisableAttachMechanism")

    def test_no_such_app_and_bad_duration(self):
        r = self.jvm("heap", "nope", "x.hprof")
        self.assertOneLineError(r, 3, "nope")
        r = self.jvm("jfr", "nope", "--duration", "1s", "x.jfr")
        self.assertOneLineError(r, 3, "nope")
        r = self.jvm("jfr", APP, "--duration", "soon", "x.jfr")
        self.assertExit(r, 2)
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "x.jfr")))


class AttachClientSource(WbTestCase):
    def test_the_committed_class_is_compiled_from_the_source(self):
        if not shutil.which("javac"):
            self.skipTest("needs javac to compile lib/workbench/app/jvm_attach/WbAttach.java")
        here = os.path.join(os.environ.get("WB_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                            "lib", "workbench", "app", "jvm_attach")
        p = subprocess.run(["sh", os.path.join(here, "build.sh"), self.workdir], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.workdir, "WbAttach.class"), "rb") as built, \
                open(os.path.join(here, "WbAttach.class"), "rb") as committed:
            self.assertEqual(built.read(), committed.read(),
                             "WbAttach.class is not what WbAttach.java compiles to: run jvm_attach/build.sh")
