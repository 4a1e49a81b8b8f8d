"""An app's life on a cluster: create -> (an image set by the test, until `wb push` lands) -> start
-> Running -> a bad release crash-loops -> status says so in words -> start waits and exits 6 with
the reason and the log tail -> rollback -> Running, history shows the causes -> set, scale,
restart -> stop -> delete leaves nothing wb made behind. Every verb in pipe mode, on a TTY and with
-o json; forbidden (403) -> 4, not found -> 3, conflict -> 5, timeout -> 6, each one clear line.

Against the fake API server by default. With WB_TEST_KUBECONFIG (a real cluster, see wbtest) each
test gets a namespace of its own where alice (edit) and bob (view) are real users with client
certificates; the apps run the test server image (real_images()["server"]), become ready through
their probes, and the bad release really crashes (real_images()["crash"]); the app that cannot start
asks for more memory than any node has.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, WbTestCase, LEAN_APPS, REAL_REGISTRY, real_images  # noqa: E402

ALICE_TOKEN = "alice-token-lifecycle-0123"   # may edit in the test workspaces
BOB_TOKEN = "bob-token-lifecycle-4567"       # may only view there
# The fake's magic images; real mode replaces GOOD and CRASH with images that really run (setUpModule).
GOOD_IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64
CRASH_IMAGE = "registry.local/shop/orders-crashloop@sha256:" + "b" * 64
STUCK_IMAGE = "registry.local/shop/orders-unschedulable@sha256:" + "c" * 64
# What the bad release writes before it exits 1 (the fake's crash-loop behaviour; the crash image).
FAKE_CRASH_LINE = "panic: crashloop behaviour"
REAL_CRASH_LINE = "boom: cannot start, the database is not there"
MANAGED = "app.kubernetes.io/managed-by=wb"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

cluster = None


def setUpModule():
    global cluster, GOOD_IMAGE, CRASH_IMAGE
    cluster = FakeCluster(tokens=[(ALICE_TOKEN, "alice", ["developers"]), (BOB_TOKEN, "bob", ["viewers"])])
    if cluster.real:
        images = real_images()
        GOOD_IMAGE, CRASH_IMAGE = images["server"], images["crash"]
    else:
        # A quicker cluster: replicas become ready and crash sooner.
        status, body = cluster.request("POST", "/fake/v1/settings",
                                       {"readinessDelay": 0.1, "crashDelay": 0.2, "backoffDelay": 0.3})
        assert status == 200, body


def tearDownModule():
    if cluster:
        cluster.stop()


def short_version(image):
    """How wb shows an image pushed by digest: sha256: and the first 12 hex digits."""
    return "sha256:" + image.split("@sha256:")[1][:12]


class AppOnCluster(WbTestCase):
    """A workspace of its own where alice may edit and bob may view; alice's kubeconfig; admin access."""

    user = "alice"

    def setUp(self):
        super().setUp()
        self.app = "orders"
        self.ns = cluster.namespace("shop", labels={"kubesphere.io/workspace": "shop"})
        for user, role in (("alice", "edit"), ("bob", "view")):
            status, body = cluster.apply({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": user + "-" + role, "namespace": self.ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]})
            self.assertEqual(status, 201, body)
        self.kubeconfig = cluster.kubeconfig_for(os.path.join(self.home, "kubeconfig"), token=ALICE_TOKEN)
        self.bob_kubeconfig = cluster.kubeconfig_for(os.path.join(self.home, "bob.kubeconfig"), token=BOB_TOKEN)

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

    def run_wb(self, *args, **kw):
        return self.wb("--kubeconfig", self.kubeconfig, "-w", self.ns, *args, **kw)

    def path(self, kind="deployments", name=None):
        base = {"deployments": "/apis/apps/v1", "replicasets": "/apis/apps/v1",
                "ingresses": "/apis/networking.k8s.io/v1"}.get(kind, "/api/v1")
        p = "%s/namespaces/%s/%s" % (base, self.ns, kind)
        return p + "/" + name if name else p

    def get(self, kind="deployments", name=None, selector=None):
        path = self.path(kind, name) + ("?labelSelector=" + selector if selector else "")
        status, body = cluster.request("GET", path)
        self.assertEqual(status, 200, body)
        return body

    def set_image(self, image):
        """What `wb push` will do; until then the test sets the image as an admin would."""
        status, body = cluster.set_app_image(self.ns, self.app, image)
        self.assertEqual(status, 200, body)

    def status_json(self):
        r = self.run_wb("app", "status", self.app, "-o", "json")
        self.assertExit(r, 0)
        return json.loads(r.out)

    def wait_for(self, predicate, what, timeout=20):
        if cluster.real:
            timeout = max(timeout, 120)  # real pods pull, start a JVM and back off between crashes
        deadline = time.time() + timeout
        doc = None
        while time.time() < deadline:
            doc = self.status_json()
            if predicate(doc):
                return doc
            time.sleep(0.3)
        self.fail("timed out waiting for %s; last status: %s" % (what, json.dumps(doc, indent=1)))

    def created_with_image(self, *create_args):
        self.assertExit(self.run_wb("app", "create", self.app, *create_args), 0)
        self.set_image(GOOD_IMAGE)

    def live_pods(self):
        """The app's pods not being deleted. (A real stop or delete returns once no replica is wanted;
        the kubelet then takes the pods down: preStop sleep, SIGTERM. The fake removes them at once.)"""
        return [p for p in self.get("pods", selector="app.kubernetes.io/name=" + self.app)["items"]
                if not p["metadata"].get("deletionTimestamp")]

    def gone(self, kind, selector, timeout=90):
        """The objects of KIND matching SELECTOR, once there are none (real mode: the garbage
        collector removes ReplicaSets and pods of a deleted Deployment in the background, and pods
        take their grace period; waits up to TIMEOUT seconds for that)."""
        deadline = time.time() + (timeout if cluster.real else 0)
        while True:
            items = self.get(kind, selector=selector)["items"]
            if not items or time.time() > deadline:
                return items
            time.sleep(0.5)

    def started(self, replicas=2):
        self.created_with_image("--replicas", str(replicas))
        r = self.run_wb("app", "start", self.app)
        self.assertExit(r, 0)
        return r


class Lifecycle(AppOnCluster):
    def test_create_start_crash_rollback_stop_delete(self):
        r = self.run_wb("app", "create", self.app, "--replicas", "2")
        self.assertExit(r, 0)
        # Nothing pushed yet: a clear error before anything is scaled.
        self.assertOneLineError(self.run_wb("app", "start", self.app), 2,
                                "app '%s' has no version yet; push a jar first: wb push jar FILE --app %s"
                                % (self.app, self.app))
        self.assertEqual(self.get("deployments", self.app)["spec"]["replicas"], 0)
        r = self.run_wb("app", "list")
        self.assertExit(r, 0)
        self.assertEqual(r.out.split("\t")[:4], [self.app, "Stopped", "-", "-"])

        # With a profile that names base images, create starts the app on one: still no version.
        profile = os.path.join(self.home, ".config", "wb", "profiles", "bases.yaml")
        os.makedirs(os.path.dirname(profile), exist_ok=True)
        with open(profile, "w") as f:
            f.write('baseImages:\n  "17": harbor.acme.test/base/java:17\n')
        with_bases = {"WB_PROFILE": "bases"}
        self.assertExit(self.run_wb("app", "create", "other", env=with_bases), 0)
        self.addCleanup(self.run_wb, "app", "delete", "other", "--yes")
        self.assertEqual(self.get("deployments", "other")["spec"]["template"]["spec"]["containers"][0]["image"],
                         "harbor.acme.test/base/java:17")
        rows = {row["name"]: row for row in json.loads(self.run_wb("app", "list", "-o", "json", env=with_bases).out)}
        self.assertEqual(rows["other"]["version"], "-")
        r = self.run_wb("app", "status", "other", "-o", "json", env=with_bases)
        self.assertExit(r, 0)
        self.assertIsNone(json.loads(r.out)["version"])
        # Its first version in the history is the base image, not a version of the app: "-".
        r = self.run_wb("app", "history", "other", env=with_bases)
        self.assertExit(r, 0)
        self.assertEqual(len(r.out.splitlines()), 1, r.out)
        row = r.out.split("\t")  # current, revision, when, who, image, config, cause
        self.assertEqual((row[1], row[3], row[4], row[6].strip()), ("1", "alice", "-", "create"))

        self.set_image(GOOD_IMAGE)
        r = self.run_wb("app", "start", self.app)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "%s is running 2/2 at http://%s.%s.svc:8080\n" % (self.app, self.app, self.ns))
        self.assertEqual(r.err, "")  # no progress lines in a pipe
        r = self.run_wb("app", "list")
        self.assertEqual(r.out.split("\t")[:5], [self.app, "Running 2/2", short_version(GOOD_IMAGE), "-", "off"])
        doc = self.status_json()
        self.assertEqual((doc["phase"], doc["ready"], doc["desired"]), ("Running", 2, 2))
        self.assertEqual(len(doc["replicas"]), 2)
        self.assertTrue(all(rep["name"].startswith(self.app + "-") and rep["name"].count("-") == 1
                            for rep in doc["replicas"]), doc["replicas"])
        self.assertIn("%s-" % self.app, " ".join(e["message"] for e in doc["events"]))

        # A bad release (as an admin would roll one out): the new version keeps crashing. (Its
        # events say so once the kubelet backs off: on a real node after a crash or two.)
        self.set_image(CRASH_IMAGE)
        doc = self.wait_for(lambda d: "keeps crashing" in d["reason"] and
                            "keeps crashing" in " ".join(e["message"] for e in d["events"]), "the crash to show")
        self.assertEqual(doc["phase"], "Failing")
        self.assertEqual(doc["reason"], "keeps crashing with exit code 1")
        self.assertIn("wb logs %s --previous" % self.app, doc["hint"])
        r = self.run_wb("app", "status", self.app)
        self.assertExit(r, 0)
        self.assertIn("Status:    Failing: keeps crashing with exit code 1", r.out)
        self.assertIn("keeps crashing", r.out.split("Events:")[1])
        # (A cluster without DNS, like the test kit, warns about every pod in the kubelet's words:
        # wb leaves that out, as it names nothing the developer can change.)
        for word in ("ReplicaSet", "pod ", "Pod", "workload", "ClusterDNS"):
            self.assertNotIn(word, r.out)
        r = self.run_wb("app", "start", self.app, "--timeout", "3s")
        self.assertExit(r, 6)
        lines = r.err.splitlines()
        self.assertIn("keeps crashing with exit code 1", lines[0])
        self.assertIn("last lines of its log", r.err)
        # the previous container's log, indented
        self.assertIn("    " + (REAL_CRASH_LINE if cluster.real else FAKE_CRASH_LINE), r.err)

        r = self.run_wb("app", "rollback", self.app)
        self.assertExit(r, 0)
        self.assertIn("%s is back on revision 2 (%s): running 2/2" % (self.app, short_version(GOOD_IMAGE)), r.out)
        r = self.run_wb("app", "history", self.app, "-o", "json")
        self.assertExit(r, 0)
        revs = json.loads(r.out)
        self.assertEqual([x["revision"] for x in revs], [1, 3, 4])
        self.assertEqual(revs[-1]["cause"], "rollback to revision 2")
        self.assertEqual(revs[-1]["who"], "alice")
        self.assertTrue(revs[-1]["current"])
        self.assertEqual(revs[-1]["image"], GOOD_IMAGE)
        self.assertEqual(revs[1]["image"], CRASH_IMAGE)
        r = self.run_wb("app", "history", self.app)
        rows = [l.split("\t") for l in r.out.splitlines()]
        self.assertEqual([row[0] for row in rows], ["", "", "*"])
        self.assertEqual(rows[-1][1], "4")
        self.assertEqual(rows[-1][6], "rollback to revision 2")
        self.assertOneLineError(self.run_wb("app", "rollback", self.app, "--to", "9"), 3,
                                "app '%s' has no revision 9 (it has: 1, 3, 4)" % self.app)

        r = self.run_wb("app", "stop", self.app)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "%s is stopped\n" % self.app)
        self.assertEqual(self.status_json()["status"], "Stopped")
        self.assertEqual(self.live_pods(), [])

        # Configs and routes wb made go with the app; what it did not make stays.
        mine = {"app.kubernetes.io/name": self.app, "app.kubernetes.io/managed-by": "wb"}
        cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": self.app + "-config-v1", "namespace": self.ns, "labels": mine}})
        status, body = cluster.request("POST", self.path("ingresses"), {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": self.app, "namespace": self.ns, "labels": mine},
            "spec": {"rules": [{"host": "orders.apps.example.com"}]}})
        self.assertEqual(status, 201, body)
        cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "someone-elses", "namespace": self.ns,
                                    "labels": {"app.kubernetes.io/name": self.app}}})
        self.assertEqual(self.status_json()["url"], "http://orders.apps.example.com")
        r = self.run_wb("app", "delete", self.app, "--dry-run", "-o", "name")
        self.assertExit(r, 0)
        self.assertEqual(sorted(r.out.split()), sorted([
            "deployment.apps/" + self.app, "service/" + self.app, "configmap/%s-config-v1" % self.app,
            "ingress.networking.k8s.io/" + self.app]))
        self.assertOneLineError(self.run_wb("app", "delete", self.app), 2, "pass --yes")
        # On a terminal wb asks; anything but yes deletes nothing.
        for answer in ("\n", "n\n", "orders\n"):
            r = self.run_wb("app", "delete", self.app, tty=True, input=answer)
            self.assertExit(r, 0)
            self.assertIn("Delete app '%s' and its configs and routes in workspace '%s'? [y/N]" % (self.app, self.ns),
                          r.out)
            self.assertIn("Nothing deleted.", r.out)
            self.assertEqual(self.get("deployments", self.app)["metadata"]["name"], self.app)
        r = self.run_wb("app", "delete", self.app, tty=True, input="y\n")
        self.assertExit(r, 0)
        self.assertTrue(r.out.endswith("Deleted app '%s' from workspace '%s' (app, service, config, route)\n"
                                       % (self.app, self.ns)), r.out)
        for kind in ("deployments", "services", "configmaps", "ingresses", "replicasets", "pods"):
            self.assertEqual(self.gone(kind, "app.kubernetes.io/name=%s,%s" % (self.app, MANAGED)), [], kind)
        self.assertEqual(self.get("configmaps", "someone-elses")["metadata"]["name"], "someone-elses")
        self.assertOneLineError(self.run_wb("app", "status", self.app), 3,
                                "app '%s' not found in workspace '%s'" % (self.app, self.ns))

    def test_set_scale_restart(self):
        self.started(replicas=1)
        # Tracing loads the agent the profile names: on a real cluster the test server's jar
        # stands in for the platform's agent (its manifest names a Premain-Class), so the JVM really
        # starts with -javaagent and the app becomes ready.
        agent = {"WB_TRACING_AGENT_PATH": "/app/app.jar"} if cluster.real else None
        r = self.run_wb("app", "set", self.app, "--memory", "768Mi", "--env", "FEATURE_X=on", "--trace=on", env=agent)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "Changed %s: running 1/1 at http://%s.%s.svc:8080\n" % (self.app, self.app, self.ns))
        if cluster.real:
            self.assertIn("tracing agent loaded", self.run_wb("logs", self.app).out)
        d = self.get("deployments", self.app)
        c = d["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in c["env"]}
        self.assertEqual(c["image"], GOOD_IMAGE)  # kept
        self.assertEqual(c["resources"]["limits"]["memory"], "768Mi")
        self.assertEqual(env["FEATURE_X"], "on")
        self.assertIn("-javaagent:", env["JAVA_TOOL_OPTIONS"])
        self.assertEqual(env["SW_AGENT_NAME"], "%s::%s" % (self.ns, self.app))
        self.assertEqual(d["spec"]["replicas"], 1)
        r = self.run_wb("app", "list", "-o", "json")
        self.assertTrue(json.loads(r.out)[0]["tracing"])

        r = self.run_wb("app", "set", self.app, "--unset-env", "FEATURE_X", "--trace=off", "--replicas", "2")
        self.assertExit(r, 0)
        self.assertIn("running 2/2", r.out)
        c = self.get("deployments", self.app)["spec"]["template"]["spec"]["containers"][0]
        self.assertNotIn("FEATURE_X", [e["name"] for e in c["env"]])
        self.assertNotIn("-javaagent:", {e["name"]: e.get("value") for e in c["env"]}["JAVA_TOOL_OPTIONS"])
        self.assertOneLineError(self.run_wb("app", "set", self.app, "--unset-env", "NOPE"), 2,
                                "has no environment variable NOPE")
        self.assertOneLineError(self.run_wb("app", "set", self.app), 2, "nothing to change")
        r = self.run_wb("app", "history", self.app, "-o", "json")
        causes = [x["cause"] for x in json.loads(r.out)]
        self.assertIn("set --memory 768Mi --trace=on --env FEATURE_X", causes)  # env names only, never values
        self.assertEqual(causes[-1], "set --replicas 2 --trace=off --unset-env FEATURE_X")

        # (Restarted before the scale-up: on a real cluster each rolling step waits for a JVM's probes.)
        before = len(json.loads(self.run_wb("app", "history", self.app, "-o", "json").out))
        r = self.run_wb("app", "restart", self.app)
        self.assertExit(r, 0)
        self.assertIn("%s restarted: running 2/2" % self.app, r.out)
        revs = json.loads(self.run_wb("app", "history", self.app, "-o", "json").out)
        self.assertEqual(len(revs), before + 1)
        self.assertEqual(revs[-1]["cause"], "restart")
        r = self.run_wb("app", "scale", self.app, "3")
        self.assertExit(r, 0)
        self.assertIn("running 3/3", r.out)
        self.assertEqual(self.run_wb("app", "scale", self.app, "0").out, "%s is stopped\n" % self.app)
        self.assertOneLineError(self.run_wb("app", "restart", self.app), 2, "is stopped")
        # start remembers the last count.
        self.assertIn("running 3/3", self.run_wb("app", "start", self.app).out)

    def test_dry_run_sends_nothing(self):
        self.created_with_image()
        for verb in (["start", self.app, "--replicas", "3"], ["scale", self.app, "4"], ["set", self.app, "--cpu", "2"]):
            r = self.run_wb("app", *verb, "--dry-run", "-o", "json")
            self.assertExit(r, 0)
            doc = json.loads(r.out)
            self.assertEqual(doc["kind"], "List")
            self.assertEqual(doc["items"][0]["kind"], "Deployment")
        self.assertEqual(json.loads(self.run_wb("app", "start", self.app, "--replicas", "3", "--dry-run", "-o",
                                                "json").out)["items"][0]["spec"]["replicas"], 3)
        r = self.run_wb("app", "set", self.app, "--cpu", "2", "--dry-run")
        self.assertTrue(r.out.startswith("apiVersion: apps/v1\nkind: Deployment\n"), r.out)
        d = self.get("deployments", self.app)
        self.assertEqual(d["spec"]["replicas"], 0)
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"], "500m")

    def test_every_verb_on_a_tty(self):
        self.created_with_image("--replicas", "2")
        r = self.run_wb("app", "start", self.app, tty=True)
        self.assertExit(r, 0)
        self.assertIn("\r\x1b[K", r.out)  # the progress line, rewritten in place
        self.assertIn("%s is running 2/2 at http://" % self.app, r.out)
        self.assertNotIn("\n%s: " % self.app, r.out)  # never a progress line of its own
        r = self.run_wb("app", "list", tty=True)
        header = ANSI.sub("", r.out).splitlines()[0].split()
        self.assertEqual(header, ["NAME", "STATUS", "VERSION", "CONFIG", "TRACING", "AGE"])
        r = self.run_wb("app", "status", self.app, tty=True)
        self.assertIn("Running 2/2", r.out)
        # (Down to one replica first: on a real cluster each rolling step waits for a JVM's probes.)
        for verb in (["scale", self.app, "1"], ["restart", self.app], ["set", self.app, "--env", "A=1"],
                     ["rollback", self.app], ["history", self.app], ["stop", self.app]):
            r = self.run_wb("app", *verb, tty=True)
            self.assertExit(r, 0)
        self.assertIn("REVISION", ANSI.sub("", self.run_wb("app", "history", self.app, tty=True).out))
        r = self.run_wb("app", "delete", self.app, "--yes", tty=True)
        self.assertExit(r, 0)
        self.assertIn("Deleted app", r.out)

    def test_every_verb_as_json(self):
        self.created_with_image("--replicas", "1")
        # (Scaled up last: on a real cluster each rolling step waits for a JVM's probes.)
        for verb in (["start", self.app], ["restart", self.app], ["set", self.app, "--env", "A=1"],
                     ["rollback", self.app], ["scale", self.app, "2"], ["status", self.app]):
            r = self.run_wb("app", *verb, "-o", "json")
            self.assertExit(r, 0)
            doc = json.loads(r.out)
            self.assertEqual(doc["name"], self.app, verb)
            self.assertEqual(doc["phase"], "Running", verb)
            self.assertEqual(r.err, "")
            for key in ("status", "ready", "desired", "reason", "hint", "revision", "version", "image", "config",
                        "tracing", "url", "routes", "address", "replicas", "events"):
                self.assertIn(key, doc)
        self.assertEqual(json.loads(self.run_wb("app", "stop", self.app, "-o", "json").out)["phase"], "Stopped")
        rows = json.loads(self.run_wb("app", "list", "-o", "json").out)
        self.assertEqual(rows[0]["name"], self.app)
        self.assertEqual(rows[0]["status"], "Stopped")
        self.assertIsInstance(json.loads(self.run_wb("app", "history", self.app, "-o", "json").out), list)
        doc = json.loads(self.run_wb("app", "delete", self.app, "--yes", "-o", "json").out)
        self.assertEqual([d["kind"] for d in doc["deleted"]], ["Deployment", "Service"])


class Failures(AppOnCluster):
    def test_forbidden_is_exit_4_in_our_words(self):
        self.created_with_image()
        bob = ["--kubeconfig", self.bob_kubeconfig, "-w", self.ns]
        self.assertExit(self.wb(*bob, "app", "status", self.app), 0)  # a viewer may look
        self.assertExit(self.wb(*bob, "app", "list"), 0)
        for verb in (["start", self.app], ["stop", self.app], ["set", self.app, "--memory", "2Gi"],
                     ["restart", self.app], ["scale", self.app, "2"], ["delete", self.app, "--yes"]):
            r = self.wb(*bob, "app", *verb)
            if verb[0] == "restart":
                self.assertOneLineError(r, 2, "is stopped")  # checked before anything is written
                continue
            self.assertOneLineError(r, 4, "you (bob) cannot ", "in workspace %s: you are a viewer there" % self.ns)
        # Not even reading: someone without any role there.
        if cluster.real:
            carol = cluster.kubeconfig_for(os.path.join(self.home, "carol"), cert=cluster.issue_cert("carol"))
        else:
            status, body = cluster.request("POST", "/fake/v1/tokens", {"token": "carol-token-0000", "user": "carol",
                                                                       "groups": []})
            self.assertEqual(status, 200, body)
            carol = cluster.kubeconfig_for(os.path.join(self.home, "carol"), token="carol-token-0000")
        r = self.wb("--kubeconfig", carol, "-w", self.ns, "app", "status", self.app)
        self.assertOneLineError(r, 4, "you (carol) cannot see apps in workspace %s: you have no role there" % self.ns)

    def test_not_found_is_exit_3(self):
        for verb in (["status", "nope"], ["start", "nope"], ["stop", "nope"], ["history", "nope"],
                     ["rollback", "nope"], ["set", "nope", "--cpu", "1"], ["delete", "nope", "--yes"]):
            r = self.run_wb("app", *verb)
            self.assertOneLineError(r, 3, "app 'nope' not found in workspace '%s'" % self.ns)

    def test_conflict_on_create_is_exit_5(self):
        self.assertExit(self.run_wb("app", "create", self.app), 0)
        self.assertOneLineError(self.run_wb("app", "create", self.app), 5,
                                "app '%s' exists already in workspace '%s'" % (self.app, self.ns), "--update")

    def test_timeout_is_exit_6_with_the_reason(self):
        if cluster.real:
            # A replica no node can take: it asks for more memory than any node has.
            self.assertExit(self.run_wb("app", "create", self.app, "--memory", "64Ti"), 0)
            self.set_image(GOOD_IMAGE)
        else:
            self.assertExit(self.run_wb("app", "create", self.app), 0)
            self.set_image(STUCK_IMAGE)
        # (5 s: on a loaded machine the fake may take a moment to create and mark the pod)
        r = self.run_wb("app", "start", self.app, "--timeout", "5s")
        self.assertOneLineError(r, 6, "app '%s' did not become ready in time: waiting for cluster resources"
                                % self.app)
        r = self.run_wb("app", "start", self.app, "--no-wait")
        self.assertExit(r, 0)
        self.assertIn("Starting %s (1 replica)" % self.app, r.out)


class CreateOnCluster(AppOnCluster):
    """`wb app create` without --dry-run (moved here from test_app_dryrun.py)."""

    def test_create_then_conflict_then_update(self):
        r = self.run_wb("app", "create", self.app, "--port", "8081")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "Created app '%s' in workspace '%s' (stopped; next: `wb push jar ... --app %s`)\n"
                         % (self.app, self.ns, self.app))
        d = self.get("deployments", self.app)
        self.assertEqual(d["spec"]["replicas"], 0)
        self.assertEqual(d["metadata"]["labels"]["app.kubernetes.io/managed-by"], "wb")
        self.assertTrue(d["metadata"]["annotations"]["kubesphere.io/creator"])  # SelfSubjectReview's username
        self.assertEqual(d["metadata"]["annotations"]["wb.dev/replicas"], "1")  # the profile's defaults.replicas
        s = self.get("services", self.app)
        self.assertEqual(s["spec"]["ports"][0]["targetPort"], 8081)

        r = self.run_wb("app", "create", self.app)
        self.assertOneLineError(r, 5, "app '%s' exists already in workspace '%s'" % (self.app, self.ns), "--update")

        r = self.run_wb("app", "create", self.app, "--port", "9090", "--update", "--description", "Takes orders")
        self.assertExit(r, 0)
        self.assertIn("Updated app '%s'" % self.app, r.out)
        d = self.get("deployments", self.app)
        # Every field is wb's (server-side apply from the start): the old port goes, it does not merge in.
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["ports"],
                         [{"name": "http", "containerPort": 9090, "protocol": "TCP"}])
        s = self.get("services", self.app)
        self.assertEqual([(p["port"], p["targetPort"]) for p in s["spec"]["ports"]], [(9090, 9090)])
        self.assertIn("kubesphere.io/creator", d["metadata"]["annotations"])  # kept from the create
        self.assertEqual(d["metadata"]["annotations"]["kubesphere.io/description"], "Takes orders")
        self.assertEqual(d["metadata"]["annotations"]["wb.dev/replicas"], "1")  # kept
        self.assertEqual(d["spec"]["replicas"], 0)

    def test_update_keeps_image_replicas_and_probes(self):
        self.assertExit(self.run_wb("app", "create", self.app, "--spring-boot"), 0)
        # (Real mode: an image of the test registry that is not there: its pods wait to pull it,
        # start no JVM, and reach no other host.)
        image = ("%s/wb-test/absent" % REAL_REGISTRY if cluster.real else "harbor.acme.test/shop/orders") + \
            "@sha256:" + "a" * 64
        status, body = cluster.request("PATCH", self.path("deployments", self.app), {"spec": {
            "replicas": 2, "template": {"spec": {"containers": [{"name": self.app, "image": image}]}}}},
            content_type="application/strategic-merge-patch+json")
        self.assertEqual(status, 200, body)
        r = self.run_wb("app", "create", self.app, "--update", "--memory", "2Gi")
        self.assertExit(r, 0)
        self.assertIn("running, 2 replicas", r.out)
        d = self.get("deployments", self.app)
        c = d["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(d["spec"]["replicas"], 2)
        self.assertEqual(c["image"], image)
        self.assertEqual(c["resources"]["limits"]["memory"], "2Gi")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/actuator/health/readiness")

    def test_missing_workspace_is_not_found(self):
        # As an admin, who may look where no workspace is.
        r = self.wb("--kubeconfig", cluster.kubeconfig, "-w", "nope", "app", "create", self.app)
        self.assertOneLineError(r, 3, "workspace 'nope' not found")


if __name__ == "__main__":
    import unittest
    unittest.main()
