"""In-cluster authentication end to end, as a GitLab runner on Kubernetes runs a job: no kubeconfig,
KUBERNETES_SERVICE_HOST/PORT set, and the pod's service account mounted at the real path
/var/run/secrets/kubernetes.io/serviceaccount (token, ca.crt, namespace). The real wb binary runs in
a private mount namespace (`unshare --mount`) where a temp dir laid out like kubelet's projected
volume (token -> ..data/token, ..data -> a timestamped dir, swapped atomically on rotation) is
bind-mounted there; nothing changes outside that namespace.

The token is a real service-account token the fake API server issued for a robot
(`wb robot create ci -w shop-dev --token`, role deployer); ca.crt is the fake's CA; namespace is
the workspace. Asserted as a CI job sees it: who you are (system:serviceaccount:shop-dev:ci), the
workspace from the namespace file is the default, the deployer's rights (app status, config set,
push jar) work and anything else is refused with exit 4 in words, a token rotated while a command
runs (the old one revoked) and between commands is picked up, a missing or empty token gives one
error line with the right exit status, and `wb doctor` says it uses the pod's service account.

Needs root and unshare (mounts); skipped otherwise, saying why. With WB_TEST_KUBECONFIG (a real
cluster) the pod's view is the real cluster's: its CA, KUBERNETES_SERVICE_HOST/PORT of its API
server, the robot's token from `wb robot create` (a service-account token secret the token
controller fills) and fresh ones by TokenRequest; the tenant and workspaces get names unique to the
run, and the app whose rollout the token rotation interrupts really runs (the test server image).
What only the fake can show (its log of who sent which request) is replaced there by what the real
server lets us see: the command was still waiting for its rollout when the old token was revoked.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
sys.path.insert(0, os.path.dirname(__file__))
from wbtest import FakeCluster, Result, WbTestCase, LEAN_APPS, REAL_KUBECONFIG, WB_BIN, real_images  # noqa: E402
import test_push_jar as pj  # noqa: E402  (its base-image and skopeo helpers)

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# On a real cluster (shared, modules in parallel) the tenant and its workspaces are this run's own.
SUFFIX = "-" + uuid.uuid4().hex[:6] if REAL_KUBECONFIG else ""
TENANT, WS, OTHER_WS, ROBOT, APP = "shop" + SUFFIX, "shop-dev" + SUFFIX, "shop-prod" + SUFFIX, "ci", "billing"
ROBOT_USER = "system:serviceaccount:%s:%s" % (WS, ROBOT)

# Runs "$@" with DIR bind-mounted on the service-account path, in the mount namespace unshare made.
# When the mount point does not exist (not in a pod), it is made in this namespace only: an overlay
# (its upper layer on a tmpfs in SCRATCH) over the deepest existing parent keeps that parent's
# content visible and takes the new directories; a plain tmpfs over the parent if overlay fails.
MOUNT_SCRIPT = r'''
set -e
sa=%s
src=$1; scratch=$2; shift 2
if [ ! -d "$sa" ]; then
  p=$sa
  while [ ! -d "$p" ]; do p=$(dirname "$p"); done
  p=$(readlink -f "$p")
  if [ "$p" = / ]; then echo "in-pod test: refusing to cover /" >&2; exit 125; fi
  mount -t tmpfs wb-test "$scratch"
  mkdir "$scratch/upper" "$scratch/work"
  mount -t overlay wb-test -o "lowerdir=$p,upperdir=$scratch/upper,workdir=$scratch/work" "$p" 2>/dev/null ||
    mount -t tmpfs wb-test "$p"
  mkdir -p "$sa"
fi
mount --bind "$src" "$sa"
exec "$@"
''' % SA_DIR

# What exists of the service-account path outside the test's namespaces (a CI job in a pod has it).
HOST_PATHS = {p: os.path.exists(p) for p in (SA_DIR, os.path.dirname(SA_DIR), os.path.dirname(os.path.dirname(SA_DIR)))}

cluster = None
registry = None
jars = None
robot_token = None
skip_reason = None


def can_unshare():
    """None when this process may make a private mount namespace and mount in it, else why not."""
    if os.geteuid() != 0:
        return "needs root to mount the service account at %s in a private mount namespace" % SA_DIR
    if not shutil.which("unshare"):
        return "needs unshare (util-linux) for a private mount namespace"
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        "mount -t tmpfs wb-test /mnt && umount /mnt"], capture_output=True, text=True)
    if p.returncode != 0:
        return "cannot mount in a private mount namespace here: %s" % (p.stderr.strip() or "exit %d" % p.returncode)
    return None


def admin_wb(*args):
    env = {"HOME": tempfile.gettempdir(), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if LEAN_APPS:  # the app really runs in one test: a small CPU request on a shared node
        path = os.path.join(cluster.dir, "admin-profile.yaml")
        with open(path, "w") as f:
            f.write(LEAN_APPS)
        env["WB_PROFILE"] = path
    p = subprocess.run([WB_BIN, "--kubeconfig", cluster.kubeconfig] + list(args), capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 0, "wb %s: %s %s" % (" ".join(args), p.stdout, p.stderr)
    return p.stdout


def setUpModule():
    global cluster, registry, jars, robot_token, skip_reason
    skip_reason = can_unshare()
    if skip_reason:
        return
    cluster = FakeCluster()
    if not cluster.real:
        status, body = cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
        assert status == 200, body
    admin_wb("platform", "init")  # cluster-wide; scripts/test-real.sh removes what a run added
    admin_wb("tenant", "create", TENANT)
    for kind in ("clusterroles", "clusterrolebindings"):
        cluster.adopt("/apis/rbac.authorization.k8s.io/v1/%s/wb:tenant:%s" % (kind, TENANT))
    for ws in (WS, OTHER_WS):
        admin_wb("workspace", "create", ws, "--tenant", TENANT)
        cluster.adopt_namespace(ws)
        admin_wb("-w", ws, "app", "create", APP)
    robot_token = admin_wb("-w", WS, "robot", "create", ROBOT, "--token").strip()
    assert len(robot_token) > 20, robot_token
    jars, registry = pj.jars_and_registry("wb-incluster-jars-")


def tearDownModule():
    if registry:
        registry.stop()
    if cluster:
        cluster.stop()
    if jars:
        shutil.rmtree(jars, ignore_errors=True)


class PodVolume:
    """A directory laid out like kubelet's projected service-account volume: the visible names are
    symlinks into ..data, itself a symlink to a timestamped directory, swapped with one rename."""

    def __init__(self, root):
        self.root = root
        self.generation = 0

    def write(self, files):
        """Publishes `files` (name -> text) as the volume's whole content, atomically."""
        self.generation += 1
        stamp = "..2026_11_26_01_00_00.%d" % self.generation
        os.mkdir(os.path.join(self.root, stamp))
        for name, text in files.items():
            with open(os.path.join(self.root, stamp, name), "w") as f:
                f.write(text)
        old = os.readlink(os.path.join(self.root, "..data")) if os.path.islink(os.path.join(self.root, "..data")) \
            else None
        tmp = os.path.join(self.root, "..data_tmp")
        os.symlink(stamp, tmp)
        os.rename(tmp, os.path.join(self.root, "..data"))
        for name in files:
            link = os.path.join(self.root, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)
        for entry in os.listdir(self.root):  # names no longer published
            if os.path.islink(os.path.join(self.root, entry)) and not entry.startswith("..") and entry not in files:
                os.unlink(os.path.join(self.root, entry))
        if old:
            shutil.rmtree(os.path.join(self.root, old))


