#!/usr/bin/python3
"""Fidelity check of the fake API server: drive the real kubectl against it.

On a real cluster (WB_TEST_KUBECONFIG) each test runs the same kubectl commands twice, against the
fake and against the real cluster (in a namespace of its own, which stands for the fake's
`default`; the harness's busybox image, whose commands are busybox's as in the fake's busybox:*
containers), and asserts both give the same results: every command's exit status and its output with names, ages, images
and addresses put in words (a transcript), plus the fields the test reads from JSON.

Run: /usr/bin/python3 -m unittest tests/e2e/test_kubectl_fidelity.py
  or /usr/bin/python3 tests/e2e/test_kubectl_fidelity.py
"""
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "..", "fakekube", "fakekube.py")
KUBECTL = shutil.which("kubectl")
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
from wbtest import REAL_KUBECONFIG, FakeCluster, real_images  # noqa: E402

DEPLOY_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels:
    tier: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
      - name: main
        image: IMAGE
        env:
        - name: MODE
          value: "blue"
        - name: EXTRA
          value: "x"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  a: "1"
  b: "2"
"""


class FakeTarget:
    """The fake API server, started for the module."""
    name = "fake"
    timeout = "20s"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fakekube-kubectl-")
        self.proc = subprocess.Popen(["/usr/bin/python3", FAKE, "--dir", self.dir, "--port", "0"],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("READY "), line
        self.info = json.loads(line[6:])
        self.kubeconfig = self.info["kubeconfig"]
        self.ctx = ssl.create_default_context(cafile=self.info["ca"])
        self.control("POST", "/fake/v1/settings", json.dumps({"readinessDelay": 0.2}).encode())
        self.ns = "default"
        # Any image runs in the fake; busybox:* ones run their commands with busybox.
        self.images = {"web": "nginx:1.25", "logger": "busybox:1.36", "box": "busybox:1.36"}
        self.first_log = "Starting busybox:1.36"

    def control(self, method, path, data=None):
        req = urllib.request.Request(f"https://127.0.0.1:{self.info['port']}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.info['admin_token']}"})
        with urllib.request.urlopen(req, context=self.ctx) as r:
            return json.loads(r.read())

    def namespace_name(self, name):
        return name

    def write_log(self, ns, pod, text):
        self.control("POST", f"/fake/v1/namespaces/{ns}/pods/{pod}/log", text.encode())

    def read_file(self, ns, pod, path):
        root = self.control("GET", f"/fake/v1/namespaces/{ns}/pods/{pod}/root")["path"]
        with open(os.path.join(root, path.lstrip("/")), "rb") as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class RealTarget:
    """A real cluster (WB_TEST_KUBECONFIG) through the harness: a namespace of its own is the
    kubeconfig's namespace, as `default` is the fake's."""
    name = "real"
    timeout = "180s"

    def __init__(self):
        self.cluster = FakeCluster()
        self.dir = tempfile.mkdtemp(prefix="kubectl-real-")
        self.ns = self.cluster.namespace("fid")
        path = os.path.join(self.dir, "kubeconfig")
        if self.cluster.admin_token:
            self.kubeconfig = self.cluster.kubeconfig_for(path, token=self.cluster.admin_token, namespace=self.ns)
        else:
            self.kubeconfig = self.cluster.kubeconfig_for(path, cert=self.cluster.admin_cert, namespace=self.ns)
        images = real_images()
        # busybox: the fake runs a busybox:* image's commands with busybox too.
        self.images = {"web": images["busybox"], "logger": images["busybox"], "box": images["busybox"]}
        self.first_log = "busybox serving on port 8080"

    def namespace_name(self, name):
        """A name for a namespace the test creates with kubectl: unique on a shared cluster, and
        deleted at the end should the test not get to it."""
        ns = "%s-%s" % (name, uuid.uuid4().hex[:8])
        self.cluster.adopt_namespace(ns)
        return ns

    def write_log(self, ns, pod, text):
        self.cluster.say(ns, pod, text)

    def read_file(self, ns, pod, path):
        p = self.cluster.sh(ns, pod, 'cat -- "$1"', path)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def stop(self):
        self.cluster.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Session:
    """kubectl against one target, keeping a transcript of what it answered in words that do not
    depend on the target: names, ages, images, times and temp paths replaced by placeholders."""

    def __init__(self, test, target):
        self.test, self.t = test, target
        self.transcript = []
        self.words = []

    def name(self, real, word):
        """Puts WORD for REAL in the transcript (e.g. the namespace a real cluster gave a test)."""
        self.words.append((real, word))
        return real

    def norm(self, text, ns=True):
        for image in set(self.t.images.values()):
            text = text.replace(image, "IMAGE")
        for real, word in sorted(self.words, key=lambda w: -len(w[0])):
            text = text.replace(real, word)
        if ns:
            text = re.sub(r"\b%s\b" % re.escape(self.t.ns), "NS", text)
        text = re.sub(r"\b(web|shop|logger|box)-[a-z0-9]{8,10}-[a-z0-9]{5}\b", r"\1-POD", text)
        text = re.sub(r"\b(web|shop|logger|box)-[a-z0-9]{8,10}\b", r"\1-RS", text)
        text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "TIME", text)
        text = re.sub(r'exec \\?"[0-9a-f]{64}\\?"', "exec ID", text)
        text = re.sub(r"(?<= )\d+[smhd](\d+[smh])?(?= |$)", "AGE", text, flags=re.M)
        text = re.sub(r"--timeout=\d+s", "--timeout=T", text)
        return re.sub(r" {2,}", "  ", text)

    def k(self, *args, input=None, check=True, timeout=60, record=True):
        p = subprocess.run([KUBECTL, "--kubeconfig", self.t.kubeconfig] + list(args), input=input,
                           capture_output=True, timeout=timeout)
        if check and p.returncode != 0:
            self.test.fail(f"{self.t.name}: kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr.decode()}")
        if record:
            line = " ".join(args)
            out = p.stdout.decode(errors="replace")
            if re.search(r"-o (json|yaml)|--output", line):
                out = "(%s)" % line.split("-o ")[1].split()[0]  # the test notes the fields it reads
            elif args[0] == "rollout" or "rollout" in args[:3]:
                out = (out.splitlines() or [""])[-1]  # the waiting lines before it depend on timing
            err = p.stderr.decode(errors="replace")
            if args[0] == "cp":
                # The container tar's warning about the leading '/' (which kubectl cp prints) comes
                # or not, by timing: a real cluster dropped it now and then for a small file.
                out = re.sub(r"tar: [Rr]emoving leading .* from member names\n", "", out)
            self.transcript.append((self.norm("kubectl " + line), p.returncode, self.norm(out), self.norm(err)))
        return p

    def out(self, *args, **kw):
        return self.k(*args, **kw).stdout.decode()

    def note(self, what, value, norm=True):
        """Puts a value the test read (from JSON, a file, a stream) into the transcript."""
        self.transcript.append((what, self.norm(value) if norm and isinstance(value, str) else value))
        return value

    def wait(self, fn, timeout=None, msg="condition"):
        end = time.time() + (timeout or (15 if self.t.name == "fake" else 180))
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.1 if self.t.name == "fake" else 0.5)
        self.test.fail(f"{self.t.name}: timed out waiting for {msg}")

    def ready_pod(self, ns, selector):
        def f():
            pods = json.loads(self.k("-n", ns, "get", "pods", "-l", selector, "-o", "json", record=False).stdout)["items"]
            ready = [p for p in pods if not p["metadata"].get("deletionTimestamp") and any(
                c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
            return ready[0]["metadata"]["name"] if ready else None
        return self.wait(f, msg=f"ready pod {selector}")


@unittest.skipIf(KUBECTL is None, "kubectl is not installed")
class KubectlFidelity(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.targets = [FakeTarget()]
        if REAL_KUBECONFIG:
            try:
                cls.targets.append(RealTarget())
            except BaseException:
                cls.targets[0].stop()
                raise

    @classmethod
    def tearDownClass(cls):
        for t in cls.targets:
            t.stop()

    def each_target(self, scenario):
        """Runs SCENARIO(session) against the fake and, in real mode, the real cluster; then the two
        transcripts must be the same."""
        transcripts = []
        for t in self.targets:
            s = Session(self, t)
            scenario(s)
            transcripts.append(s.transcript)
        if len(transcripts) == 2:
            self.assertEqual(transcripts[0], transcripts[1], "the fake (first) and the real cluster (second) differ")

    # ------------------------------------------------------------------ tests
    def test_01_get_create_delete(self):
        self.each_target(self.get_create_delete)

    def get_create_delete(self, s):
        t = s.t
        out = s.out("get", "namespaces", record=False)  # a real cluster has other namespaces, and ages
        self.assertIn("NAME", out)
        self.assertIn("default", out)
        self.assertIn("Active", out)
        s.note("namespaces header", s.norm(out.splitlines()[0]))
        s.note("default namespace", s.norm(next(ln for ln in out.splitlines() if ln.startswith("default ")), ns=False),
               norm=False)
        fid = s.name(t.namespace_name("fid"), "FID")
        # kubectl names the container after the image
        s.name(re.sub(r"[:@].*", "", t.images["web"].rsplit("/", 1)[-1]), "CONTAINER")
        self.assertIn(f"namespace/{fid} created", s.out("create", "namespace", fid))
        self.assertIn("configmap/cm1 created",
                      s.out("-n", fid, "create", "configmap", "cm1", "--from-literal=k=v"))
        cm = json.loads(s.out("-n", fid, "get", "configmap", "cm1", "-o", "json"))
        self.assertEqual(s.note("cm1 data", cm["data"]), {"k": "v"})
        self.assertIn("deployment.apps/web created",
                      s.out("-n", fid, "create", "deployment", "web", f"--image={t.images['web']}", "--replicas=2"))
        s.k("-n", fid, "rollout", "status", "deployment/web", f"--timeout={t.timeout}", timeout=200)
        d = json.loads(s.out("-n", fid, "get", "deployments", "-o", "json"))
        self.assertEqual(s.note("readyReplicas", d["items"][0]["status"]["readyReplicas"]), 2)
        y = s.out("-n", fid, "get", "deployment", "web", "-o", "yaml")
        self.assertIn("kind: Deployment", y)
        self.assertIn(f"image: {t.images['web']}", y)
        pods = s.out("-n", fid, "get", "pods", "-l", "app=web")
        self.assertEqual(len([ln for ln in pods.splitlines() if ln.startswith("web-")]), 2)
        self.assertIn("Running", pods)
        self.assertEqual(s.out("-n", fid, "get", "pods", "-l", "app=nothing").strip(), "")
        self.assertIn("No resources found", s.k("-n", fid, "get", "pods", "-l", "app=nothing").stderr.decode())
        wide = s.out("-n", fid, "get", "deploy", "-o", "wide")
        self.assertIn(t.images["web"], wide)
        self.assertIn("app=web", wide)
        p = s.k("-n", fid, "get", "deployment", "missing", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('Error from server (NotFound): deployments.apps "missing" not found', p.stderr.decode())
        p = s.k("create", "namespace", fid, check=False)
        self.assertIn(f'namespaces "{fid}" already exists', p.stderr.decode())
        self.assertIn('deployment.apps "web" deleted', s.out("-n", fid, "delete", "deployment", "web"))
        s.wait(lambda: s.out("-n", fid, "get", "pods", "-o", "name", record=False).strip() == "", msg="pods deleted")
        s.wait(lambda: s.out("-n", fid, "get", "rs", "-o", "name", record=False).strip() == "", msg="rs deleted")
        self.assertIn(f'namespace "{fid}" deleted', s.out("delete", "namespace", fid, timeout=200))
        self.assertNotEqual(s.k("get", "namespace", fid, check=False).returncode, 0)

    def test_02_apply(self):
        self.each_target(self.apply)

    def apply(self, s):
        t = s.t
        d = tempfile.mkdtemp(dir=t.dir)
        path = s.name(os.path.join(d, "app.yaml"), "APP.YAML")
        yaml = DEPLOY_YAML.replace("IMAGE", t.images["web"])
        with open(path, "w") as f:
            f.write(yaml)
        out = s.out("apply", "-f", path)
        self.assertIn("deployment.apps/shop created", out)
        self.assertIn("configmap/shop-config created", out)
        out = s.out("apply", "-f", path)
        self.assertIn("deployment.apps/shop unchanged", out)
        self.assertIn("configmap/shop-config unchanged", out)
        with open(path, "w") as f:
            f.write(yaml.replace('value: "blue"', 'value: "green"')
                    .replace('        - name: EXTRA\n          value: "x"\n', '')
                    .replace('  b: "2"', '  c: "3"'))
        out = s.out("apply", "-f", path)
        self.assertIn("deployment.apps/shop configured", out)
        cm = json.loads(s.out("get", "cm", "shop-config", "-o", "json"))
        self.assertEqual(s.note("shop-config data", cm["data"]), {"a": "1", "c": "3"})
        dep = json.loads(s.out("get", "deploy", "shop", "-o", "json"))
        self.assertEqual(s.note("env", dep["spec"]["template"]["spec"]["containers"][0]["env"]),
                         [{"name": "MODE", "value": "green"}])
        self.assertEqual(s.note("generation", dep["metadata"]["generation"]), 2)
        s.k("rollout", "status", "deployment/shop", f"--timeout={t.timeout}", timeout=200)
        rs = json.loads(s.out("get", "rs", "-l", "app=shop", "-o", "json"))["items"]
        self.assertEqual(s.note("revisions", sorted(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                                                    for r in rs)), ["1", "2"])
        # server-side apply takes over the fields client-side apply set (their live values are still
        # the last-applied ones) without a conflict
        with open(path, "w") as f:
            f.write(yaml.replace("replicas: 2", "replicas: 1"))
        out = s.out("apply", "--server-side", "-f", path)
        self.assertIn("deployment.apps/shop serverside-applied", out)
        # a field another manager changed since conflicts, until forced
        s.out("scale", "deployment", "shop", "--replicas=3")
        p = s.k("apply", "--server-side", "-f", path, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas',
                      p.stderr.decode())
        out = s.out("apply", "--server-side", "--force-conflicts", "-f", path)
        self.assertIn("deployment.apps/shop serverside-applied", out)
        out = s.out("apply", "--server-side", "-f", path)
        self.assertIn("serverside-applied", out)
        dep = json.loads(s.out("get", "deploy", "shop", "-o", "json", "--show-managed-fields"))
        self.assertEqual(s.note("replicas", dep["spec"]["replicas"]), 1)
        self.assertIn("kubectl", s.note("managers", sorted({m["manager"] for m in dep["metadata"]["managedFields"]})))
        cm = json.loads(s.out("get", "cm", "shop-config", "-o", "json"))
        self.assertEqual(s.note("shop-config data", cm["data"]), {"a": "1", "b": "2"})
        s.out("delete", "-f", path)

    def test_03_logs(self):
        self.each_target(self.logs)

    def logs(self, s):
        t = s.t
        s.out("create", "deployment", "logger", f"--image={t.images['logger']}")
        pod = s.ready_pod(t.ns, "app=logger")
        self.assertIn(t.first_log, s.out("logs", pod, record=False))
        t.write_log(t.ns, pod, "alpha\nbeta\ngamma\n")
        # A real container runtime writes the log file a moment later.
        s.wait(lambda: s.out("logs", pod, "--tail=1", record=False) == "gamma\n", msg="the lines in the log")
        self.assertEqual(s.out("logs", pod, "--tail=2"), "beta\ngamma\n")
        ts = s.out("logs", pod, "--tail=1", "--timestamps")
        self.assertRegex(ts, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z gamma\n$")
        follow = subprocess.Popen([KUBECTL, "--kubeconfig", t.kubeconfig, "logs", "-f", "--tail=1", pod],
                                  stdout=subprocess.PIPE)
        try:
            self.assertEqual(s.note("follow", follow.stdout.readline()), b"gamma\n")
            t.write_log(t.ns, pod, "delta\n")
            self.assertEqual(s.note("follow", follow.stdout.readline()), b"delta\n")
            s.out("delete", "pod", pod, timeout=120)
            follow.wait(60)
            self.assertEqual(s.note("follow exit status", follow.returncode), 0)
        finally:
            if follow.poll() is None:
                follow.kill()
            follow.stdout.close()
        s.out("delete", "deployment", "logger")

    def test_04_exec_and_cp(self):
        self.each_target(self.exec_and_cp)

    def exec_and_cp(self, s):
        t = s.t
        s.out("create", "deployment", "box", f"--image={t.images['box']}")
        pod = s.ready_pod(t.ns, "app=box")
        self.assertEqual(s.out("exec", pod, "--", "cat", "/etc/hostname"), pod + "\n")
        p = s.k("exec", "-i", pod, "--", "sh", "-c", "tr a-z A-Z", input=b"hello stdin\n")
        self.assertEqual(p.stdout, b"HELLO STDIN\n")
        p = s.k("exec", pod, "--", "sh", "-c", "exit 3", check=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("command terminated with exit code 3", p.stderr.decode())
        p = s.k("exec", pod, "--", "no-such-binary", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("executable file not found", p.stderr.decode())
        # cp local -> pod (directory, recursive like tar) and back
        src = s.name(tempfile.mkdtemp(dir=t.dir), "SRC")
        os.makedirs(os.path.join(src, "sub"))
        with open(os.path.join(src, "a.txt"), "w") as f:
            f.write("A\n")
        with open(os.path.join(src, "sub", "b.bin"), "wb") as f:
            f.write(os.urandom(300000))
        s.k("cp", src, f"{pod}:/tmp/data")
        self.assertEqual(s.out("exec", pod, "--", "cat", "/tmp/data/a.txt"), "A\n")
        with open(os.path.join(src, "sub", "b.bin"), "rb") as f:
            self.assertEqual(t.read_file(t.ns, pod, "/tmp/data/sub/b.bin"), f.read())
        dst = s.name(os.path.join(t.dir, "back-" + uuid.uuid4().hex[:6]), "BACK")
        s.k("cp", f"{pod}:/tmp/data", dst)
        with open(os.path.join(dst, "a.txt")) as f:
            self.assertEqual(f.read(), "A\n")
        with open(os.path.join(dst, "sub", "b.bin"), "rb") as f1, \
                open(os.path.join(src, "sub", "b.bin"), "rb") as f2:
            self.assertEqual(f1.read(), f2.read())
        # single file from pod
        single = s.name(os.path.join(t.dir, "hostname-%s.txt" % uuid.uuid4().hex[:6]), "SINGLE")
        s.k("cp", f"{pod}:/etc/hostname", single)
        with open(single) as f:
            self.assertEqual(f.read(), pod + "\n")
        s.out("delete", "deployment", "box")


if __name__ == "__main__":
    unittest.main()
