"""Versioned config against the fake API server: set (entries, files, .env, secrets, unset) makes
numbered immutable versions the app rolls to; get/history/diff/rollback; bad input refused before
anything is written; two writers at once lose nothing; secrets never printed (any -o, -vvv);
retention keeps what revisions use; `wb app rollback` brings the config back with the image; the
objects pass the schema validator.

On a real cluster (WB_TEST_KUBECONFIG) the same tests run as a real user (alice, a client certificate
from a CertificateSigningRequest, with the edit role in a namespace of her own), the apps run the
test server image (two builds for the image changes), and the running JVM is asked (GET /config
through the API server's pods/proxy) which config files it sees."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, WbTestCase, SOURCE_DIR, WB_BIN, real_images  # noqa: E402

TOKEN = "cfg-alice-token-0123456789"
IMAGE1 = "registry.local/shop/orders@sha256:" + "a" * 64
IMAGE2 = "registry.local/shop/orders@sha256:" + "e" * 64
SECRET_VALUE = "hunter2-s3cr3t-value-do-not-print"

cluster = None


def setUpModule():
    global cluster
    global IMAGE1, IMAGE2
    cluster = FakeCluster(tokens=[(TOKEN, "alice", ["developers"])])
    if cluster.real:
        images = real_images()
        IMAGE1, IMAGE2 = images["server"], images["server-v2"]
        return
    status, body = cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
    assert status == 200, body


def tearDownModule():
    if cluster:
        cluster.stop()


def validate(objects):
    """Runs tests/validate/validate.js on a JSON List; returns (exit code, output)."""
    clean = []
    for o in objects:
        o = json.loads(json.dumps(o))
        o.pop("status", None)
        o["metadata"].pop("managedFields", None)
        if "kind" not in o:  # list items come without kind/apiVersion
            o["apiVersion"], o["kind"] = "v1", ("Secret" if o.get("type") else "ConfigMap")
        clean.append(o)
    p = subprocess.run(["node", os.path.join(SOURCE_DIR, "tests", "validate", "validate.js")],
                       input=json.dumps({"apiVersion": "v1", "kind": "List", "items": clean}),
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


class ConfigOnCluster(WbTestCase):
    def setUp(self):
        super().setUp()
        self.app = "orders"
        self.ns = cluster.workspace_for("alice", "cfg")
        self.kubeconfig = cluster.kubeconfig_for(os.path.join(self.home, "kubeconfig"), token=TOKEN)

    # ------------------------------------------------------------ helpers
    def run_wb(self, *args, **kw):
        return self.wb("--kubeconfig", self.kubeconfig, "-w", self.ns, *args, **kw)

    def get(self, kind, name=None, selector=None):
        base = "/apis/apps/v1" if kind in ("deployments", "replicasets") else "/api/v1"
        path = "%s/namespaces/%s/%s" % (base, self.ns, kind) + ("/" + name if name else "")
        if selector:
            path += "?labelSelector=" + selector
        return cluster.request("GET", path)

    def deployment(self):
        status, d = self.get("deployments", self.app)
        self.assertEqual(status, 200, d)
        return d

    def container(self, d=None):
        d = d or self.deployment()
        return [c for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == self.app][0]

    def config_refs(self, d=None):
        d = d or self.deployment()
        c = self.container(d)
        refs = [f.get("configMapRef", f.get("secretRef", {})).get("name") for f in c.get("envFrom", [])]
        vols = [v["configMap"]["name"] for v in d["spec"]["template"]["spec"].get("volumes", []) if "configMap" in v]
        return refs, vols

    def set_image(self, image):
        status, body = cluster.set_app_image(self.ns, self.app, image)
        self.assertEqual(status, 200, body)

    def started(self, *create_args, env=None):
        self.assertExit(self.run_wb("app", "create", self.app, "--replicas", "1", *create_args, env=env), 0)
        self.set_image(IMAGE1)
        self.assertExit(self.run_wb("app", "start", self.app, "--timeout", "60s"), 0)

    def write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def files_seen_by_the_app(self, expect):
        """What GET /config of the running test server answers (the files it finds in /app/config),
        through the API server's pods/proxy, once every replica answers EXPECT (a new replica may
        still be starting while an old one goes away)."""
        deadline = time.time() + 60
        got = None
        while time.time() < deadline:
            pods = cluster.running_pods(self.ns, self.app)
            got = [cluster.request("GET", "/api/v1/namespaces/%s/pods/%s:8080/proxy/config" % (self.ns, pod))
                   for pod in pods]
            got = [(status, body or "") for status, body in got]
            if pods and all(g == (200, expect) for g in got):
                return expect
            time.sleep(0.5)
        return got

    def config_maps(self):
        status, body = self.get("configmaps", selector="wb.dev/config-version")
        self.assertEqual(status, 200, body)
        return sorted(body["items"], key=lambda o: int(o["metadata"]["labels"]["wb.dev/config-version"]))

    # ------------------------------------------------------------ tests
    def test_versions_roll_the_app_and_can_be_diffed_and_rolled_back(self):
        self.started()
        r = self.run_wb("config", "set", self.app, "MODE=prod", "POOL=5", "-m", "first config", "--timeout", "60s")
        self.assertExit(r, 0)
        self.assertIn("Config v1 of orders", r.out)
        refs, vols = self.config_refs()
        self.assertEqual(refs, ["orders-config-v1"])
        self.assertEqual(vols, [])
        d = self.deployment()
        self.assertEqual(d["metadata"]["annotations"]["kubernetes.io/change-cause"], "config v1: first config")
        self.assertEqual(d["metadata"]["annotations"]["wb.dev/changed-by"], "alice")
        status, cm = self.get("configmaps", "orders-config-v1")
        self.assertEqual(status, 200, cm)
        self.assertTrue(cm["immutable"])
        self.assertEqual(cm["data"], {"MODE": "prod", "POOL": "5"})
        self.assertEqual(cm["metadata"]["labels"]["app.kubernetes.io/name"], "orders")
        self.assertEqual(cm["metadata"]["labels"]["app.kubernetes.io/managed-by"], "wb")
        self.assertEqual(cm["metadata"]["labels"]["wb.dev/config-version"], "1")
        self.assertEqual(cm["metadata"]["annotations"]["wb.dev/changed-by"], "alice")
        self.assertEqual(cm["metadata"]["annotations"]["kubernetes.io/change-cause"], "first config")

        yml = self.write("application.yml", "server:\n  port: 8080\nspring:\n  profiles: prod\n")
        env = self.write(".env", "# comment\nexport DB_URL=jdbc:postgresql://db/orders\nGREETING=\"hi there\"\n")
        r = self.run_wb("config", "set", self.app, "--file", yml, "--env-file", env, "--unset", "POOL",
                        "--timeout", "60s")
        self.assertExit(r, 0)
        refs, vols = self.config_refs()
        self.assertEqual(refs, ["orders-config-v2"])
        self.assertEqual(vols, ["orders-config-v2"])
        mounts = self.container()["volumeMounts"]
        self.assertIn({"name": "wb-config", "mountPath": "/app/config", "readOnly": True}, mounts)
        r = self.run_wb("config", "get", self.app, "-o", "json")
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertEqual(doc["version"], 2)
        self.assertTrue(doc["uses"])
        self.assertEqual(doc["env"], {"MODE": "prod", "DB_URL": "jdbc:postgresql://db/orders", "GREETING": "hi there"})
        with open(yml) as f:
            yml_text = f.read()
        self.assertEqual(doc["files"]["application.yml"], yml_text)
        r = self.run_wb("config", "get", self.app, "--file", "application.yml")
        self.assertEqual(r.out, yml_text)
        if cluster.real:
            # The running JVM reads the file where the app's config is mounted.
            self.assertEqual(self.files_seen_by_the_app("== application.yml\n" + yml_text),
                             "== application.yml\n" + yml_text)

        # A file change shows as a line diff; an entry change as old -> new.
        self.write("application.yml", "server:\n  port: 9090\nspring:\n  profiles: prod\n")
        self.assertExit(self.run_wb("config", "set", self.app, "--file", yml, "MODE=staging", "--no-wait"), 0)
        r = self.run_wb("config", "diff", self.app)
        self.assertExit(r, 0)
        self.assertIn("--- v2\n+++ v3", r.out)
        self.assertIn("~ MODE: prod -> staging", r.out)
        self.assertIn("- " + "  port: 8080", r.out)
        self.assertIn("+ " + "  port: 9090", r.out)
        r = self.run_wb("config", "diff", self.app, "1", "v3", "-o", "json")
        doc = json.loads(r.out)
        self.assertEqual((doc["from"], doc["to"]), (1, 3))
        kinds = {(c["what"], c["name"]): c["kind"] for c in doc["changes"]}
        self.assertEqual(kinds[("env", "POOL")], "removed")
        self.assertEqual(kinds[("file", "application.yml")], "added")

        r = self.run_wb("config", "history", self.app, "-o", "json")
        hist = json.loads(r.out)
        self.assertEqual([h["version"] for h in hist], [1, 2, 3])
        self.assertEqual([h["current"] for h in hist], [False, False, True])
        self.assertEqual(hist[0]["cause"], "first config")
        self.assertIn("unset POOL", hist[1]["change"])
        r = self.run_wb("config", "history", self.app)  # pipe: tab-separated rows
        self.assertEqual(len(r.out.strip().splitlines()), 3)

        r = self.run_wb("config", "rollback", self.app, "--to", "1", "--timeout", "60s")
        self.assertExit(r, 0)
        self.assertIn("Config v4", r.out)
        refs, vols = self.config_refs()
        self.assertEqual(refs, ["orders-config-v4"])
        self.assertEqual(vols, [])
        status, cm = self.get("configmaps", "orders-config-v4")
        self.assertEqual(cm["data"], {"MODE": "prod", "POOL": "5"})
        self.assertEqual(self.deployment()["metadata"]["annotations"]["kubernetes.io/change-cause"],
                         "config v4: rollback to v1")
        # The app rolled to it: every replica runs the newest revision.
        st = json.loads(self.run_wb("app", "status", self.app, "-o", "json").out)
        self.assertEqual(st["config"], "v4")
        self.assertEqual(st["phase"], "Running")
        if cluster.real:
            self.assertEqual(self.files_seen_by_the_app(""), "")  # v1 had no files: nothing mounted

        code, out = validate([self.deployment()] + self.config_maps())
        self.assertEqual(code, 0, out)

    def test_bad_input_is_refused_before_anything_is_written(self):
        self.assertExit(self.run_wb("app", "create", self.app), 0)
        bad_yaml = self.write("application.yml", "server:\n  port: 8080\n   bad: [1, 2\n")
        r = self.run_wb("config", "set", self.app, "--file", bad_yaml)
        self.assertOneLineError(r, 2, "application.yml:3:")
        bad_props = self.write("application.properties", "a=1\n=nokey\n")
        r = self.run_wb("config", "set", self.app, "--file", bad_props)
        self.assertOneLineError(r, 2, "application.properties:2:")
        self.assertOneLineError(self.run_wb("config", "set", self.app, "1BAD=x"), 2, "1BAD")
        self.assertOneLineError(self.run_wb("config", "set", self.app, "A-B=x"), 2, "A-B")
        bad_env = self.write("bad.env", "OK=1\nthis line is wrong\n")
        self.assertOneLineError(self.run_wb("config", "set", self.app, "--env-file", bad_env), 2, "bad.env:2:")
        big = self.write("big.properties", ("k=" + "x" * 1000 + "\n") * 1100)
        self.assertOneLineError(self.run_wb("config", "set", self.app, "--file", big), 2, "1 MiB")
        self.assertOneLineError(self.run_wb("config", "set", self.app, "--unset", "NOPE"), 2, "NOPE")
        self.assertOneLineError(self.run_wb("config", "set", "nosuchapp", "A=1"), 3, "nosuchapp")
        self.assertEqual(self.config_maps(), [])
        self.assertEqual(self.config_refs(), ([], []))

    def test_two_writers_at_once_lose_nothing(self):
        self.assertExit(self.run_wb("app", "create", self.app), 0)
        base = ["--kubeconfig", self.kubeconfig, "-w", self.ns, "config", "set", self.app]
        procs = []
        for kv in ("FIRST=1", "SECOND=2"):
            procs.append(subprocess.Popen([WB_BIN] + base + [kv],
                                          env=self.env(), cwd=self.workdir, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, out + err)
        cms = self.config_maps()
        self.assertEqual([c["metadata"]["name"] for c in cms], ["orders-config-v1", "orders-config-v2"])
        self.assertEqual(cms[1]["data"], {"FIRST": "1", "SECOND": "2"})
        self.assertEqual(self.config_refs()[0], ["orders-config-v2"])

    def test_two_writers_over_five_rounds_keep_every_change_and_number_versions_without_gaps(self):
        self.assertExit(self.run_wb("app", "create", self.app), 0)
        base = [WB_BIN, "--kubeconfig", self.kubeconfig, "-w", self.ns, "config", "set", self.app]
        want = {}
        for round in range(1, 6):
            procs = []
            for key in ("FIRST_%d" % round, "SECOND_%d" % round):
                want[key] = str(round)
                procs.append(subprocess.Popen(base + ["%s=%d" % (key, round)], env=self.env(), cwd=self.workdir,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            for p in procs:
                out, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 0, out + err)
        cms = self.config_maps()
        versions = [int(c["metadata"]["labels"]["wb.dev/config-version"]) for c in cms]
        # Ten changes, ten versions: none lost, none numbered twice (older ones may be let go).
        self.assertEqual(versions, list(range(11 - len(versions), 11)), versions)
        self.assertEqual([c["metadata"]["name"] for c in cms], ["orders-config-v%d" % v for v in versions])
        self.assertEqual(cms[-1]["data"], want)
        self.assertEqual(self.config_refs()[0], ["orders-config-v10"])

    def test_secrets_are_never_printed(self):
        self.assertExit(self.run_wb("app", "create", self.app), 0)
        r = self.run_wb("-vvv", "config", "set", self.app, "--secret", "DB_PASSWORD=" + SECRET_VALUE,
                        "DB_USER_KEY=" + SECRET_VALUE, "-m", "db creds")
        self.assertExit(r, 0)
        self.assertNotIn(SECRET_VALUE, r.out + r.err)
        self.assertIn("> POST", r.err)  # the trace is there, without the values
        status, secret = self.get("secrets", "orders-secret-v1")
        self.assertEqual(status, 200, secret)
        self.assertTrue(secret["immutable"])
        refs, _ = self.config_refs()
        self.assertEqual(refs, ["orders-config-v1", "orders-secret-v1"])
        self.assertExit(self.run_wb("config", "set", self.app, "--secret", "DB_PASSWORD=other-" + SECRET_VALUE), 0)
        self.assertExit(self.run_wb("config", "set", self.app, "PLAIN=1"), 0)
        outputs = []
        for args in (["config", "get", self.app], ["config", "get", self.app, "-o", "json"],
                     ["config", "get", self.app, "-o", "yaml"], ["config", "get", self.app, "-o", "wide"],
                     ["config", "get", self.app, "-o", "name"], ["config", "get", self.app, "--version", "1"],
                     ["config", "history", self.app], ["config", "history", self.app, "-o", "json"],
                     ["config", "diff", self.app, "1", "2"], ["config", "diff", self.app, "1", "2", "-o", "yaml"],
                     ["-vvv", "config", "get", self.app], ["-vvv", "config", "diff", self.app, "1", "3"],
                     ["app", "status", self.app, "-o", "json"]):
            r = self.run_wb(*args)
            self.assertExit(r, 0)
            outputs.append((args, r.out + r.err))
        r = self.run_wb("config", "get", self.app, tty=True)
        outputs.append((["tty get"], r.out))
        for args, text in outputs:
            self.assertNotIn(SECRET_VALUE, text, args)
        doc = json.loads(self.run_wb("config", "get", self.app, "-o", "json").out)
        self.assertEqual(doc["secrets"], {"DB_PASSWORD": "<secret>", "DB_USER_KEY": "<secret>"})
        self.assertIn("DB_PASSWORD (secret): changed", self.run_wb("config", "diff", self.app, "1", "2").out)
        doc = json.loads(self.run_wb("config", "get", self.app, "--show-secrets", "-o", "json").out)
        self.assertEqual(doc["secrets"]["DB_USER_KEY"], SECRET_VALUE)
        status, s3 = self.get("secrets", "orders-secret-v3")
        code, out = validate([s3])
        self.assertEqual(code, 0, out)

    def test_retention_keeps_what_revisions_use(self):
        env = {"WB_RETENTION_CONFIGS": "2", "WB_RETENTION_REVISIONS": "1"}
        self.started(env=env)
        for i in range(1, 6):
            self.assertExit(self.run_wb("config", "set", self.app, "N=%d" % i, "--timeout", "60s", env=env), 0)
        names = [c["metadata"]["name"] for c in self.config_maps()]
        # v5 (newest, live) and v4 (newest and used by the revision kept for rollback).
        if cluster.real:
            # A real Deployment controller deletes the ReplicaSet past the history limit in a sync
            # of its own, which on a busy cluster came after wb saw the rollout to v5 done and pruned:
            # v3's ReplicaSet was still there then, so v3 may be kept.
            self.assertEqual(names[-2:], ["orders-config-v4", "orders-config-v5"])
            self.assertLessEqual(set(names), {"orders-config-v3", "orders-config-v4", "orders-config-v5"})
        else:
            self.assertEqual(names, ["orders-config-v4", "orders-config-v5"])
        # An old revision that still refers to an old version keeps it.
        env = {"WB_RETENTION_CONFIGS": "1"}
        self.assertExit(self.run_wb("config", "set", self.app, "N=6", "--timeout", "60s", env=env), 0)
        names = [c["metadata"]["name"] for c in self.config_maps()]
        self.assertIn("orders-config-v6", names)
        status, rss = self.get("replicasets", selector="app.kubernetes.io/name=orders")
        used = set()
        for rs in rss["items"]:
            for f in rs["spec"]["template"]["spec"]["containers"][0].get("envFrom", []):
                used.add(f["configMapRef"]["name"])
        self.assertTrue(used <= set(names), (used, names))

    def test_app_rollback_restores_image_and_config_together(self):
        self.started()
        self.assertExit(self.run_wb("config", "set", self.app, "MODE=v1", "--timeout", "60s"), 0)
        hist = json.loads(self.run_wb("app", "history", self.app, "-o", "json").out)
        good = [h for h in hist if h["current"]][0]
        self.assertEqual(good["config"], "v1")
        self.set_image(IMAGE2)
        self.assertExit(self.run_wb("config", "set", self.app, "MODE=v2", "--timeout", "60s"), 0)
        d = self.deployment()
        self.assertEqual(self.container(d)["image"], IMAGE2)
        self.assertEqual(self.config_refs(d)[0], ["orders-config-v2"])
        r = self.run_wb("app", "rollback", self.app, "--to", str(good["revision"]), "--timeout", "60s")
        self.assertExit(r, 0)
        d = self.deployment()
        self.assertEqual(self.container(d)["image"], IMAGE1)
        self.assertEqual(self.config_refs(d)[0], ["orders-config-v1"])
        self.assertEqual(json.loads(self.run_wb("app", "status", self.app, "-o", "json").out)["config"], "v1")
        # `wb app set` keeps the config reference.
        self.assertExit(self.run_wb("app", "set", self.app, "--memory", "768Mi", "--timeout", "60s"), 0)
        self.assertEqual(self.config_refs()[0], ["orders-config-v1"])
        # A config change after an app rollback builds on the newest version, and says so.
        r = self.run_wb("config", "set", self.app, "EXTRA=1", "--timeout", "60s")
        self.assertExit(r, 0)
        self.assertIn("builds on the newest version, v2", r.err)


if __name__ == "__main__":
    unittest.main()
