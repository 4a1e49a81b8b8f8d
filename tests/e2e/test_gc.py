"""`wb gc` and retention.auto end to end: jars pushed to the real registry (Debian's docker-registry
with deletes enabled; its garbage-collect frees the blobs) and deployed on the fake API server.
What remains is checked with skopeo and the registry's own API, never with wb: after 15 pushes
with retention 5 exactly the right five images remain, every kept revision can be rolled back to,
a pod's old image survives, --dry-run changes nothing, objects and repositories wb did not make
are untouched; retention.auto cleans after a push; a registry with deletes disabled is reported
once and the push still succeeds.

With WB_TEST_KUBECONFIG the cluster is a real one: the test's registry (a loopback port) is one its
node pulls from over plain HTTP, the pushes are the test HTTP server on the real JRE base (copied
into that registry), and the app really runs: rolling back to each kept revision starts that image
on the node (the pod's imageID says which), and the real deployment controller keeps the revisions.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, Registry, WbTestCase, LEAN_APPS, REAL_KUBECONFIG, SOURCE_DIR, real_images  # noqa: E402

ACCEPT = ", ".join(["application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])

jars = None
cluster = None
reg = None          # deletes enabled
reg_nodelete = None  # deletes disabled


RUNS = "scratch"  # the base image of pushes that must run: scratch on the fake; the JRE on a real cluster


def setUpModule():
    global jars, cluster, reg, reg_nodelete, RUNS
    jars = tempfile.mkdtemp(prefix="wb-gc-jars-")
    subprocess.run([os.path.join(SOURCE_DIR, "tests", "fixtures", "jars", "build.sh"), jars], check=True,
                   capture_output=True, timeout=300)
    cluster = FakeCluster()
    reg = Registry()
    reg_nodelete = Registry(delete=False)
    if cluster.real:
        # The node pulls from the test's registry (plain HTTP on a loopback port) and runs these images.
        RUNS = "%s/base/jre:17" % reg.host
        skopeo("copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://" + real_images()["jre"],
               "docker://" + RUNS)
    else:
        status, body = cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.05})
        assert status == 200, body


def tearDownModule():
    for r in (reg, reg_nodelete):
        if r:
            r.stop()
    if cluster:
        cluster.stop()
    if jars:
        shutil.rmtree(jars, ignore_errors=True)


def skopeo(*args):
    p = subprocess.run(["skopeo", "--insecure-policy"] + list(args), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("skopeo %s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


def registry_get(registry, path, method="GET", accept=ACCEPT):
    """(status, body) of a plain-HTTP registry API call."""
    req = urllib.request.Request("http://%s%s" % (registry.host, path), method=method)
    req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def tags_of(registry, repo):
    """The repository's tags by skopeo (sorted); [] when it has none."""
    status, _ = registry_get(registry, "/v2/%s/tags/list" % repo)
    if status == 404:
        return []
    return sorted(json.loads(skopeo("list-tags", "--tls-verify=false", "docker://%s/%s" % (registry.host, repo)))
                  ["Tags"] or [], key=lambda t: (len(t), t))


def has_manifest(registry, repo, digest):
    return registry_get(registry, "/v2/%s/manifests/%s" % (repo, digest), method="HEAD")[0] == 200


def has_blob(registry, repo, digest):
    return registry_get(registry, "/v2/%s/blobs/%s" % (repo, digest), method="HEAD")[0] == 200


