"""The services the end-to-end tests stand on answer like the real things: the registry (plain,
and TLS + htpasswd) as read by skopeo and plain HTTP clients; the cluster (fake, or real with
WB_TEST_KUBECONFIG): its users are who their tokens say (real mode: client certificates from
CertificateSigningRequests) with the rights RBAC gives them, stop() removes what the tests made, and
(real mode) the images of real_images() run as the tests expect."""
import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import RUN_ID, FakeCluster, Registry, real_images  # noqa: E402


def get(url, cafile=None, auth=None):
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


class RegistryHarness(unittest.TestCase):
    def test_plain_registry_answers_v2(self):
        reg = Registry()
        self.addCleanup(reg.stop)
        status, headers = get("http://%s/v2/" % reg.host)
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("Docker-Distribution-Api-Version"), "registry/2.0")

    def test_tls_registry_requires_basic_auth(self):
        reg = Registry(tls=True)
        self.addCleanup(reg.stop)
        status, headers = get("https://%s/v2/" % reg.host, cafile=reg.cert)
        self.assertEqual(status, 401)
        self.assertIn("Basic", headers.get("WWW-Authenticate", headers.get("Www-Authenticate", "")))
        status, _ = get("https://%s/v2/" % reg.host, cafile=reg.cert, auth=(reg.user, reg.password))
        self.assertEqual(status, 200)
        status, _ = get("https://%s/v2/" % reg.host, cafile=reg.cert, auth=(reg.user, "wrong"))
        self.assertEqual(status, 401)

    @unittest.skipUnless(shutil.which("skopeo"), "skopeo is not installed")
    def test_skopeo_can_list_an_empty_registry(self):
        reg = Registry(tls=True)
        self.addCleanup(reg.stop)
        p = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", "--creds", "%s:%s" % (reg.user, reg.password),
                            "docker://%s/nothing" % reg.host], capture_output=True, text=True, timeout=60)
        # An unknown repository: skopeo reached the registry, logged in, and was told 404.
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("404", p.stderr)
        p = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", "--creds", "%s:wrong" % reg.user,
                            "docker://%s/nothing" % reg.host], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("401", p.stderr.replace("unauthorized", "401"))


TOKEN = "harness-token-0123456789"
USER = "harness-user"


