"""`wb doctor` end to end: against the fake API server and the real registry (Debian's
docker-registry, plain and TLS + htpasswd) every check passes; then each way it can go wrong (no
kubeconfig, an unreachable server, a user without rights in the workspace, the registry down,
wrong registry credentials, a missing base image) gives its cross, the hint a user needs, the
checks that depend on it skipped, and the exit status of the failure's kind. The push check must
leave nothing behind in the registry.

With WB_TEST_KUBECONFIG (a real cluster) the users are real (client certificates from
CertificateSigningRequests) and the workspace a namespace of the run's own; wb's clock is skewed with
libfaketime, the server's is not, so every case runs there too. Where the cluster keeps membership
records (`wb platform init`), doctor names the user's workspaces and role.
"""
import calendar
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import shutil
import ssl
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import WB_BIN, FakeCluster, Registry, WbTestCase, free_port  # noqa: E402
import test_push_jar as push_fixtures  # noqa: E402  (make_base_layout only)

ALICE = "alice-token-doctor-0123"   # operator (edit) in the workspace
BOB = "bob-token-doctor-4567"       # no rights in the workspace
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

cluster = None
plain_reg = None
tls_reg = None
layout_dir = None


def skopeo(*args):
    p = subprocess.run(["skopeo"] + list(args), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("skopeo %s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


def setUpModule():
    global cluster, plain_reg, tls_reg, layout_dir
    cluster = FakeCluster(tokens=[(ALICE, "alice", ["developers"]), (BOB, "bob", ["viewers"])])
    plain_reg = Registry()
    tls_reg = Registry(tls=True)
    layout_dir = tempfile.mkdtemp(prefix="wb-doctor-base-")
    layout = os.path.join(layout_dir, "base")
    push_fixtures.make_base_layout(layout)
    skopeo("copy", "--dest-tls-verify=false", "oci:%s:17" % layout, "docker://%s/base/java:17" % plain_reg.host)
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "%s:%s" % (tls_reg.user, tls_reg.password),
           "oci:%s:17" % layout, "docker://%s/base/java:17" % tls_reg.host)


def tearDownModule():
    for s in (cluster, plain_reg, tls_reg):
        if s:
            s.stop()
    if layout_dir:
        shutil.rmtree(layout_dir, ignore_errors=True)


def catalog(reg, creds=None):
    if creds:
        import ssl
        import base64
        ctx = ssl.create_default_context(cafile=reg.cert)
        req = urllib.request.Request("https://%s/v2/_catalog" % reg.host)
        req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % creds).encode()).decode())
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return json.load(r).get("repositories") or []
    with urllib.request.urlopen("http://%s/v2/_catalog" % reg.host, timeout=10) as r:
        return json.load(r).get("repositories") or []


def open_uploads(reg):
    """Upload sessions the registry still keeps open: each has a `startedat` file until it is
    finished or cancelled (distribution 2.8 keeps only a stale hash state of a cancelled one)."""
    found = []
    for root, _, files in os.walk(os.path.join(reg.dir, "data")):
        if "startedat" in files or "data" in files and "_uploads" in root:
            found.append(root)
    return found


