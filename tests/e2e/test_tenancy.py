"""Tenants, workspaces, members, roles and robots end to end, enforced by the fake's real RBAC
evaluation (with escalation prevention) and its ValidatingAdmissionPolicy admission: the platform
team sets up tenants, tenant admins make their workspaces (only in their tenant) and give roles, a developer deploys and configs in shop-dev but is refused in shop-prod (in words,
exit 4), a viewer reads logs but cannot change config, a tenant admin of one tenant cannot touch
another (not through wb, not through the API), a robot's kubeconfig works for `wb push jar` and
`wb config set` and nothing else. KubeSphere detection both ways (--kubesphere on the fake)."""
import json
import os
import subprocess
import sys
import tempfile
import shutil
import unittest

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
sys.path.insert(0, os.path.dirname(__file__))
from wbtest import FakeCluster, WbTestCase, REAL_KUBECONFIG, SOURCE_DIR  # noqa: E402
import test_push_jar as pj  # noqa: E402  (its base-image and skopeo helpers)

USERS = {"alice": "tok-alice-0123456789", "victor": "tok-victor-0123456789", "bob": "tok-bob-0123456789",
         "carol": "tok-carol-0123456789", "dave": "tok-dave-0123456789"}
RBAC = "/apis/rbac.authorization.k8s.io/v1"

cluster = None
registry = None
jars = None