class GcCase(WbTestCase):
    # On a real cluster (pods really run): the test server, which listens and so becomes ready.
    JAR = "server.jar" if REAL_KUBECONFIG else "boot.jar"
    TIMEOUT = "180s" if REAL_KUBECONFIG else "60s"

    def setUp(self):
        super().setUp()
        self.app = "orders"
        self.ns = cluster.namespace("gc", {"kubesphere.io/workspace": "shop"})
        self.use_registry(reg)

    def use_registry(self, registry, extra="", base="scratch"):
        """The profile: REGISTRY, project = the workspace, Java 17 on BASE (an image that runs on
        this cluster when the app is to run)."""
        self.registry = registry
        path = os.path.join(self.home, ".config", "wb", "profiles", "t.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("registry:\n  host: %s\n  project: %s\nbaseImages:\n  \"17\": %s\n%s%s" % (
                registry.host, self.ns, base, extra, LEAN_APPS))
        self.repo = "%s/%s" % (self.ns, self.app)

    def run_wb(self, *args, env=None, **kw):
        e = dict(env or {}, WB_PROFILE="t")
        return self.wb("--kubeconfig", cluster.kubeconfig, "-w", self.ns, *args, env=e, **kw)

    def push(self, n, env=None, check=True):
        """Push n: JAR with BUILD=<workspace>-n in its environment (a digest and config blob no
        other test pushes: the registry's garbage-collect is global), tagged v<n>."""
        r = self.run_wb("push", "jar", os.path.join(jars, self.JAR), "--app", self.app, "--tag", "v%d" % n,
                        "--env", "BUILD=%s-%d" % (self.ns, n), "-o", "json", env=env)
        if check:
            self.assertExit(r, 0)
        return r

    def get(self, kind, name=None, selector=None):
        base = "/apis/apps/v1" if kind in ("deployments", "replicasets") else "/api/v1"
        path = "%s/namespaces/%s/%s" % (base, self.ns, kind) + ("/" + name if name else "")
        if selector:
            path += "?labelSelector=" + selector
        status, body = cluster.request("GET", path)
        self.assertEqual(status, 200, body)
        return body

    def revisions(self):
        """{revision: image} of the app's ReplicaSets, read from the cluster."""
        out = {}
        for rs in self.get("replicasets", selector="app.kubernetes.io/name=" + self.app)["items"]:
            rev = int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
            out[rev] = rs["spec"]["template"]["spec"]["containers"][0]["image"]
        return out

    def image(self):
        return self.get("deployments", self.app)["spec"]["template"]["spec"]["containers"][0]["image"]

    def running_digests(self):
        """The image digests the app's ready pods run, as the node reports them (imageID)."""
        out = set()
        for p in self.get("pods", selector="app.kubernetes.io/name=" + self.app)["items"]:
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
            if ready and not p["metadata"].get("deletionTimestamp"):
                out |= {c["imageID"].rsplit("@", 1)[-1] for c in p["status"].get("containerStatuses", [])}
        return out

    def wait_for(self, what, check, timeout=60):
        """Polls CHECK until it holds (the real controllers act in their own time)."""
        deadline = time.time() + timeout
        while not check():
            self.assertLess(time.time(), deadline, "not so after %d s: %s" % (timeout, what))
            time.sleep(0.2)

    def create_app(self, env=None):
        self.assertExit(self.run_wb("app", "create", self.app, env=env), 0)