def admin_wb(*args):
    env = {"HOME": tempfile.gettempdir(), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    p = subprocess.run([WB_BIN, "--kubeconfig", cluster.kubeconfig] + list(args), capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 0, "wb %s: %s %s" % (" ".join(args), p.stdout, p.stderr)
    return p.stdout


def server_version():
    status, body = cluster.request("GET", "/version")
    assert status == 200, body
    return body["gitVersion"]


def keeps_records():
    """Whether the cluster keeps wb's membership records (its records namespace exists)."""
    return cluster.request("GET", "/api/v1/namespaces/wb-system")[0] == 200


class Doctor(WbTestCase):
    def setUp(self):
        super().setUp()
        self.ns = cluster.workspace_for("alice", "shop-doc", labels={"kubesphere.io/workspace": "shop"})
        self.kubeconfig = cluster.kubeconfig_for(os.path.join(self.home, "kubeconfig"), token=ALICE)
        self.profile(plain_reg.host)

    def profile(self, registry, bases=None, extra=""):
        bases = bases or {"17": "%s/base/java:17" % plain_reg.host}
        lines = ["tenant: shop", "workspace: %s" % self.ns, "registry:", "  host: %s" % registry,
                 "  project: shop", "baseImages:"] + ['  "%s": %s' % kv for kv in sorted(bases.items())]
        path = os.path.join(self.home, ".config", "wb", "profiles", "t.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)

    def doctor(self, *args, kubeconfig=None, env=None, **kw):
        e = {"WB_PROFILE": "t", "KUBECONFIG": kubeconfig if kubeconfig is not None else self.kubeconfig}
        e.update(env or {})
        if e["KUBECONFIG"] == "":
            del e["KUBECONFIG"]
        return self.wb("doctor", *args, env=e, **kw)

    def doc(self, *args, **kw):
        r = self.doctor("-o", "json", *args, **kw)
        doc = json.loads(r.out)
        self.assertEqual(doc["exitCode"], r.code, r)
        self.assertEqual(doc["ok"], r.code == 0, r)
        return r, {c["id"]: c for c in doc["checks"]}

    def line(self, out, title):
        for l in out.splitlines():
            if re.match(r"^\S+\s+%s\b" % re.escape(title), l):
                return l
        self.fail("no line for %r in:\n%s" % (title, out))

    def hint_after(self, out, title):
        lines = out.splitlines()
        for i, l in enumerate(lines):
            if re.match(r"^\S+ %s\b" % re.escape(title), l):
                self.assertLess(i + 1, len(lines), out)
                self.assertTrue(lines[i + 1].startswith("  → "), out)
                return lines[i + 1][4:]
        self.fail("no line for %r in:\n%s" % (title, out))

    def assertSkipped(self, checks, *ids):
        for i in ids:
            self.assertEqual(checks[i]["state"], "skip", checks[i])
            self.assertIn("needs", checks[i]["detail"])

    # ------------------------------------------------------------------ all green
    def test_all_green(self):
        before = catalog(plain_reg)
        r = self.doctor()
        self.assertExit(r, 0)
        self.assertEqual(r.err, "")
        titles = ["profile", "kubeconfig found", "server reachable", "who you are", "workspace access",
                  "registry reachable", "registry push allowed", "base image readable", "clock in sync"]
        for t in titles:
            self.assertTrue(self.line(r.out, t).startswith("✓ "), r.out)
        self.assertIn("alice", self.line(r.out, "who you are"))
        self.assertIn("deploy, configure, create apps, read logs, copy files and add routes",
                      self.line(r.out, "workspace access"))
        self.assertIn("Kubernetes " + server_version(), self.line(r.out, "server reachable"))
        self.assertIn("%s/shop/wb-doctor" % plain_reg.host, self.line(r.out, "registry push allowed"))
        self.assertIn("%s/base/java:17" % plain_reg.host, self.line(r.out, "base image readable"))
        self.assertNotIn("\x1b[", r.out)  # no colors in a pipe
        self.assertTrue(r.out.rstrip().endswith("Ready: everything wb needs is in place."), r.out)
        # Nothing left behind: no repository, no open upload session.
        self.assertEqual(catalog(plain_reg), before)
        self.assertEqual(open_uploads(plain_reg), [])

        r, checks = self.doc()
        self.assertExit(r, 0)
        self.assertEqual(list(checks), ["profile", "kubeconfig", "server", "identity", "workspace", "registry",
                                        "push", "base-image", "clock"])
        self.assertEqual({c["state"] for c in checks.values()}, {"ok"}, checks)
        self.assertTrue(all(c["error"] is None for c in checks.values()))

    def test_app_from_wb_yaml_names_the_repository_and_ascii_outside_utf8(self):
        with open(os.path.join(self.workdir, "wb.yaml"), "w") as f:
            f.write("app:\n  name: orders\n")
        r = self.doctor(env={"LANG": "C"})
        self.assertExit(r, 0)
        self.assertTrue(self.line(r.out, "registry push allowed").startswith("[ok]"), r.out)
        self.assertIn("%s/shop/orders" % plain_reg.host, r.out)
        self.assertTrue(all(ord(c) < 128 for c in r.out), r.out)
        self.assertNotIn("orders", catalog(plain_reg) and " ".join(catalog(plain_reg)))

    def test_colors_on_a_terminal(self):
        r = self.doctor(tty=True)
        self.assertExit(r, 0)
        self.assertIn("\x1b[32m✓\x1b[0m profile", r.out)

    # ------------------------------------------------------------------ the cluster side
    def test_no_kubeconfig(self):
        r = self.doctor(kubeconfig="")  # HOME has no .kube/config, no KUBERNETES_SERVICE_HOST
        self.assertNotEqual(r.code, 0)
        out = ANSI.sub("", r.out)
        self.assertTrue(self.line(out, "kubeconfig found").startswith("✗ "), out)
        self.assertIn("kubeconfig", self.hint_after(out, "kubeconfig found"))
        self.assertTrue(self.line(out, "server reachable").startswith("- "), out)
        self.assertEqual(r.err, "")  # the checklist says it all
        r, checks = self.doc(kubeconfig="")
        self.assertEqual(checks["kubeconfig"]["state"], "fail")
        self.assertSkipped(checks, "server", "identity", "workspace", "clock")
        # The registry side is checked all the same.
        self.assertEqual(checks["push"]["state"], "ok")
        self.assertEqual(r.code, {"not-found": 3, "usage": 2, "failure": 1}[checks["kubeconfig"]["error"]])

    def test_unreachable_server(self):
        kc = cluster.kubeconfig_for(os.path.join(self.home, "dead"), token=ALICE,
                                    server="https://127.0.0.1:%d" % free_port())
        r = self.doctor(kubeconfig=kc)
        self.assertExit(r, 7)
        self.assertTrue(self.line(r.out, "server reachable").startswith("✗ "), r.out)
        self.assertIn("127.0.0.1", self.line(r.out, "server reachable"))
        self.assertTrue(self.hint_after(r.out, "server reachable"))
        r, checks = self.doc(kubeconfig=kc)
        self.assertExit(r, 7)
        self.assertEqual(checks["server"]["error"], "unavailable")
        self.assertSkipped(checks, "identity", "workspace", "clock")

    def test_wrong_token(self):
        kc = cluster.kubeconfig_for(os.path.join(self.home, "stale"), token="no-such-token-000")
        r, checks = self.doc(kubeconfig=kc)
        self.assertExit(r, 4)
        self.assertEqual(checks["server"]["state"], "ok")  # it answered
        self.assertEqual(checks["identity"]["state"], "fail")
        self.assertIn("fresh kubeconfig", checks["identity"]["hint"])
        self.assertSkipped(checks, "workspace")

    def test_forbidden_user(self):
        kc = cluster.kubeconfig_for(os.path.join(self.home, "bob"), token=BOB)
        r = self.doctor(kubeconfig=kc)
        self.assertExit(r, 4)
        self.assertTrue(self.line(r.out, "who you are").startswith("✓ "), r.out)
        line = self.line(r.out, "workspace access")
        self.assertTrue(line.startswith("✗ "), r.out)
        self.assertIn("you may not deploy and configure in workspace '%s'" % self.ns, line)
        self.assertIn("create deployments", line)
        hint = self.hint_after(r.out, "workspace access")
        if keeps_records():  # (a real cluster other modules ran `wb platform init` on)
            self.assertIn("you have no role in '%s'" % self.ns, hint)
            self.assertIn("ask a tenant admin of its tenant for the developer role there", hint)
        else:
            self.assertIn("operator (edit) role", hint)
        r, checks = self.doc(kubeconfig=kc)
        self.assertEqual(checks["workspace"]["error"], "forbidden")

    def test_no_workspace(self):
        path = os.path.join(self.home, ".config", "wb", "profiles", "t.yaml")
        with open(path) as f:
            text = f.read().replace("workspace: %s\n" % self.ns, "")
        with open(path, "w") as f:
            f.write(text)
        r, checks = self.doc()
        self.assertExit(r, 2)
        self.assertEqual(checks["workspace"]["detail"], "no workspace chosen")
        self.assertIn("wb workspace use", checks["workspace"]["hint"])

    def test_clock_skew(self):
        # wb runs under libfaketime (the `faketime` package): its clock is off, the server's is not.
        if not shutil.which("faketime"):
            self.skipTest("needs faketime (scripts/install-deps.sh --with-tests installs it)")

        def skewed(offset):
            from wbtest import WB_BIN
            env = self.env({"WB_PROFILE": "t", "KUBECONFIG": self.kubeconfig})
            # Under the asan preset libfaketime is preloaded ahead of the ASan runtime, which ASan
            # refuses by default; the order is harmless here (faketime only wraps clock calls).
            asan = env.get("ASAN_OPTIONS", "")
            env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "verify_asan_link_order=0"
            p = subprocess.run(["faketime", "-f", offset, WB_BIN, "doctor", "-o", "json"], env=env,
                               capture_output=True, text=True, cwd=self.workdir, timeout=120)
            self.assertTrue(p.stdout.strip(), "no JSON from wb doctor (exit %d): %s" % (p.returncode, p.stderr))
            return p.returncode, {c["id"]: c for c in json.loads(p.stdout)["checks"]}

        code, checks = skewed("+90s")
        self.assertEqual(code, 0, checks)  # a warning does not fail
        self.assertEqual(checks["clock"]["state"], "warn", checks["clock"])
        self.assertIn("ahead of the API server", checks["clock"]["detail"])
        self.assertIn("NTP", checks["clock"]["hint"])
        code, checks = skewed("+1h")
        self.assertEqual(code, 1, checks)
        self.assertEqual(checks["clock"]["state"], "fail", checks["clock"])
        self.assertIn("60m ahead of the API server", checks["clock"]["detail"])
        self.assertEqual([c["id"] for c in checks.values() if c["state"] == "fail"], ["clock"])
        # An hour before the server's certificate was made, it is not valid yet: TLS fails first.
        pem = ssl.get_server_certificate(("127.0.0.1", cluster.port))
        start = subprocess.run(["openssl", "x509", "-noout", "-startdate", "-dateopt", "iso_8601"], input=pem,
                               capture_output=True, text=True, check=True).stdout.split("=", 1)[1].strip()
        made = calendar.timegm(time.strptime(start.rstrip("Z"), "%Y-%m-%d %H:%M:%S"))
        code, checks = skewed("-%ds" % int(time.time() - made + 3600))
        self.assertEqual(checks["server"]["state"], "fail", checks["server"])
        self.assertIn("not valid yet", checks["server"]["detail"])
        self.assertIn("clock", checks["server"]["hint"])

    def test_your_workspaces_and_role_from_the_membership_records(self):
        # wb's roles and records (cluster-wide; scripts/test-real.sh removes what a run added)
        admin_wb("platform", "init")
        tenant = "doc-" + uuid.uuid4().hex[:6]
        ws = tenant + "-dev"
        admin_wb("tenant", "create", tenant)
        for kind in ("clusterroles", "clusterrolebindings"):
            cluster.adopt("/apis/rbac.authorization.k8s.io/v1/%s/wb:tenant:%s" % (kind, tenant))
        cluster.adopt("/apis/rbac.authorization.k8s.io/v1/namespaces/wb-system/rolebindings/wb:tenant:" + tenant)
        admin_wb("workspace", "create", ws, "--tenant", tenant)
        cluster.adopt_namespace(ws)
        self.addCleanup(admin_wb, "workspace", "delete", ws, "--yes")  # takes its records along
        admin_wb("member", "add", "alice", "--role", "developer", "-w", ws)
        # no workspace chosen: the hint names the ones alice has
        path = os.path.join(self.home, ".config", "wb", "profiles", "t.yaml")
        with open(path) as f:
            text = f.read().replace("workspace: %s\n" % self.ns, "")
        with open(path, "w") as f:
            f.write(text)
        r, checks = self.doc()
        self.assertExit(r, 2)
        self.assertIn("you have a role in %s (developer)" % ws, checks["workspace"]["hint"])
        # in that workspace: what she may do, and as what
        r, checks = self.doc("-w", ws)
        self.assertEqual(checks["workspace"]["state"], "ok", checks["workspace"])
        self.assertIn("(your role there: developer)", checks["workspace"]["detail"])
        # bob has no role there: said so
        kc = cluster.kubeconfig_for(os.path.join(self.home, "bob"), token=BOB)
        r, checks = self.doc("-w", ws, kubeconfig=kc)
        self.assertEqual(checks["workspace"]["state"], "fail", checks["workspace"])
        self.assertIn("you have no role in '%s'" % ws, checks["workspace"]["hint"])

    # ------------------------------------------------------------------ the registry side
    def test_registry_down(self):
        down = "127.0.0.1:%d" % free_port()
        self.profile(down, bases={"17": "%s/base/java:17" % down})
        r = self.doctor()
        self.assertExit(r, 7)
        self.assertTrue(self.line(r.out, "registry reachable").startswith("✗ "), r.out)
        self.assertIn(down, self.line(r.out, "registry reachable"))
        self.assertIn("registry.host", self.hint_after(r.out, "registry reachable"))
        r, checks = self.doc()
        self.assertSkipped(checks, "push", "base-image")
        self.assertEqual(checks["workspace"]["state"], "ok")

    def test_wrong_registry_credentials(self):
        self.profile(tls_reg.host, bases={"17": "%s/base/java:17" % tls_reg.host},
                     extra="")
        path = os.path.join(self.home, ".config", "wb", "profiles", "t.yaml")
        with open(path, "a") as f:
            f.write("")
        with open(path) as f:
            text = f.read().replace("  project: shop\n", "  project: shop\n  ca: %s\n" % tls_reg.cert)
        with open(path, "w") as f:
            f.write(text)
        good = {"WB_REGISTRY_USER": tls_reg.user, "WB_REGISTRY_PASSWORD": tls_reg.password}
        r = self.doctor(env=good)
        self.assertExit(r, 0)
        before = catalog(tls_reg, (tls_reg.user, tls_reg.password))

        bad = {"WB_REGISTRY_USER": tls_reg.user, "WB_REGISTRY_PASSWORD": "not-the-password"}
        r = self.doctor(env=bad)
        self.assertExit(r, 4)
        self.assertTrue(self.line(r.out, "registry reachable").startswith("✓ "), r.out)
        line = self.line(r.out, "registry push allowed")
        self.assertTrue(line.startswith("✗ "), r.out)
        self.assertIn(tls_reg.host, line)
        self.assertIn("WB_REGISTRY_USER", self.hint_after(r.out, "registry push allowed"))
        self.assertNotIn("not-the-password", r.out + r.err)
        r, checks = self.doc(env=bad)
        self.assertEqual(checks["push"]["error"], "forbidden")
        self.assertEqual(catalog(tls_reg, (tls_reg.user, tls_reg.password)), before)
        self.assertEqual(open_uploads(tls_reg), [])

    def test_missing_base_image(self):
        self.profile(plain_reg.host, bases={"17": "%s/base/java:17" % plain_reg.host,
                                            "21": "%s/base/java:21-missing" % plain_reg.host})
        r = self.doctor()
        self.assertExit(r, 3)
        line = self.line(r.out, "base image readable")
        self.assertTrue(line.startswith("✗ "), r.out)
        self.assertIn("java:21-missing", line)
        self.assertIn("Java 21", self.hint_after(r.out, "base image readable"))
        self.assertTrue(self.line(r.out, "registry push allowed").startswith("✓ "), r.out)
        self.assertIn("1 check failed", r.out)


if __name__ == "__main__":
    unittest.main()