class ClusterHarness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = FakeCluster(tokens=[(TOKEN, USER, ["harness-group"])])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_users_are_who_their_tokens_say_with_the_rights_rbac_gives(self):
        c = self.cluster
        status, body = c.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                 {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}, token=TOKEN)
        self.assertEqual(status, 201, body)
        info = body["status"]["userInfo"]
        self.assertEqual(info["username"], USER)
        self.assertIn("harness-group", info["groups"])
        self.assertIn("system:authenticated", info["groups"])
        # No rights but what a RoleBinding gives, in that namespace only.
        status, body = c.request("GET", "/api/v1/namespaces", token=TOKEN)
        self.assertEqual(status, 403, body)
        self.assertIn('User "%s" cannot list resource "namespaces"' % USER, body["message"])
        ns = c.workspace_for(USER, "hx")
        other = c.namespace("hx")
        self.assertEqual(c.request("GET", "/api/v1/namespaces/%s/configmaps" % ns, token=TOKEN)[0], 200)
        self.assertEqual(c.request("GET", "/api/v1/namespaces/%s/configmaps" % other, token=TOKEN)[0], 403)
        # kubectl with the kubeconfig the harness writes for that user sees the same user.
        home = tempfile.mkdtemp(prefix="wb-harness-")
        self.addCleanup(shutil.rmtree, home, True)
        kubeconfig = c.kubeconfig_for(os.path.join(home, "kubeconfig"), token=TOKEN, namespace=ns)
        p = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "auth", "whoami", "-o", "json"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["status"]["userInfo"]["username"], USER)
        p = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "create", "configmap", "made-by-user"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        # A certificate issued on the spot is a user too (a CSR approved by the admin in real mode).
        cert = c.issue_cert("harness-other-" + RUN_ID, ["harness-group"])
        kubeconfig = c.kubeconfig_for(os.path.join(home, "other"), cert=cert)
        p = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo}"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        info = json.loads(p.stdout)
        self.assertEqual(info["username"], "harness-other-" + RUN_ID)
        self.assertIn("harness-group", info["groups"])

    def test_stop_removes_what_the_tests_made(self):
        c = FakeCluster()
        try:
            ns = c.namespace("hx-stop")
            status, body = c.request("GET", "/api/v1/namespaces/" + ns)
            self.assertEqual(status, 200, body)
            if c.real:
                self.assertEqual(body["metadata"]["labels"]["wb-test.dev/run"], RUN_ID)
            # A namespace wb made, and a cluster-scoped object a test made.
            made = "hx-adopted-" + uuid.uuid4().hex[:8]
            self.assertEqual(c.request("POST", "/api/v1/namespaces", {"metadata": {"name": made}})[0], 201)
            c.adopt_namespace(made)
            role = "wb-test-harness-%s-%s" % (RUN_ID, uuid.uuid4().hex[:6])
            status, body = c.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                                     {"metadata": {"name": role}, "rules": []})
            self.assertEqual(status, 201, body)
            c.adopt("/apis/rbac.authorization.k8s.io/v1/clusterroles/" + role)
        finally:
            c.stop()
        self.assertFalse(os.path.exists(c.dir))
        if not c.real:
            self.assertIsNotNone(c.proc.poll())  # the fake API server is gone, and all it held
            return
        # stop() deleted them: the namespaces are going (their pods stop first) or gone.
        for name in (ns, made):
            status, body = self.cluster.request("GET", "/api/v1/namespaces/" + name)
            self.assertTrue(status == 404 or body["metadata"].get("deletionTimestamp"), (name, status, body))
        status, body = self.cluster.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/" + role)
        self.assertEqual(status, 404, body)

    def test_real_images_run(self):
        c = self.cluster
        if not c.real:
            self.skipTest("real_images() are for a real cluster (WB_TEST_KUBECONFIG, WB_TEST_REGISTRY)")
        images = real_images()
        self.assertEqual(sorted(images), ["busybox", "crash", "jre", "server", "server-v2"])
        ns = c.namespace("hx-images")
        tcp = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
        pods = {
            "server": {"image": images["server"], "readinessProbe": tcp},
            "server-v2": {"image": images["server-v2"], "readinessProbe": tcp},
            "busybox": {"image": images["busybox"], "readinessProbe": tcp},
            "crash": {"image": images["crash"]},
            "jre": {"image": images["jre"], "command": ["java", "-version"]},
        }
        for name, container in pods.items():
            status, body = c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": name, "namespace": ns, "labels": {"image": name}}, "spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                "containers": [dict(container, name="main")]}})
            self.assertEqual(status, 201, body)

        def proxy(pod, path="/"):
            return c.request("GET", "/api/v1/namespaces/%s/pods/%s:8080/proxy%s" % (ns, pod, path))

        def finished(pod):
            deadline = time.time() + 120
            while time.time() < deadline:
                st = c.request("GET", "/api/v1/namespaces/%s/pods/%s" % (ns, pod))[1]["status"]
                term = ((st.get("containerStatuses") or [{}])[0].get("state") or {}).get("terminated")
                if term:
                    return term
                time.sleep(0.5)
            self.fail("%s did not finish" % pod)

        for name, version in (("server", "1"), ("server-v2", "2")):
            c.wait_ready(ns, "image=" + name)
            self.assertEqual(proxy(name), (200, "hello from %s version %s\n" % (name, version)))
            self.assertEqual(proxy(name, "/config"), (200, None))  # nothing in /app/config
            status, log = c.request("GET", "/api/v1/namespaces/%s/pods/%s/log" % (ns, name))
            self.assertIn("serving version %s on port 8080\n" % version, log)
            self.assertIn("request GET /config\n", log)  # each request is logged
        c.wait_ready(ns, "image=busybox")
        self.assertEqual(proxy("busybox"), (200, "hello from busybox\n"))
        self.assertEqual(finished("crash")["exitCode"], 1)
        status, log = c.request("GET", "/api/v1/namespaces/%s/pods/crash/log" % ns)
        self.assertIn("starting orders\n", log)
        self.assertIn("boom: cannot start", log)
        self.assertEqual(finished("jre")["exitCode"], 0)
        status, log = c.request("GET", "/api/v1/namespaces/%s/pods/jre/log" % ns)
        self.assertIn('openjdk version "17', log)
        # say() writes into a pod's log (PID 1's stdout) and sh() runs a script there, in both kinds.
        for pod in ("server", "busybox"):
            c.say(ns, pod, "said into %s\nand a second line\n" % pod)
            status, log = c.request("GET", "/api/v1/namespaces/%s/pods/%s/log" % (ns, pod))
            self.assertIn("said into %s\nand a second line\n" % pod, log)
            p = c.sh(ns, pod, 'cat > /tmp/in; exit $?', input=b"x" * 300000)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(c.sh(ns, pod, "wc -c < /tmp/in").stdout.strip(), b"300000")


if __name__ == "__main__":
    unittest.main()