class InCluster(WbTestCase):
    def setUp(self):
        if skip_reason:
            self.skipTest(skip_reason)
        super().setUp()
        self.volume = PodVolume(tempfile.mkdtemp(prefix="wb-pod-sa-"))
        self.addCleanup(shutil.rmtree, self.volume.root, True)
        self.scratch = tempfile.mkdtemp(prefix="wb-pod-scratch-")
        self.addCleanup(shutil.rmtree, self.scratch, True)
        with open(cluster.ca) as f:
            self.ca = f.read()
        self.volume.write({"token": robot_token, "ca.crt": self.ca, "namespace": WS})

    # ------------------------------------------------------------ helpers
    def pod_env(self, extra=None):
        host = cluster.server.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
        env = self.env({"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": str(cluster.port)})
        env.pop("KUBECONFIG", None)
        env.update(extra or {})
        return env

    def pod_cmd(self, args, program=WB_BIN):
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", MOUNT_SCRIPT, "in-pod",
                self.volume.root, self.scratch, program] + [str(a) for a in args]

    def in_pod(self, *args, env=None, timeout=120):
        """Runs wb as a CI job in a pod on this cluster would."""
        p = subprocess.run(self.pod_cmd(args), env=self.pod_env(env), capture_output=True, text=True,
                           cwd=self.workdir, timeout=timeout)
        return Result(p.returncode, p.stdout, p.stderr)

    def get(self, path):
        status, body = cluster.request("GET", path)
        self.assertEqual(status, 200, body)
        return body

    def profile(self):
        """A profile file, as a GitLab CI/CD variable of type File would give it (WB_PROFILE=path)."""
        path = os.path.join(self.home, "ci-profile.yaml")
        with open(path, "w") as f:
            f.write("registry:\n  host: %s\n  project: shop\n  insecure: true\nbaseImages:\n  \"17\": %s/base/java:17\n"
                    % (registry.host, registry.host))
        return path

    def new_token(self):
        """A fresh token for the robot, as kubelet gets one for the pod (TokenRequest)."""
        status, body = cluster.request("POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (WS, ROBOT),
                                       {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                        "spec": {"expirationSeconds": 3600}})
        self.assertEqual(status, 201, body)
        return body["status"]["token"]

    def robot_requests(self):
        """The robot's requests as the fake logged them (a real server keeps no such log)."""
        status, body = cluster.request("GET", "/fake/v1/requests")
        self.assertEqual(status, 200, body)
        return [e for e in body["items"] if e.get("user") == ROBOT_USER]

    # ------------------------------------------------------------ tests
    def test_the_mount_stays_in_its_namespace(self):
        r = self.in_pod("help")
        self.assertExit(r, 0)
        p = subprocess.run(self.pod_cmd([SA_DIR + "/namespace"], program="cat"), env=self.pod_env(),
                           capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout), (0, WS), p.stderr)
        # outside the namespace nothing changed: no mount point made, nothing left behind
        self.assertEqual({p: os.path.exists(p) for p in HOST_PATHS}, HOST_PATHS)
        self.assertEqual(os.listdir(self.home), ["work"])

    def test_whoami_is_the_robot_and_the_workspace_is_the_pods_namespace(self):
        r = self.in_pod("whoami")
        self.assertExit(r, 0)
        self.assertTrue(r.out.startswith("You are %s (groups: " % ROBOT_USER), r.out)
        self.assertIn("system:serviceaccounts:%s" % WS, r.out)
        self.assertIn("on https://127.0.0.1:%d\n" % cluster.port, r.out)
        self.assertEqual(r.err, "")
        doc = json.loads(self.in_pod("whoami", "-o", "json").out)
        self.assertEqual((doc["username"], doc["inCluster"], doc["server"]),
                         (ROBOT_USER, True, "https://127.0.0.1:%d" % cluster.port))
        # no -w anywhere: the namespace file chose the workspace
        r = self.in_pod("app", "list", "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual([a["name"] for a in json.loads(r.out)], [APP])
        r = self.in_pod("app", "status", APP, "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["workspace"], WS)
        # nothing written to HOME (no kubeconfig appears)
        self.assertFalse(os.path.exists(os.path.join(self.home, ".kube")))
        # the requests really were the robot's (the fake logs them; a real server's answer to whoami
        # above already came from its authenticator)
        if not cluster.real:
            self.assertTrue(any(e["path"].endswith("/deployments/" + APP) for e in self.robot_requests()))

    def test_the_deployer_configs_and_is_refused_the_rest_in_words(self):
        r = self.in_pod("config", "set", APP, "MODE=in-cluster", "-m", "from the pod")
        self.assertExit(r, 0)
        r = self.in_pod("config", "get", APP, "-o", "json")
        self.assertExit(r, 0)
        self.assertIn("in-cluster", r.out)
        r = self.in_pod("app", "status", APP)
        self.assertExit(r, 0)
        # not a deployer's: refused, exit 4, one line naming who and why
        r = self.in_pod("app", "delete", APP, "--yes")
        self.assertOneLineError(r, 4, "you (robot '%s' of %s) cannot" % (ROBOT, WS), "you are a deployer there")
        self.assertEqual(cluster.request("GET", "/apis/apps/v1/namespaces/%s/deployments/%s" % (WS, APP))[0], 200)
        r = self.in_pod("-w", OTHER_WS, "config", "set", APP, "MODE=x")
        self.assertOneLineError(r, 4, "you have no role there")

    def test_a_token_rotated_during_a_command_and_between_commands_is_used(self):
        # A running app, whose rollout after `config set` takes seconds to become ready: the fake's
        # readinessDelay, a real JVM's start (the test server image) on a real cluster.
        image = real_images()["server"] if cluster.real else "registry.local/shop/billing@sha256:" + "b" * 64
        status, body = cluster.set_app_image(WS, APP, image)
        self.assertEqual(status, 200, body)
        self.assertExit(self.wb("--kubeconfig", cluster.kubeconfig, "-w", WS, "app", "start", APP, "--timeout",
                                "180s"), 0)
        self.addCleanup(self.wb, "--kubeconfig", cluster.kubeconfig, "-w", WS, "app", "stop", APP)
        # the first token: a second secret-backed token of the robot, revocable by deleting its secret
        status, body = cluster.apply({"apiVersion": "v1", "kind": "Secret",
                                      "type": "kubernetes.io/service-account-token",
                                      "metadata": {"name": "ci-rotating", "namespace": WS,
                                                   "annotations": {"kubernetes.io/service-account.name": ROBOT}}})
        self.assertEqual(status, 201, body)
        deadline = time.time() + 10
        while True:
            secret = self.get("/api/v1/namespaces/%s/secrets/ci-rotating" % WS)
            if (secret.get("data") or {}).get("token"):
                break
            self.assertLess(time.time(), deadline, "the token controller never filled %s" % secret)
            time.sleep(0.1)
        old = base64.b64decode(secret["data"]["token"]).decode()
        self.volume.write({"token": old, "ca.crt": self.ca, "namespace": WS})
        self.assertIn(ROBOT_USER, self.in_pod("whoami").out)

        deployment = "/apis/apps/v1/namespaces/%s/deployments/%s" % (WS, APP)
        generation = self.get(deployment)["metadata"]["generation"]
        if not cluster.real:
            status, body = cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 5})
            self.assertEqual(status, 200, body)
            self.addCleanup(cluster.request, "POST", "/fake/v1/settings", {"readinessDelay": 0.1})
            cluster.request("DELETE", "/fake/v1/requests")
        # On a real cluster the new version takes 20 s to listen (the test server's start delay): the
        # API server honours a revoked token for up to 10 s more (it caches authenticated tokens).
        proc = subprocess.Popen(self.pod_cmd(["config", "set", APP, "ROTATED=yes", "WB_TEST_START_DELAY=20",
                                              "--timeout", "180s"]),
                                env=self.pod_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.workdir)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        out = {}
        reader = threading.Thread(target=lambda: out.update(zip(("out", "err"), proc.communicate(timeout=240))))
        reader.start()
        # wait until it polls the rollout (the fake logs its requests; on a real cluster: the
        # Deployment changed, so wb is waiting for the new version), then rotate: a new token in the
        # file, the old one revoked
        deadline = time.time() + 60
        while time.time() < deadline:
            if cluster.real:
                if self.get(deployment)["metadata"]["generation"] > generation:
                    break
            elif sum(1 for e in self.robot_requests() if e["method"] == "GET" and e["path"].endswith("/pods")) >= 2:
                break
            self.assertIsNone(proc.poll(), "the command ended before its rollout was seen: %s" % out)
            time.sleep(0.05)
        else:
            self.fail("the command never waited for its rollout: %s" % (
                "" if cluster.real else self.robot_requests()))
        self.volume.write({"token": self.new_token(), "ca.crt": self.ca, "namespace": WS})
        status, body = cluster.request("DELETE", "/api/v1/namespaces/%s/secrets/ci-rotating" % WS)
        self.assertEqual(status, 200, body)
        deadline = time.time() + 30
        while cluster.request("GET", "/api/v1/namespaces/%s/pods" % WS, token=old)[0] != 401:
            self.assertTrue(cluster.real, "the fake honours a revoked token")
            self.assertLess(time.time(), deadline, "the old token still works 30 s after its secret went")
            time.sleep(0.5)
        if cluster.real:
            # Still waiting for the new version once the old token stopped working: it can only have
            # seen the rollout finish with the new token.
            self.assertIsNone(proc.poll(), "the rollout ended before the rotation: nothing to show")
        else:
            revoked_at = len(self.robot_requests())
        reader.join(timeout=240)
        self.assertEqual(proc.returncode, 0, out)
        if not cluster.real:
            after = self.robot_requests()[revoked_at:]
            self.assertTrue(any(e.get("status") == 200 for e in after),
                            "no request after the rotation: %s" % after)
        # between commands: another token, and the next command uses it
        self.volume.write({"token": self.new_token(), "ca.crt": self.ca, "namespace": WS})
        r = self.in_pod("config", "get", APP, "-o", "json")
        self.assertExit(r, 0)
        self.assertIn("ROTATED", r.out)

    def test_a_missing_or_empty_token_is_one_clear_line(self):
        self.volume.write({"ca.crt": self.ca, "namespace": WS})
        r = self.in_pod("app", "status", APP)
        self.assertOneLineError(r, 3, "in-cluster service-account token %s/token does not exist" % SA_DIR)
        self.assertTrue(r.err.startswith("error: "), r.err)
        self.volume.write({"token": "\n", "ca.crt": self.ca, "namespace": WS})
        r = self.in_pod("app", "status", APP)
        self.assertOneLineError(r, 4, "token file %s/token is empty" % SA_DIR)
        # a token the cluster does not know (revoked, or from another cluster)
        self.volume.write({"token": "eyJhbGciOiJSUzI1NiJ9.e30.bm9wZQ", "ca.crt": self.ca, "namespace": WS})
        r = self.in_pod("app", "status", APP)
        self.assertOneLineError(r, 4, "the server rejected the pod's service-account token (401 Unauthorized)",
                                "serviceAccountName")
        self.assertNotIn("kubeconfig context", r.err)
        # a CA that is not the server's: TLS is verified
        ca_dir = tempfile.mkdtemp(prefix="wb-other-ca-")
        self.addCleanup(shutil.rmtree, ca_dir, True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=other-ca", "-keyout", os.path.join(ca_dir, "k"),
                        "-out", os.path.join(ca_dir, "c")], check=True, capture_output=True)
        with open(os.path.join(ca_dir, "c")) as f:
            self.volume.write({"token": robot_token, "ca.crt": f.read(), "namespace": WS})
        r = self.in_pod("app", "status", APP)
        self.assertOneLineError(r, 1, "TLS: the certificate of https://127.0.0.1:%d is not signed by a trusted CA"
                                % cluster.port, "the ca.crt of the pod's service account")

    def test_doctor_says_it_uses_the_pods_service_account(self):
        r = self.in_pod("doctor", env={"WB_PROFILE": self.profile(), "LANG": "C.UTF-8"})
        lines = {l[2:].split("  ")[0].strip(): l for l in r.out.splitlines() if l[:1] in "✓✗!-"}
        self.assertIn("kubeconfig found", lines, r.out)
        self.assertTrue(lines["kubeconfig found"].startswith("✓"), r.out)
        self.assertIn("the pod's service account (in-cluster, namespace %s)" % WS, lines["kubeconfig found"])
        self.assertNotIn("no kubeconfig", r.out)
        self.assertIn(ROBOT_USER, lines["who you are"])
        # a deployer may not create apps, which CI does not need: a warning, not a failure
        self.assertTrue(lines["workspace access"].startswith("! "), r.out)
        self.assertIn("you may deploy, configure and read logs in '%s', but not create apps" % WS,
                      lines["workspace access"])
        self.assertExit(r, 0)
        doc = json.loads(self.in_pod("doctor", "-o", "json", env={"WB_PROFILE": self.profile()}).out)
        checks = {c["id"]: c for c in doc["checks"]}
        self.assertEqual(checks["kubeconfig"]["state"], "ok")
        self.assertTrue(doc["ok"], doc)
        # no token: the kubeconfig check fails and says what to do in a pod
        self.volume.write({"ca.crt": self.ca, "namespace": WS})
        r = self.in_pod("doctor", env={"WB_PROFILE": self.profile()})
        self.assertExit(r, 3)
        self.assertIn("✗ kubeconfig found       in-cluster service-account token %s/token does not exist\n" % SA_DIR,
                      r.out)
        self.assertIn("mount a service-account token, or use a kubeconfig", r.out)

    def test_push_jar_from_the_pod(self):
        env = {"WB_PROFILE": self.profile(), "CI_COMMIT_SHORT_SHA": "abc1234", "GITLAB_CI": "true"}
        r = self.in_pod("push", "jar", os.path.join(jars, "boot.jar"), "--app", APP, env=env)
        self.assertExit(r, 0)
        image = r.out.strip()
        self.assertTrue(image.startswith("%s/shop/%s@sha256:" % (registry.host, APP)), r.out)
        dep = self.get("/apis/apps/v1/namespaces/%s/deployments/%s" % (WS, APP))
        self.assertEqual(dep["spec"]["template"]["spec"]["containers"][0]["image"], image)
        raw = pj.skopeo("inspect", "--tls-verify=false", "docker://%s/shop/%s:abc1234" % (registry.host, APP))
        self.assertIn(image.split("@")[1], raw)


if __name__ == "__main__":
    unittest.main()
