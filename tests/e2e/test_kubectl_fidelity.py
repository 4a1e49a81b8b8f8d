#!/usr/bin/python3
"""Fidelity check of the fake API server: drive the real kubectl against it.

Run: /usr/bin/python3 -m unittest tests/e2e/test_kubectl_fidelity.py
  or /usr/bin/python3 tests/e2e/test_kubectl_fidelity.py
"""
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "..", "fakekube", "fakekube.py")
KUBECTL = shutil.which("kubectl")

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
        image: nginx:1.25
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


@unittest.skipIf(KUBECTL is None, "kubectl is not installed")
class KubectlFidelity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fakekube-kubectl-")
        cls.proc = subprocess.Popen(["/usr/bin/python3", FAKE, "--dir", cls.dir, "--port", "0"],
                                    stdout=subprocess.PIPE, text=True)
        line = cls.proc.stdout.readline()
        assert line.startswith("READY "), line
        cls.info = json.loads(line[6:])
        cls.kubeconfig = cls.info["kubeconfig"]
        cls.ctx = ssl.create_default_context(cafile=cls.info["ca"])
        cls.control("POST", "/fake/v1/settings", json.dumps({"readinessDelay": 0.2}).encode())

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(10)
        cls.proc.stdout.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def control(cls, method, path, data=None):
        req = urllib.request.Request(f"https://127.0.0.1:{cls.info['port']}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {cls.info['admin_token']}"})
        with urllib.request.urlopen(req, context=cls.ctx) as r:
            return json.loads(r.read())

    def k(self, *args, input=None, check=True, timeout=60):
        p = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig] + list(args), input=input,
                           capture_output=True, timeout=timeout)
        if check and p.returncode != 0:
            self.fail(f"kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr.decode()}")
        return p

    def out(self, *args, **kw):
        return self.k(*args, **kw).stdout.decode()

    def wait(self, fn, timeout=15, msg="condition"):
        end = time.time() + timeout
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        self.fail(f"timed out waiting for {msg}")

    def ready_pod(self, ns, selector):
        def f():
            pods = json.loads(self.out("-n", ns, "get", "pods", "-l", selector, "-o", "json"))["items"]
            ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                            for c in p["status"].get("conditions", []))]
            return ready[0]["metadata"]["name"] if ready else None
        return self.wait(f, msg=f"ready pod {selector}")

    # ------------------------------------------------------------------ tests
    def test_01_get_create_delete(self):
        out = self.out("get", "namespaces")
        self.assertIn("NAME", out)
        self.assertIn("default", out)
        self.assertIn("Active", out)
        self.assertIn("namespace/fid created", self.out("create", "namespace", "fid"))
        self.assertIn("configmap/cm1 created",
                      self.out("-n", "fid", "create", "configmap", "cm1", "--from-literal=k=v"))
        cm = json.loads(self.out("-n", "fid", "get", "configmap", "cm1", "-o", "json"))
        self.assertEqual(cm["data"], {"k": "v"})
        self.assertIn("deployment.apps/web created",
                      self.out("-n", "fid", "create", "deployment", "web", "--image=nginx:1.25", "--replicas=2"))
        self.k("-n", "fid", "rollout", "status", "deployment/web", "--timeout=20s")
        d = json.loads(self.out("-n", "fid", "get", "deployments", "-o", "json"))
        self.assertEqual(d["items"][0]["status"]["readyReplicas"], 2)
        y = self.out("-n", "fid", "get", "deployment", "web", "-o", "yaml")
        self.assertIn("kind: Deployment", y)
        self.assertIn("image: nginx:1.25", y)
        pods = self.out("-n", "fid", "get", "pods", "-l", "app=web")
        self.assertEqual(len([ln for ln in pods.splitlines() if ln.startswith("web-")]), 2)
        self.assertIn("Running", pods)
        self.assertEqual(self.out("-n", "fid", "get", "pods", "-l", "app=nothing").strip(), "")
        self.assertIn("No resources found", self.k("-n", "fid", "get", "pods", "-l", "app=nothing").stderr.decode())
        wide = self.out("-n", "fid", "get", "deploy", "-o", "wide")
        self.assertIn("nginx:1.25", wide)
        self.assertIn("app=web", wide)
        p = self.k("-n", "fid", "get", "deployment", "missing", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('Error from server (NotFound): deployments.apps "missing" not found', p.stderr.decode())
        p = self.k("create", "namespace", "fid", check=False)
        self.assertIn('namespaces "fid" already exists', p.stderr.decode())
        self.assertIn('deployment.apps "web" deleted', self.out("-n", "fid", "delete", "deployment", "web"))
        self.wait(lambda: self.out("-n", "fid", "get", "pods", "-o", "name").strip() == "", msg="pods deleted")
        self.assertEqual(self.out("-n", "fid", "get", "rs", "-o", "name").strip(), "")
        self.assertIn('namespace "fid" deleted', self.out("delete", "namespace", "fid", timeout=30))
        self.assertNotEqual(self.k("get", "namespace", "fid", check=False).returncode, 0)

    def test_02_apply(self):
        d = tempfile.mkdtemp(dir=self.dir)
        path = os.path.join(d, "app.yaml")
        with open(path, "w") as f:
            f.write(DEPLOY_YAML)
        out = self.out("apply", "-f", path)
        self.assertIn("deployment.apps/shop created", out)
        self.assertIn("configmap/shop-config created", out)
        out = self.out("apply", "-f", path)
        self.assertIn("deployment.apps/shop unchanged", out)
        self.assertIn("configmap/shop-config unchanged", out)
        with open(path, "w") as f:
            f.write(DEPLOY_YAML.replace('value: "blue"', 'value: "green"')
                    .replace('        - name: EXTRA\n          value: "x"\n', '')
                    .replace('  b: "2"', '  c: "3"'))
        out = self.out("apply", "-f", path)
        self.assertIn("deployment.apps/shop configured", out)
        cm = json.loads(self.out("get", "cm", "shop-config", "-o", "json"))
        self.assertEqual(cm["data"], {"a": "1", "c": "3"})
        dep = json.loads(self.out("get", "deploy", "shop", "-o", "json"))
        self.assertEqual(dep["spec"]["template"]["spec"]["containers"][0]["env"], [{"name": "MODE", "value": "green"}])
        self.assertEqual(dep["metadata"]["generation"], 2)
        self.k("rollout", "status", "deployment/shop", "--timeout=20s")
        rs = json.loads(self.out("get", "rs", "-l", "app=shop", "-o", "json"))["items"]
        self.assertEqual(sorted(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rs),
                         ["1", "2"])
        # server-side apply (takes over fields from the client-side apply manager)
        with open(path, "w") as f:
            f.write(DEPLOY_YAML.replace("replicas: 2", "replicas: 1"))
        p = self.k("apply", "--server-side", "-f", path, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("conflict", p.stderr.decode().lower())
        out = self.out("apply", "--server-side", "--force-conflicts", "-f", path)
        self.assertIn("deployment.apps/shop serverside-applied", out)
        out = self.out("apply", "--server-side", "-f", path)
        self.assertIn("serverside-applied", out)
        dep = json.loads(self.out("get", "deploy", "shop", "-o", "json", "--show-managed-fields"))
        self.assertEqual(dep["spec"]["replicas"], 1)
        self.assertIn("kubectl", [m["manager"] for m in dep["metadata"]["managedFields"]])
        cm = json.loads(self.out("get", "cm", "shop-config", "-o", "json"))
        self.assertEqual(cm["data"], {"a": "1", "b": "2"})
        self.out("delete", "-f", path)

    def test_03_logs(self):
        self.out("create", "deployment", "logger", "--image=busybox:1.36")
        pod = self.ready_pod("default", "app=logger")
        self.assertIn("Starting busybox:1.36", self.out("logs", pod))
        self.control("POST", f"/fake/v1/namespaces/default/pods/{pod}/log", b"alpha\nbeta\ngamma\n")
        self.assertEqual(self.out("logs", pod, "--tail=2"), "beta\ngamma\n")
        ts = self.out("logs", pod, "--tail=1", "--timestamps")
        self.assertRegex(ts, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z gamma\n$")
        follow = subprocess.Popen([KUBECTL, "--kubeconfig", self.kubeconfig, "logs", "-f", "--tail=1", pod],
                                  stdout=subprocess.PIPE)
        try:
            self.assertEqual(follow.stdout.readline(), b"gamma\n")
            self.control("POST", f"/fake/v1/namespaces/default/pods/{pod}/log", b"delta\n")
            self.assertEqual(follow.stdout.readline(), b"delta\n")
            self.out("delete", "pod", pod)
            follow.wait(15)
            self.assertEqual(follow.returncode, 0)
        finally:
            if follow.poll() is None:
                follow.kill()
            follow.stdout.close()
        self.out("delete", "deployment", "logger")

    def test_04_exec_and_cp(self):
        self.out("create", "deployment", "box", "--image=busybox:1.36")
        pod = self.ready_pod("default", "app=box")
        self.assertEqual(self.out("exec", pod, "--", "cat", "/etc/hostname"), pod + "\n")
        p = self.k("exec", "-i", pod, "--", "sh", "-c", "tr a-z A-Z", input=b"hello stdin\n")
        self.assertEqual(p.stdout, b"HELLO STDIN\n")
        p = self.k("exec", pod, "--", "sh", "-c", "exit 3", check=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("command terminated with exit code 3", p.stderr.decode())
        p = self.k("exec", pod, "--", "no-such-binary", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("executable file not found", p.stderr.decode())
        # cp local -> pod (directory, recursive like tar) and back
        src = tempfile.mkdtemp(dir=self.dir)
        os.makedirs(os.path.join(src, "sub"))
        with open(os.path.join(src, "a.txt"), "w") as f:
            f.write("A\n")
        with open(os.path.join(src, "sub", "b.bin"), "wb") as f:
            f.write(os.urandom(300000))
        self.k("cp", src, f"{pod}:/app/data")
        self.assertEqual(self.out("exec", pod, "--", "cat", "/app/data/a.txt"), "A\n")
        root = self.control("GET", f"/fake/v1/namespaces/default/pods/{pod}/root")["path"]
        with open(os.path.join(root, "app/data/sub/b.bin"), "rb") as f1, \
                open(os.path.join(src, "sub", "b.bin"), "rb") as f2:
            self.assertEqual(f1.read(), f2.read())
        dst = os.path.join(self.dir, "back")
        self.k("cp", f"{pod}:/app/data", dst)
        self.assertEqual(open(os.path.join(dst, "a.txt")).read(), "A\n")
        with open(os.path.join(dst, "sub", "b.bin"), "rb") as f1, \
                open(os.path.join(src, "sub", "b.bin"), "rb") as f2:
            self.assertEqual(f1.read(), f2.read())
        # single file from pod
        single = os.path.join(self.dir, "hostname.txt")
        self.k("cp", f"{pod}:/etc/hostname", single)
        self.assertEqual(open(single).read(), pod + "\n")
        self.out("delete", "deployment", "box")


if __name__ == "__main__":
    unittest.main()