class FifteenPushes(GcCase):
    def setUp(self):
        super().setUp()
        self.use_registry(reg, base=RUNS)

    def test_retention_five_keeps_the_right_five_and_rollback_works(self):
        # The app is created with the default 10 old versions; the profile later says 4.
        self.create_app()
        digests = {}
        for n in range(1, 16):
            digests[n] = json.loads(self.push(n).out)["digest"]
        self.assertEqual(len(set(digests.values())), 15)
        self.assertExit(self.run_wb("app", "start", self.app, "--timeout", self.TIMEOUT), 0)
        self.assertEqual(len(tags_of(self.registry, self.repo)), 15)
        # the controller keeps 10 old versions + the current one (a real one cleans up in its own time)
        self.wait_for("11 revisions", lambda: len(self.revisions()) == 11)
        revs = self.revisions()

        # Things wb did not make, and another repository, must survive.
        skopeo("copy", "--dest-tls-verify=false", "--src-tls-verify=false",
               "docker://%s/%s@%s" % (self.registry.host, self.repo, digests[1]),
               "docker://%s/%s/billing:keep" % (self.registry.host, self.ns))
        status, body = cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "orders-config-v1", "namespace": self.ns,
            "labels": {"app.kubernetes.io/name": self.app, "wb.dev/config-version": "1"}}, "data": {"X": "1"}})
        self.assertEqual(status, 201, body)
        # A pod running an old image (push 2) by digest.
        status, body = cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "batch-job", "namespace": self.ns},
            "spec": {"containers": [{"name": "job", "image": "%s/%s@%s" % (self.registry.host, self.repo,
                                                                            digests[2])}]}})
        self.assertEqual(status, 201, body)
        cluster.wait_ready(self.ns, "!app.kubernetes.io/name")  # it really runs (on a real cluster)
        config_blob = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", "docker://%s/%s@%s" % (
            self.registry.host, self.repo, digests[3])))["config"]["digest"]

        env = {"WB_RETENTION_IMAGES": "5", "WB_RETENTION_REVISIONS": "4"}
        # --dry-run: lists what would go and why, changes nothing.
        r = self.run_wb("gc", "--dry-run", "-o", "json", env=env)
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertTrue(doc["dryRun"])
        self.assertEqual(doc["retention"], {"images": 5, "configs": 10, "revisions": 4})
        self.assertEqual([a["app"] for a in doc["apps"]], [self.app])
        app = doc["apps"][0]
        self.assertEqual(app["repository"], "%s/%s" % (self.registry.host, self.repo))
        items = {(i["kind"], i["name"]): i for i in app["items"]}
        for i in app["items"]:
            self.assertEqual(set(i) - {"tags", "revision", "version", "objects"},
                             {"kind", "name", "keep", "status", "reasons"})
            self.assertTrue(i["reasons"], i)
            self.assertEqual(i["status"], "kept" if i["keep"] else "would delete")
        images = {i["tags"][0]: i for i in app["items"] if i["kind"] == "image"}
        self.assertEqual(sorted(images), sorted("v%d" % n for n in range(1, 16)))
        kept_tags = sorted((t for t, i in images.items() if i["keep"]), key=lambda t: int(t[1:]))
        self.assertEqual(kept_tags, ["v2", "v11", "v12", "v13", "v14", "v15"])
        self.assertIn("pod batch-job uses it", images["v2"]["reasons"])
        self.assertTrue(any("one of the 5 newest images" in x for x in images["v11"]["reasons"]))
        self.assertTrue(any("older than the 5 newest images" in x for x in images["v10"]["reasons"]))
        self.assertNotIn(("config", "v1"), items)  # not labelled managed-by wb: not in the plan
        self.assertEqual(doc["deleted"], 0)
        self.assertEqual(len(tags_of(self.registry, self.repo)), 15)
        self.assertEqual(self.revisions(), revs)

        # Text dry run: a table with the reasons.
        r = self.run_wb("gc", self.app, "--dry-run", env=env)
        self.assertExit(r, 0)
        self.assertIn("would delete", r.out)
        self.assertIn("Dry run:", r.err)

        # The real thing.
        r = self.run_wb("gc", "-o", "json", env=env)
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertFalse(doc["dryRun"])
        self.assertEqual(doc["deleted"], 9 + 6)  # images v1, v3..v10; old versions beyond the newest 4
        self.assertIsNone(doc["failure"])
        self.assertIsNone(doc["registryRefusedDeletes"])

        # The registry, by skopeo and its API: exactly v11..v15 plus the pod's v2.
        self.assertEqual(tags_of(self.registry, self.repo), ["v2", "v11", "v12", "v13", "v14", "v15"])
        for n in range(1, 16):
            self.assertEqual(has_manifest(self.registry, self.repo, digests[n]), n == 2 or n >= 11, n)
        self.assertEqual(tags_of(self.registry, "%s/billing" % self.ns), ["keep"])
        # The cluster: the current version and the newest 4 old ones.
        self.wait_for("5 revisions", lambda: len(self.revisions()) == 5)
        revs = self.revisions()
        self.assertEqual(len(revs), 5)
        self.assertEqual(sorted(revs.values()), sorted("%s/%s/%s@%s" % (self.registry.host, self.ns, self.app,
                                                                           digests[n]) for n in range(11, 16)))
        status, cm = cluster.request("GET", "/api/v1/namespaces/%s/configmaps/orders-config-v1" % self.ns)
        self.assertEqual(status, 200, cm)
        self.assertEqual(self.get("pods", "batch-job")["metadata"]["name"], "batch-job")

        # The registry's garbage-collect frees the deleted images' blobs (each config is unique).
        self.assertTrue(has_blob(self.registry, self.repo, config_blob))
        gc = self.registry.garbage_collect()
        self.assertEqual(gc.returncode, 0, gc.stderr + gc.stdout)
        self.assertFalse(has_blob(self.registry, self.repo, config_blob), config_blob + "\n" + gc.stdout)

        # Rollback to each kept revision works: the app runs that image, which the registry still has
        # (on a real cluster the node pulls it from there, after garbage-collect).
        for rev in sorted(revs)[:-1]:
            image = revs[rev]
            r = self.run_wb("app", "rollback", self.app, "--to", str(rev), "--timeout", self.TIMEOUT)
            self.assertExit(r, 0)
            self.assertEqual(self.image(), image)
            skopeo("inspect", "--raw", "--tls-verify=false", "docker://" + image)
            if cluster.real:
                self.assertEqual(self.running_digests(), {image.rsplit("@", 1)[1]})
            revs = self.revisions()  # the controller renumbers the version it brings back
        # Nothing more to do: a second run deletes nothing.
        r = self.run_wb("gc", self.app, "-o", "json", env=env)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["deleted"], 0, r.out)

    def test_config_versions_no_kept_revision_uses_go(self):
        self.create_app()
        self.push(1)
        self.assertExit(self.run_wb("app", "start", self.app, "--timeout", self.TIMEOUT), 0)
        for n in range(1, 5):  # (only the last one waits for its rollout: real ones take seconds each)
            wait = ["--timeout", self.TIMEOUT] if n == 4 else ["--no-wait"]
            self.assertExit(self.run_wb("config", "set", self.app, "N=%d" % n, *wait), 0)
        names = lambda: sorted(c["metadata"]["name"] for c in self.get(
            "configmaps", selector="wb.dev/config-version")["items"])
        self.assertEqual(names(), ["orders-config-v%d" % n for n in range(1, 5)])
        env = {"WB_RETENTION_CONFIGS": "1", "WB_RETENTION_REVISIONS": "1"}
        r = self.run_wb("gc", self.app, "--dry-run", "-o", "json", env=env)
        self.assertExit(r, 0)
        configs = {i["name"]: i for i in json.loads(r.out)["apps"][0]["items"] if i["kind"] == "config"}
        self.assertTrue(configs["v3"]["keep"])
        self.assertIn("revision", " ".join(configs["v3"]["reasons"]))  # the version to roll back to uses it
        self.assertEqual(configs["v1"]["objects"], ["configmap/orders-config-v1"])
        r = self.run_wb("gc", self.app, env=env)
        self.assertExit(r, 0)
        self.assertEqual(names(), ["orders-config-v3", "orders-config-v4"])
        # Rolling back to the previous version brings config v3 back, which is still there.
        self.assertExit(self.run_wb("app", "rollback", self.app, "--timeout", self.TIMEOUT), 0)
        if cluster.real:  # the app's pods run with it
            self.assertEqual(self.running_digests(), {self.image().rsplit("@", 1)[1]})
            pods = self.get("pods", selector="app.kubernetes.io/name=" + self.app)["items"]
            refs = {f["configMapRef"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")
                    for f in p["spec"]["containers"][0].get("envFrom", []) if "configMapRef" in f}
            self.assertEqual(refs, {"orders-config-v3"})


class AutoRetention(GcCase):
    def test_retention_auto_after_push(self):
        self.use_registry(reg, "retention:\n  auto: true\n  images: 2\n  revisions: 1\n")
        self.create_app()
        docs = [json.loads(self.push(n).out) for n in range(1, 5)]
        self.assertEqual(tags_of(self.registry, self.repo), ["v3", "v4"])
        self.assertEqual(docs[-1]["retention"]["deleted"].get("image"), 1, docs[-1])
        self.assertEqual(docs[-1]["retention"]["warnings"], [])
        self.assertEqual(self.image(), "%s/%s@%s" % (self.registry.host, self.repo, docs[-1]["digest"]))
        # Off unless the profile says so.
        r = self.push(5, env={"WB_RETENTION_AUTO": "false"})
        self.assertNotIn("retention", json.loads(r.out))
        self.assertEqual(tags_of(self.registry, self.repo), ["v3", "v4", "v5"])

    def test_registry_with_deletes_disabled_is_reported_once(self):
        self.use_registry(reg_nodelete, "retention:\n  auto: true\n  images: 1\n  revisions: 0\n")
        self.create_app()
        for n in range(1, 4):
            r = self.push(n)
            self.assertExit(r, 0)
        self.assertEqual(r.err.count("does not allow deleting images"), 1, r.err)
        self.assertEqual(json.loads(r.out)["deployed"]["app"], self.app)
        self.assertEqual(tags_of(self.registry, self.repo), ["v1", "v2", "v3"])
        # wb gc: one warning for all the images refused; the versions are still cleaned up.
        r = self.run_wb("gc", "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual(r.err.count("does not allow deleting images"), 1, r.err)
        doc = json.loads(r.out)
        self.assertIn("does not allow deleting images", doc["registryRefusedDeletes"])
        statuses = {i["tags"][0]: i["status"] for i in doc["apps"][0]["items"] if i["kind"] == "image"}
        self.assertEqual(statuses, {"v1": "not deleted", "v2": "not deleted", "v3": "kept"})
        self.assertEqual(len(self.revisions()), 1)


if __name__ == "__main__":
    unittest.main()