def admin_wb(*args):
    env = {"HOME": tempfile.gettempdir(), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    p = subprocess.run([pj.WB_BIN if hasattr(pj, "WB_BIN") else os.path.join(SOURCE_DIR, "build", "default", "cli", "wb"),
                        "--kubeconfig", cluster.kubeconfig] + list(args), capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0, "wb %s: %s %s" % (" ".join(args), p.stdout, p.stderr)
    return p.stdout


def setUpModule():
    global cluster, registry, jars
    if REAL_KUBECONFIG:
        return
    cluster = FakeCluster(tokens=[(tok, user, ["staff"]) for user, tok in USERS.items()])
    status, body = cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
    assert status == 200, body
    admin_wb("platform", "init")
    admin_wb("tenant", "create", "shop", "--admin", "bob")
    admin_wb("tenant", "create", "acme", "--admin", "carol")
    for ws, tenant in (("shop-dev", "shop"), ("shop-prod", "shop"), ("acme-dev", "acme")):
        admin_wb("workspace", "create", ws, "--tenant", tenant)
    jars, registry = pj.jars_and_registry("wb-tenancy-jars-")


def tearDownModule():
    if registry:
        registry.stop()
    if cluster:
        cluster.stop()
    if jars:
        shutil.rmtree(jars, ignore_errors=True)


@unittest.skipIf(REAL_KUBECONFIG, "needs the fake API server's users and a cluster to itself")
class Tenancy(WbTestCase):
    # ------------------------------------------------------------ helpers
    def kubeconfig(self, user):
        return cluster.kubeconfig_for(os.path.join(self.home, "kc-" + user), token=USERS[user])

    def as_user(self, user, *args, **kw):
        env = dict(kw.pop("env", {}) or {}, WB_PROFILE="t")
        self.write_profile()
        kc = cluster.kubeconfig if user == "admin" else self.kubeconfig(user)
        return self.wb("--kubeconfig", kc, *args, env=env, **kw)

    def write_profile(self):
        path = os.path.join(self.home, ".config", "wb", "profiles", "t.yaml")
        if os.path.exists(path):
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("registry:\n  host: %s\n  project: shop\n  insecure: true\nbaseImages:\n  \"17\": %s/base/java:17\n"
                    % (registry.host, registry.host))

    def get(self, path):
        status, body = cluster.request("GET", path)
        self.assertEqual(status, 200, body)
        return body

    def status_of(self, path):
        return cluster.request("GET", path)[0]

    def subjects(self, ns, binding):
        b = self.get("%s/namespaces/%s/rolebindings/%s" % (RBAC, ns, binding))
        return sorted(s["name"] for s in b.get("subjects") or [])

    def assertForbidden(self, r, *fragments):
        self.assertOneLineError(r, 4, *fragments)

    def app_in(self, ns, app="orders", start=False):
        """An app made by the admin in ns (not running unless start)."""
        if self.status_of("/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, app)) != 200:
            self.assertExit(self.as_user("admin", "-w", ns, "app", "create", app), 0)
        if start:
            status, body = cluster.set_app_image(ns, app, "registry.local/shop/orders@sha256:" + "a" * 64)
            self.assertEqual(status, 200, body)
            self.assertExit(self.as_user("admin", "-w", ns, "app", "start", app, "--timeout", "60s"), 0)

    # ------------------------------------------------------------ platform, tenants, workspaces
    def test_platform_init_is_idempotent_and_has_a_dry_run(self):
        fresh = FakeCluster()
        self.addCleanup(fresh.stop)
        r = self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "--dry-run", "-o", "yaml")
        self.assertExit(r, 0)
        docs = [d for d in yaml.safe_load_all(r.out) if d]
        self.assertEqual([(d["kind"], d["metadata"]["name"]) for d in docs],
                         [("ClusterRole", "wb:developer"), ("ClusterRole", "wb:viewer"), ("ClusterRole", "wb:deployer"),
                          ("ClusterRole", "wb:tenant-admin"), ("ValidatingAdmissionPolicy", "wb-tenant-boundaries"),
                          ("ValidatingAdmissionPolicyBinding", "wb-tenant-boundaries")])
        self.assertEqual(fresh.request("GET", RBAC + "/clusterroles/wb:developer")[0], 404)  # dry run wrote nothing
        r = self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual({x["result"] for x in json.loads(r.out)}, {"created"})
        status, dev = fresh.request("GET", RBAC + "/clusterroles/wb:developer")
        self.assertEqual(status, 200)
        self.assertEqual(dev["metadata"]["labels"]["wb.dev/role"], "developer")
        r = self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual({x["result"] for x in json.loads(r.out)}, {"unchanged"})
        # a changed role is put back
        dev["rules"] = dev["rules"][:1]
        self.assertEqual(fresh.request("PUT", RBAC + "/clusterroles/wb:developer", dev)[0], 200)
        r = self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json")
        self.assertEqual([x["result"] for x in json.loads(r.out)], ["configured"] + ["unchanged"] * 5)
        self.assertGreater(len(fresh.request("GET", RBAC + "/clusterroles/wb:developer")[1]["rules"]), 1)
        # existing tenants' roles are brought up to date too (e.g. made before the policy existed)
        self.assertExit(self.wb("--kubeconfig", fresh.kubeconfig, "tenant", "create", "t1"), 0)
        path = RBAC + "/clusterroles/wb:tenant:t1"
        role = fresh.request("GET", path)[1]
        full = role["rules"]
        self.assertIn({"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create"]}, full)
        role["rules"] = [x for x in full if x["resources"] != ["namespaces"] or x["verbs"] != ["create"]]
        self.assertEqual(fresh.request("PUT", path, role)[0], 200)
        r = self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json")
        self.assertIn({"kind": "ClusterRole", "name": "wb:tenant:t1", "role": "tenant t1", "result": "configured"},
                      json.loads(r.out))
        self.assertEqual(fresh.request("GET", path)[1]["rules"], full)
        # the policy: fields a real server defaults are no change; a weakened validation is put back
        vap = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/wb-tenant-boundaries"
        policy = fresh.request("GET", vap)[1]
        policy["spec"]["matchConstraints"]["matchPolicy"] = "Equivalent"
        policy["spec"]["matchConstraints"]["namespaceSelector"] = {}
        self.assertEqual(fresh.request("PUT", vap, policy)[0], 200)
        result = {x["name"] + "/" + x["kind"]: x["result"] for x in json.loads(
            self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json").out)}
        self.assertEqual(result["wb-tenant-boundaries/ValidatingAdmissionPolicy"], "unchanged")
        policy = fresh.request("GET", vap)[1]
        policy["spec"]["validations"][0]["expression"] = "true"
        self.assertEqual(fresh.request("PUT", vap, policy)[0], 200)
        result = {x["name"] + "/" + x["kind"]: x["result"] for x in json.loads(
            self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json").out)}
        self.assertEqual(result["wb-tenant-boundaries/ValidatingAdmissionPolicy"], "configured")
        self.assertNotEqual(fresh.request("GET", vap)[1]["spec"]["validations"][0]["expression"], "true")
        # not the platform team: refused in words
        fresh.request("POST", "/fake/v1/tokens", {"token": "tok-x-123", "user": "xavier", "groups": []})
        kc = fresh.kubeconfig_for(os.path.join(self.home, "kc-x"), token="tok-x-123")
        r = self.wb("--kubeconfig", kc, "platform", "init")
        self.assertForbidden(r, "you (xavier) cannot", "cluster-wide", "the platform team")

    def test_without_admission_policies_only_the_platform_team_creates_workspaces(self):
        old = FakeCluster(k8s_version="1.18")  # no ValidatingAdmissionPolicy (GA in 1.30)
        self.addCleanup(old.stop)
        r = self.wb("--kubeconfig", old.kubeconfig, "platform", "init")
        self.assertExit(r, 0)
        self.assertIn("no ValidatingAdmissionPolicy", r.err)
        self.assertIn("the platform team does", r.err)
        self.assertEqual(old.request("GET", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies")[0], 404)
        self.assertExit(self.wb("--kubeconfig", old.kubeconfig, "tenant", "create", "shop", "--admin", "bob"), 0)
        rules = old.request("GET", RBAC + "/clusterroles/wb:tenant:shop")[1]["rules"]
        self.assertNotIn({"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create"]}, rules)
        old.request("POST", "/fake/v1/tokens", {"token": USERS["bob"], "user": "bob", "groups": []})
        kc = old.kubeconfig_for(os.path.join(self.home, "kc-old-bob"), token=USERS["bob"])
        self.assertForbidden(self.wb("--kubeconfig", kc, "workspace", "create", "shop-dev", "--tenant", "shop"),
                             "you (bob) cannot create workspaces: that needs a cluster-wide permission")
        self.assertExit(self.wb("--kubeconfig", old.kubeconfig, "workspace", "create", "shop-dev", "--tenant", "shop"), 0)
        self.assertEqual(old.request("GET", "/api/v1/namespaces/shop-dev")[0], 200)

    def test_workspace_objects_field_by_field(self):
        r = self.as_user("admin", "workspace", "create", "shop-qa", "--tenant", "shop", "--cpu", "4", "--memory", "8Gi")
        self.assertExit(r, 0)
        self.assertIn("Created workspace 'shop-qa' in tenant 'shop'", r.out)
        self.addCleanup(self.as_user, "admin", "workspace", "delete", "shop-qa", "--yes")
        ns = self.get("/api/v1/namespaces/shop-qa")
        self.assertEqual(ns["metadata"]["labels"]["kubesphere.io/workspace"], "shop")
        self.assertEqual(ns["metadata"]["labels"]["app.kubernetes.io/managed-by"], "wb")
        self.assertEqual(ns["metadata"]["annotations"]["kubesphere.io/creator"], "admin")
        q = self.get("/api/v1/namespaces/shop-qa/resourcequotas/wb-quota")
        self.assertEqual(q["spec"]["hard"], {"requests.cpu": "4", "limits.cpu": "4", "requests.memory": "8Gi",
                                             "limits.memory": "8Gi"})
        lr = self.get("/api/v1/namespaces/shop-qa/limitranges/wb-limits")
        self.assertEqual(lr["spec"]["limits"], [{"type": "Container", "default": {"cpu": "1", "memory": "1Gi"},
                                                 "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}])
        np = self.get("/apis/networking.k8s.io/v1/namespaces/shop-qa/networkpolicies/wb-tenant-isolation")
        self.assertEqual(np["spec"]["podSelector"], {})
        self.assertEqual(np["spec"]["policyTypes"], ["Ingress"])
        self.assertEqual(np["spec"]["ingress"], [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubesphere.io/workspace": "shop"}}},
            {"namespaceSelector": {"matchExpressions": [{"key": "kubesphere.io/workspace",
                                                         "operator": "DoesNotExist"}]}}]}])
        self.assertEqual(self.subjects("shop-qa", "wb:tenant-admin"), ["bob"])
        # profile defaults, the switch, dry run, and bad input
        path = os.path.join(self.home, ".config", "wb", "profiles", "t.yaml")
        with open(path, "a") as f:
            f.write("workspaces:\n  quota: {cpu: \"2\", memory: 3Gi}\n  limits: {cpu: 500m}\n  networkPolicy: false\n")
        r = self.as_user("admin", "workspace", "create", "shop-x", "--tenant", "shop", "--dry-run", "-o", "json")
        self.assertExit(r, 0)
        objs = {o["kind"]: o for o in json.loads(r.out)["items"]}
        self.assertEqual(sorted(objs), ["LimitRange", "Namespace", "ResourceQuota", "RoleBinding"])
        self.assertEqual(objs["ResourceQuota"]["spec"]["hard"]["limits.memory"], "3Gi")
        self.assertEqual(objs["LimitRange"]["spec"]["limits"][0]["default"]["cpu"], "500m")
        self.assertEqual(self.status_of("/api/v1/namespaces/shop-x"), 404)
        self.assertOneLineError(self.as_user("admin", "workspace", "create", "shop-qa", "--tenant", "shop"), 5,
                                "workspace 'shop-qa' already exists in tenant 'shop'")
        self.assertOneLineError(self.as_user("admin", "workspace", "create", "z-1", "--tenant", "nope"), 3,
                                "tenant 'nope' not found", "wb tenant create nope")
        self.assertOneLineError(self.as_user("admin", "workspace", "create", "z-2", "--tenant", "shop", "--cpu", "lots"),
                                2, "--cpu 'lots' is not a CPU quantity")
        self.assertEqual(self.status_of("/api/v1/namespaces/z-2"), 404)

    def test_a_tenant_admin_creates_workspaces_in_their_tenant(self):
        r = self.as_user("bob", "workspace", "create", "shop-bob", "--tenant", "shop", "--cpu", "2")
        self.assertExit(r, 0)
        self.assertIn("Created workspace 'shop-bob' in tenant 'shop'", r.out)
        self.addCleanup(self.as_user, "admin", "workspace", "delete", "shop-bob", "--yes")
        ns = self.get("/api/v1/namespaces/shop-bob")
        self.assertEqual(ns["metadata"]["labels"]["kubesphere.io/workspace"], "shop")
        self.assertEqual(ns["metadata"]["annotations"]["kubesphere.io/creator"], "bob")
        self.assertEqual(self.get("/api/v1/namespaces/shop-bob/resourcequotas/wb-quota")["spec"]["hard"]["limits.cpu"],
                         "2")
        self.assertEqual(self.status_of("/api/v1/namespaces/shop-bob/limitranges/wb-limits"), 200)
        self.assertEqual(self.status_of(
            "/apis/networking.k8s.io/v1/namespaces/shop-bob/networkpolicies/wb-tenant-isolation"), 200)
        self.assertEqual(self.subjects("shop-bob", "wb:tenant-admin"), ["bob"])
        # ... and decides who works there
        self.assertExit(self.as_user("bob", "member", "add", "dave", "--role", "developer", "-w", "shop-bob"), 0)
        self.assertEqual(self.subjects("shop-bob", "wb:developer"), ["dave"])
        # carol, admin of acme, can neither create workspaces in shop nor hand out roles in bob's
        self.assertForbidden(self.as_user("carol", "workspace", "create", "shop-carol", "--tenant", "shop"),
                             "you (carol) cannot create workspace shop-carol: you are not a tenant admin of 'shop'")
        self.assertForbidden(self.as_user("carol", "member", "add", "carol", "--role", "developer", "-w", "shop-bob"),
                             "you (carol) cannot")
        self.assertEqual(self.status_of(RBAC + "/namespaces/shop-bob/rolebindings/wb:developer"), 200)
        self.assertEqual(self.subjects("shop-bob", "wb:developer"), ["dave"])
        # a developer is no tenant admin: cannot create workspaces at all (plain RBAC)
        self.assertForbidden(self.as_user("dave", "workspace", "create", "shop-dave", "--tenant", "shop"),
                             "you (dave) cannot create workspaces")
        # bob deletes his workspace again
        r = self.as_user("bob", "workspace", "delete", "shop-bob", "--yes")
        self.assertExit(r, 0)

    def test_workspace_delete_asks_and_refuses_plain_namespaces(self):
        self.assertExit(self.as_user("admin", "workspace", "create", "shop-tmp", "--tenant", "shop"), 0)
        self.assertOneLineError(self.as_user("admin", "workspace", "delete", "shop-tmp"), 2, "needs confirmation",
                                "--yes")
        self.assertEqual(self.status_of("/api/v1/namespaces/shop-tmp"), 200)
        # bob (tenant admin of shop) may delete shop's workspace; carol (acme) may not
        self.assertForbidden(self.as_user("carol", "workspace", "delete", "shop-tmp", "--yes"),
                             "you (carol) cannot delete workspace shop-tmp: you have no role there",
                             "a tenant admin of the workspace's tenant can change that")
        r = self.as_user("bob", "workspace", "delete", "shop-tmp", "--yes")
        self.assertExit(r, 0)
        self.assertIn("Deleted workspace 'shop-tmp' of tenant 'shop'", r.out)
        st, ns = cluster.request("GET", "/api/v1/namespaces/shop-tmp")
        self.assertTrue(st == 404 or ns["status"]["phase"] == "Terminating", ns)
        self.assertOneLineError(self.as_user("admin", "workspace", "delete", "default", "--yes"), 2,
                                "namespace 'default' is not a workspace")
        self.assertOneLineError(self.as_user("admin", "workspace", "delete", "ghost", "--yes"), 3,
                                "workspace 'ghost' not found")

    def test_tenant_list_and_delete(self):
        r = self.as_user("admin", "tenant", "list", "-o", "json")
        self.assertExit(r, 0)
        tenants = {t["name"]: t for t in json.loads(r.out)}
        self.assertEqual(tenants["shop"]["admins"], ["bob"])
        self.assertIn("shop-dev", tenants["shop"]["workspaces"])
        self.assertIn("shop-prod", tenants["shop"]["workspaces"])
        self.assertEqual(tenants["acme"]["workspaces"], ["acme-dev"])
        self.assertFalse(tenants["shop"]["workspaceTemplate"])
        r = self.as_user("admin", "tenant", "list")
        self.assertIn("shop\tshop-dev,shop-prod\tbob\n", r.out.replace("shop-dev,shop-prod,shop-qa", "shop-dev,shop-prod"))
        self.assertOneLineError(self.as_user("admin", "tenant", "delete", "shop", "--yes"), 5,
                                "tenant 'shop' still has workspaces")
        self.assertExit(self.as_user("admin", "tenant", "create", "tmp", "--admin", "dave"), 0)
        self.assertOneLineError(self.as_user("admin", "tenant", "create", "tmp"), 5, "tenant 'tmp' already exists")
        self.assertEqual(self.status_of(RBAC + "/clusterrolebindings/wb:tenant:tmp"), 200)
        self.assertExit(self.as_user("admin", "tenant", "delete", "tmp", "--yes"), 0)
        self.assertEqual(self.status_of(RBAC + "/clusterrolebindings/wb:tenant:tmp"), 404)
        self.assertEqual(self.status_of(RBAC + "/clusterroles/wb:tenant:tmp"), 404)
        self.assertOneLineError(self.as_user("admin", "tenant", "delete", "tmp", "--yes"), 3, "tenant 'tmp' not found")
        self.assertForbidden(self.as_user("bob", "tenant", "create", "mine"), "you (bob) cannot", "the platform team")

    # ------------------------------------------------------------ members
    def test_member_add_list_rm(self):
        self.assertExit(self.as_user("admin", "workspace", "create", "shop-m", "--tenant", "shop"), 0)
        self.addCleanup(self.as_user, "admin", "workspace", "delete", "shop-m", "--yes")
        r = self.as_user("bob", "member", "add", "dave", "--role", "developer", "-w", "shop-m")
        self.assertExit(r, 0)
        self.assertIn("dave is now developer in workspace 'shop-m'", r.out)
        self.assertEqual(self.subjects("shop-m", "wb:developer"), ["dave"])
        # one role per workspace: viewer replaces developer (the emptied binding goes)
        self.assertExit(self.as_user("bob", "member", "add", "dave", "--role", "viewer", "-w", "shop-m"), 0)
        self.assertEqual(self.subjects("shop-m", "wb:viewer"), ["dave"])
        self.assertEqual(self.status_of(RBAC + "/namespaces/shop-m/rolebindings/wb:developer"), 404)
        self.assertExit(self.as_user("bob", "member", "add", "group:qa", "--role", "developer", "-w", "shop-m"), 0)
        r = self.as_user("bob", "member", "list", "-w", "shop-m", "-o", "json")
        self.assertExit(r, 0)
        rows = {(m["member"], m["kind"], m["role"]) for m in json.loads(r.out)}
        self.assertEqual(rows, {("bob", "User", "tenant-admin"), ("dave", "User", "viewer"),
                                ("group:qa", "Group", "developer")})
        r = self.as_user("bob", "member", "list", "-w", "shop-m")
        self.assertIn("dave\tUser\tviewer\tshop-m", r.out)
        # KubeSphere names are refused without KubeSphere, saying why
        self.assertOneLineError(self.as_user("bob", "member", "add", "dave", "--role", "workspace-regular", "-w",
                                             "shop-m"), 2, "KubeSphere role name", "KubeSphere is not installed",
                                "use developer")
        self.assertOneLineError(self.as_user("bob", "member", "add", "dave", "--role", "boss", "-w", "shop-m"), 2,
                                "unknown role 'boss'")
        r = self.as_user("bob", "member", "rm", "dave", "-w", "shop-m")
        self.assertExit(r, 0)
        self.assertEqual(self.status_of(RBAC + "/namespaces/shop-m/rolebindings/wb:viewer"), 404)
        self.assertOneLineError(self.as_user("bob", "member", "rm", "dave", "-w", "shop-m"), 3,
                                "dave has no role in workspace 'shop-m'")
        # tenant-wide: a second tenant admin lands in the ClusterRoleBinding and every workspace
        self.assertExit(self.as_user("bob", "member", "add", "erin", "--role", "tenant-admin", "--tenant", "shop"), 0)
        crb = self.get(RBAC + "/clusterrolebindings/wb:tenant:shop")
        self.assertEqual(sorted(s["name"] for s in crb["subjects"]), ["bob", "erin"])
        for ws in ("shop-dev", "shop-prod", "shop-m"):
            self.assertIn("erin", self.subjects(ws, "wb:tenant-admin"))
        r = self.as_user("bob", "member", "list", "--tenant", "shop", "-o", "json")
        self.assertIn({"member": "erin", "kind": "User", "role": "tenant-admin", "workspace": "", "tenant": "shop"},
                      json.loads(r.out))
        self.assertExit(self.as_user("bob", "member", "rm", "erin", "--tenant", "shop"), 0)
        crb = self.get(RBAC + "/clusterrolebindings/wb:tenant:shop")
        self.assertEqual([s["name"] for s in crb["subjects"]], ["bob"])
        self.assertNotIn("erin", self.subjects("shop-dev", "wb:tenant-admin"))

    def test_a_tenant_admin_cannot_touch_another_tenant(self):
        r = self.as_user("bob", "member", "add", "dave", "--role", "developer", "-w", "acme-dev")
        # bob cannot even read acme-dev, so the tenant is not named
        # (bob may create RoleBindings anywhere for his own new workspaces, so the cluster's escalation
        # check is what refuses first)
        self.assertForbidden(r, "you (bob) cannot give that role: it grants more than you may hand out there")
        self.assertEqual(self.status_of(RBAC + "/namespaces/acme-dev/rolebindings/wb:developer"), 404)
        self.assertForbidden(self.as_user("bob", "member", "list", "-w", "acme-dev"), "you (bob) cannot see members")
        self.assertForbidden(self.as_user("bob", "member", "add", "bob", "--role", "tenant-admin", "--tenant", "acme"),
                             "you (bob) cannot")
        self.assertEqual([s["name"] for s in self.get(RBAC + "/clusterrolebindings/wb:tenant:acme")["subjects"]],
                         ["carol"])
        self.assertForbidden(self.as_user("bob", "robot", "create", "ci", "-w", "acme-dev"), "you (bob) cannot")
        # a workspace in another tenant: refused by the boundary policy, nothing left behind
        self.assertForbidden(self.as_user("bob", "workspace", "create", "acme-bob", "--tenant", "acme"),
                             "you (bob) cannot create workspace acme-bob: you are not a tenant admin of 'acme'",
                             "a tenant admin of 'acme' or the platform team can do it")
        self.assertEqual(self.status_of("/api/v1/namespaces/acme-bob"), 404)
        # Enforced by the cluster, not by wb: straight API calls with bob's token.
        tok = USERS["bob"]

        def rb(ns, role, user="dave"):
            return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": "sneaky-" + role.replace(":", "-"), "namespace": ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                    "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]}
        status, body = cluster.request("POST", RBAC + "/namespaces/acme-dev/rolebindings", rb("acme-dev", "wb:developer"),
                                       token=tok)
        self.assertEqual(status, 403, body)
        # bob may create namespaces and RoleBindings cluster-wide (to make his own workspaces); the
        # boundary policy keeps that inside tenant shop: not in acme's workspaces, not in namespaces of
        # no tenant, no namespace outside shop, no moving a workspace out of shop
        status, body = cluster.request("POST", RBAC + "/namespaces/acme-dev/rolebindings",
                                       rb("acme-dev", "wb:tenant-admin", user="bob"), token=tok)
        self.assertEqual(status, 403, body)
        self.assertIn("you (bob) cannot manage members in workspace acme-dev: you are not a tenant admin of 'acme'",
                      body["message"])
        status, body = cluster.request("POST", RBAC + "/namespaces/default/rolebindings",
                                       rb("default", "wb:tenant-admin", user="bob"), token=tok)
        self.assertEqual(status, 403, body)
        self.assertIn("it belongs to no tenant", body["message"])
        for labels in ({}, {"kubesphere.io/workspace": "acme"}):
            status, body = cluster.request("POST", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bobs-own", "labels": labels}}, token=tok)
            self.assertEqual(status, 403, body)
            self.assertEqual(body["reason"], "Forbidden")
            self.assertIn("ValidatingAdmissionPolicy 'wb-tenant-boundaries'", body["message"])
        self.assertEqual(self.status_of("/api/v1/namespaces/bobs-own"), 404)
        ns = self.get("/api/v1/namespaces/shop-dev")
        ns["metadata"]["labels"]["kubesphere.io/workspace"] = "acme"
        status, body = cluster.request("PUT", "/api/v1/namespaces/shop-dev", ns, token=tok)
        self.assertEqual(status, 403, body)
        self.assertEqual(self.get("/api/v1/namespaces/shop-dev")["metadata"]["labels"]["kubesphere.io/workspace"], "shop")
        # in his own workspace he may not hand out more than wb's roles (escalation prevention)
        status, body = cluster.request("POST", RBAC + "/namespaces/shop-dev/rolebindings",
                                       rb("shop-dev", "cluster-admin"), token=tok)
        self.assertEqual(status, 403, body)
        self.assertIn("attempting to grant RBAC permissions not currently held", body["message"])
        # nor widen his own tenant role
        cr = self.get(RBAC + "/clusterroles/wb:tenant:shop")
        cr["rules"].append({"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create", "delete"]})
        self.assertEqual(cluster.request("PUT", RBAC + "/clusterroles/wb:tenant:shop", cr, token=tok)[0], 403)
        # bind a wb role in his own workspace: fine
        status, body = cluster.request("POST", RBAC + "/namespaces/shop-dev/rolebindings", rb("shop-dev", "wb:viewer"),
                                       token=tok)
        self.assertEqual(status, 201, body)
        cluster.request("DELETE", RBAC + "/namespaces/shop-dev/rolebindings/sneaky-wb-viewer")

    # ------------------------------------------------------------ developers and viewers
    def test_developer_pushes_and_configs_in_dev_but_not_in_prod(self):
        self.assertExit(self.as_user("bob", "member", "add", "alice", "--role", "developer", "-w", "shop-dev"), 0)
        self.assertExit(self.as_user("bob", "member", "add", "alice", "--role", "viewer", "-w", "shop-prod"), 0)
        r = self.as_user("alice", "-w", "shop-dev", "app", "create", "cart")
        self.assertExit(r, 0)
        r = self.as_user("alice", "-w", "shop-dev", "push", "jar", os.path.join(jars, "boot.jar"), "--app", "cart")
        self.assertExit(r, 0)
        self.assertIn("/shop/cart@sha256:", r.out)
        r = self.as_user("alice", "-w", "shop-dev", "config", "set", "cart", "MODE=dev")
        self.assertExit(r, 0)
        # shop-prod: she is a viewer there
        self.app_in("shop-prod", "cart")
        r = self.as_user("alice", "-w", "shop-prod", "push", "jar", os.path.join(jars, "boot.jar"), "--app", "cart")
        self.assertForbidden(r, "you (alice) cannot deploy in workspace shop-prod: you are a viewer there; "
                                "a tenant admin of 'shop' can change that")
        r = self.as_user("alice", "-w", "shop-prod", "config", "set", "cart", "MODE=prod")
        self.assertForbidden(r, "you (alice) cannot change config in workspace shop-prod: you are a viewer there")
        r = self.as_user("alice", "-w", "shop-prod", "app", "create", "other")
        self.assertForbidden(r, "you (alice) cannot create apps in workspace shop-prod: you are a viewer there")
        # with no role at all (acme-dev) the namespace is unreadable too, so the tenant goes unnamed
        r = self.as_user("alice", "-w", "acme-dev", "app", "create", "x")
        self.assertForbidden(r, "you (alice) cannot see apps in workspace acme-dev: you have no role there; "
                                "a tenant admin of the workspace's tenant can change that")

    def test_viewer_reads_logs_but_cannot_change_config(self):
        self.app_in("shop-dev", "shipping", start=True)
        self.assertExit(self.as_user("bob", "member", "add", "victor", "--role", "viewer", "-w", "shop-dev"), 0)
        r = self.as_user("victor", "-w", "shop-dev", "logs", "shipping", "--tail", "5")
        self.assertExit(r, 0)
        self.assertIn("Starting", r.out)
        self.assertExit(self.as_user("victor", "-w", "shop-dev", "app", "status", "shipping"), 0)
        r = self.as_user("victor", "-w", "shop-dev", "config", "set", "shipping", "A=1")
        self.assertForbidden(r, "you (victor) cannot change config in workspace shop-dev: you are a viewer there; "
                                "a tenant admin of 'shop' can change that")
        r = self.as_user("victor", "-w", "shop-dev", "app", "stop", "shipping")
        self.assertForbidden(r, "you (victor) cannot", "you are a viewer there")

    # ------------------------------------------------------------ robots
    def test_robot_kubeconfig_pushes_and_configs_and_nothing_else(self):
        self.app_in("shop-dev", "billing")
        r = self.as_user("bob", "-w", "shop-dev", "robot", "create", "ci")
        self.assertExit(r, 0)
        self.addCleanup(cluster.request, "DELETE", "/api/v1/namespaces/shop-dev/serviceaccounts/ci")
        kc = yaml.safe_load(r.out)
        self.assertEqual(kc["clusters"][0]["cluster"]["server"], cluster.server)
        with open(cluster.ca) as f:
            import base64
            self.assertEqual(base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]).decode(),
                             f.read())
        self.assertEqual(kc["contexts"][0]["context"]["namespace"], "shop-dev")
        sa = self.get("/api/v1/namespaces/shop-dev/serviceaccounts/ci")
        self.assertEqual(sa["metadata"]["labels"]["wb.dev/robot"], "ci")
        b = self.get(RBAC + "/namespaces/shop-dev/rolebindings/wb:robot:ci")
        self.assertEqual(b["roleRef"]["name"], "wb:deployer")
        self.assertEqual(b["subjects"], [{"kind": "ServiceAccount", "name": "ci", "namespace": "shop-dev"}])
        path = os.path.join(self.home, "robot-kubeconfig")
        with open(path, "w") as f:
            f.write(r.out)
        self.write_profile()
        env = {"WB_PROFILE": "t"}
        ci = lambda *a: self.wb("--kubeconfig", path, *a, env=env)  # noqa: E731
        r = ci("push", "jar", os.path.join(jars, "boot.jar"), "--app", "billing")
        self.assertExit(r, 0)
        dep = self.get("/apis/apps/v1/namespaces/shop-dev/deployments/billing")
        self.assertEqual(dep["spec"]["template"]["spec"]["containers"][0]["image"], r.out.strip())
        self.assertExit(ci("config", "set", "billing", "MODE=ci"), 0)
        self.assertExit(ci("app", "status", "billing"), 0)
        # nothing else
        self.assertForbidden(ci("app", "delete", "billing", "--yes"),
                             "you (robot 'ci' of shop-dev) cannot", "you are a deployer there")
        self.assertEqual(self.status_of("/apis/apps/v1/namespaces/shop-dev/deployments/billing"), 200)
        self.assertForbidden(ci("member", "add", "dave", "--role", "developer"), "you (robot 'ci' of shop-dev) cannot",
                             "manage members")
        self.assertForbidden(ci("app", "create", "new"), "cannot create apps")
        self.app_in("shop-prod", "billing")
        self.assertForbidden(ci("-w", "shop-prod", "config", "set", "billing", "MODE=x"),
                             "cannot see apps in workspace shop-prod: you have no role there")
        self.assertForbidden(ci("-w", "shop-prod", "push", "jar", os.path.join(jars, "boot.jar"), "--app", "billing"),
                             "cannot deploy in workspace shop-prod: you have no role there")
        # -o json and --token; rm revokes the token
        r = self.as_user("bob", "-w", "shop-dev", "robot", "create", "ci2", "-o", "json")
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertEqual((doc["name"], doc["workspace"], doc["role"]), ("ci2", "shop-dev", "deployer"))
        self.assertIn(doc["token"], doc["kubeconfig"])
        self.assertOneLineError(self.as_user("bob", "-w", "shop-dev", "robot", "create", "ci2"), 5,
                                "robot 'ci2' already exists")
        self.assertOneLineError(self.as_user("bob", "-w", "shop-dev", "robot", "rm", "ci2"), 2, "needs confirmation")
        self.assertExit(self.as_user("bob", "-w", "shop-dev", "robot", "rm", "ci2", "--yes"), 0)
        status, _ = cluster.request("GET", "/api/v1/namespaces/shop-dev/pods", token=doc["token"])
        self.assertEqual(status, 401)
        self.assertEqual(self.status_of("/api/v1/namespaces/shop-dev/secrets/ci2-token"), 404)
        self.assertEqual(self.status_of(RBAC + "/namespaces/shop-dev/rolebindings/wb:robot:ci2"), 404)
        # the token is on stdout only: a -vvv trace redacts it
        r = self.as_user("bob", "-w", "shop-dev", "robot", "create", "ci4", "-vvv")
        self.assertExit(r, 0)
        token = yaml.safe_load(r.out)["users"][0]["user"]["token"]
        self.assertGreater(len(token), 20)
        self.assertIn("ci4-token", r.err)
        self.assertNotIn(token, r.err)
        r = self.as_user("bob", "-w", "shop-dev", "robot", "create", "ci3", "--role", "viewer", "--token")
        self.assertExit(r, 0)
        self.assertEqual(cluster.request("GET", "/api/v1/namespaces/shop-dev/pods", token=r.out.strip())[0], 200)
        self.assertOneLineError(self.as_user("bob", "-w", "shop-dev", "robot", "create", "x", "--role",
                                             "tenant-admin"), 2, "robots cannot be tenant admins")
        # the list: every robot of the workspace with its role; a viewer sees them too (no tokens)
        r = self.as_user("bob", "-w", "shop-dev", "robot", "list", "-o", "json")
        self.assertExit(r, 0)
        robots = {x["name"]: x for x in json.loads(r.out)}
        self.assertEqual({n: (x["role"], x["token"]) for n, x in robots.items()},
                         {"ci": ("deployer", True), "ci3": ("viewer", True), "ci4": ("deployer", True)})
        self.assertTrue(robots["ci"]["created"].endswith("Z"), robots["ci"])
        r = self.as_user("bob", "-w", "shop-dev", "robot", "list")
        self.assertExit(r, 0)
        self.assertIn("ci3\tviewer\tyes\t", r.out)
        self.assertEqual(self.as_user("bob", "-w", "shop-dev", "robot", "ls", "-o", "name").out.split(),
                         ["robot/ci", "robot/ci3", "robot/ci4"])
        self.assertOneLineError(self.as_user("admin", "-w", "ghost-ws", "robot", "list"), 3, "workspace 'ghost-ws'")
        self.assertForbidden(self.as_user("carol", "-w", "shop-dev", "robot", "list"), "you (carol) cannot")


@unittest.skipIf(REAL_KUBECONFIG, "needs the fake API server with KubeSphere's tenant API switched on")
class OnKubeSphere(WbTestCase):
    @classmethod
    def setUpClass(cls):
        cls.ks = FakeCluster(kubesphere=True, tokens=[(USERS["bob"], "bob", [])])

    @classmethod
    def tearDownClass(cls):
        cls.ks.stop()

    def test_workspace_template_and_role_aliases(self):
        ks = self.ks
        run = lambda *a, kc=None: self.wb("--kubeconfig", kc or ks.kubeconfig, *a)  # noqa: E731
        self.assertExit(run("platform", "init"), 0)
        r = run("tenant", "create", "shop", "--admin", "bob")
        self.assertExit(r, 0)
        self.assertIn("WorkspaceTemplate", r.out)
        status, wt = ks.request("GET", "/apis/tenant.kubesphere.io/v1alpha2/workspacetemplates/shop")
        self.assertEqual(status, 200, wt)
        self.assertEqual(wt["spec"]["template"]["spec"]["manager"], "bob")
        self.assertExit(run("workspace", "create", "shop-dev", "--tenant", "shop"), 0)
        bob = ks.kubeconfig_for(os.path.join(self.home, "kc-bob"), token=USERS["bob"])
        for alias, role in (("workspace-regular", "developer"), ("workspace-viewer", "viewer"),
                            ("operator", "developer"), ("admin", "tenant-admin"), ("viewer", "viewer")):
            r = run("member", "add", "zoe", "--role", alias, "-w", "shop-dev", kc=bob)
            self.assertExit(r, 0)
            r = run("member", "list", "-w", "shop-dev", "-o", "json", kc=bob)
            self.assertIn({"member": "zoe", "kind": "User", "role": role, "workspace": "shop-dev"}, json.loads(r.out))
        self.assertExit(run("member", "add", "yan", "--role", "workspace-admin", "--tenant", "shop"), 0)
        status, crb = ks.request("GET", RBAC + "/clusterrolebindings/wb:tenant:shop")
        self.assertEqual(sorted(s["name"] for s in crb["subjects"]), ["bob", "yan"])
        r = run("tenant", "list", "-o", "json")
        self.assertTrue(json.loads(r.out)[0]["workspaceTemplate"])
        self.assertExit(run("workspace", "delete", "shop-dev", "--yes"), 0)
        ks.request("POST", "/fake/v1/settings", {"namespaceDeleteDelay": 0})
        for _ in range(50):
            if ks.request("GET", "/api/v1/namespaces/shop-dev")[0] == 404:
                break
            import time
            time.sleep(0.1)
        self.assertExit(run("tenant", "delete", "shop", "--yes"), 0)
        self.assertEqual(ks.request("GET", "/apis/tenant.kubesphere.io/v1alpha2/workspacetemplates/shop")[0], 404)


if __name__ == "__main__":
    unittest.main()
