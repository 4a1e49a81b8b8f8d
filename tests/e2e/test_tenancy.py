"""Tenants, workspaces, members, roles and robots end to end, enforced by the cluster's RBAC (with
escalation prevention) and its ValidatingAdmissionPolicy admission: the platform team sets up
tenants, tenant admins make their workspaces (only in their tenant) and give roles, a developer
deploys and configs in shop-dev but is refused in shop-prod (in words, exit 4), a viewer reads logs
but cannot change config, a tenant admin of one tenant cannot touch another (not through wb, not
through the API), a robot's kubeconfig works for `wb push jar` and `wb config set` and nothing
else, and everyone sees their own workspaces and roles (membership records) and nobody else's.
KubeSphere detection both ways (--kubesphere on the fake).

On a real cluster (WB_TEST_KUBECONFIG) the users are real (client certificates from
CertificateSigningRequests), tenants, workspaces and users carry the run id in their names (the
cluster may be shared), the boundary and records policies are the apiserver's own CEL, and pushes go
to WB_TEST_REGISTRY. What the run made is removed at the end; `wb platform init`'s objects are
removed by scripts/test-real.sh."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
sys.path.insert(0, os.path.dirname(__file__))
from wbtest import (FakeCluster, WbTestCase, REAL_KUBECONFIG, REAL_REGISTRY, RUN_ID, WB_BIN,  # noqa: E402
                    real_images)
import test_push_jar as pj  # noqa: E402  (its base-image and skopeo helpers)

REAL = bool(REAL_KUBECONFIG)
# Names of cluster-wide things (tenants, workspaces, users) are unique per run on a real cluster.
SFX = "-" + RUN_ID.lower() if REAL else ""


def n(name):
    return name + SFX


SHOP, ACME = n("shop"), n("acme")
DEV, PROD, ADEV = n("shop-dev"), n("shop-prod"), n("acme-dev")
U = {u: n(u) for u in ("alice", "victor", "bob", "carol", "dave", "erin", "xavier")}
USERS = {u: "tok-%s-0123456789" % u for u in ("alice", "victor", "bob", "carol", "dave", "xavier")}
RBAC = "/apis/rbac.authorization.k8s.io/v1"
RECORDS = "wb-system"  # the namespace of the membership records

cluster = None
registry = None
jars = None
push = {}          # registry host, project and base image the profile names
admin_name = None  # who the admin kubeconfig is (kubesphere.io/creator)
made_tenants = []  # real mode: removed at the end


def admin_wb(*args):
    env = {"HOME": tempfile.gettempdir(), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    p = subprocess.run([WB_BIN, "--kubeconfig", cluster.kubeconfig] + list(args), capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 0, "wb %s: %s %s" % (" ".join(args), p.stdout, p.stderr)
    return p.stdout


def make_tenant(name, *args):
    admin_wb("tenant", "create", name, *args)
    made_tenants.append(name)


def make_workspace(name, tenant):
    admin_wb("workspace", "create", name, "--tenant", tenant)
    cluster.adopt_namespace(name)


def setUpModule():
    global cluster, registry, jars, admin_name
    cluster = FakeCluster(tokens=[(tok, U[user], ["staff"]) for user, tok in USERS.items()])
    if not cluster.real:
        status, body = cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
        assert status == 200, body
    status, body = cluster.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                   {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert status == 201, body
    admin_name = body["status"]["userInfo"]["username"]
    admin_wb("platform", "init")  # cluster-wide; scripts/test-real.sh removes what a run added
    make_tenant(SHOP, "--admin", U["bob"])
    make_tenant(ACME, "--admin", U["carol"])
    for ws, tenant in ((DEV, SHOP), (PROD, SHOP), (ADEV, ACME)):
        make_workspace(ws, tenant)
    jars, registry = pj.jars_and_registry("wb-tenancy-jars-")
    if cluster.real:
        # The apps pushed to here stay stopped, so a tiny base will do; the node pulls from here.
        base = "%s/wb-test/tenancy-base:17" % REAL_REGISTRY
        pj.skopeo("copy", "--dest-tls-verify=false", "oci:%s:17" % os.path.join(jars, "base-layout"),
                  "docker://" + base)
        push.update(host=REAL_REGISTRY, project="wb-test/shop", base=base)
    else:
        push.update(host=registry.host, project="shop", base="%s/base/java:17" % registry.host)


def tearDownModule():
    if registry:
        registry.stop()
    if cluster and cluster.real:
        # What wb made besides namespaces: tenants' roles and bindings, membership records.
        for t in made_tenants:
            for kind in ("clusterrolebindings", "clusterroles"):
                cluster.request("DELETE", "%s/%s/wb:tenant:%s" % (RBAC, kind, t))
            cluster.request("DELETE", "%s/namespaces/%s/rolebindings/wb:tenant:%s" % (RBAC, RECORDS, t))
        for ns in cluster.namespaces:
            for role in ("developer", "viewer", "deployer", "tenant-admin"):
                for kind in ("rolebindings", "roles"):
                    cluster.request("DELETE", "%s/namespaces/%s/%s/wb:member:%s:%s" % (RBAC, RECORDS, kind, ns, role))
    if cluster:
        cluster.stop()
    if jars:
        shutil.rmtree(jars, ignore_errors=True)


class TenancyCase(WbTestCase):
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
            f.write("registry:\n  host: %s\n  project: %s\n  insecure: true\nbaseImages:\n  \"17\": %s\n"
                    % (push["host"], push["project"], push["base"]))

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
            image = real_images()["server"] if cluster.real else "registry.local/shop/orders@sha256:" + "a" * 64
            status, body = cluster.set_app_image(ns, app, image)
            self.assertEqual(status, 200, body)
            self.assertExit(self.as_user("admin", "-w", ns, "app", "start", app, "--timeout", "120s"), 0)

    def workspace_create(self, user, name, tenant, *args):
        """`wb workspace create` as USER; the namespace is the run's to delete."""
        cluster.adopt_namespace(name)
        return self.as_user(user, "workspace", "create", name, "--tenant", tenant, *args)

    def wait_until(self, what, check, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if check():
                return
            time.sleep(0.2)
        self.fail("timed out waiting until " + what)


class Tenancy(TenancyCase):
    # ------------------------------------------------------------ platform, tenants, workspaces
    def test_platform_init_is_idempotent_and_has_a_dry_run(self):
        # On a real cluster `wb platform init` ran in setUpModule (and other modules may run it at the
        # same time): the platform objects exist already, and changing the shared roles and policy
        # here would break those modules, so that part is proved on a fresh fake only.
        fresh = cluster if cluster.real else FakeCluster()
        if not cluster.real:
            self.addCleanup(fresh.stop)
        r = self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "--dry-run", "-o", "yaml")
        self.assertExit(r, 0)
        docs = [d for d in yaml.safe_load_all(r.out) if d]
        platform = [("ClusterRole", "wb:developer"), ("ClusterRole", "wb:viewer"), ("ClusterRole", "wb:deployer"),
                    ("ClusterRole", "wb:tenant-admin"), ("ClusterRole", "wb:member-records"),
                    ("Namespace", RECORDS), ("Role", "wb:records"), ("RoleBinding", "wb:records"),
                    ("ValidatingAdmissionPolicy", "wb-tenant-boundaries"),
                    ("ValidatingAdmissionPolicyBinding", "wb-tenant-boundaries"),
                    ("ValidatingAdmissionPolicy", "wb-member-records"),
                    ("ValidatingAdmissionPolicyBinding", "wb-member-records")]
        listed = [(d["kind"], d["metadata"]["name"]) for d in docs]
        self.assertEqual(listed[:len(platform)], platform)
        # then the tenants that exist (a real cluster has this run's, and maybe others')
        for kind, name in listed[len(platform):]:
            self.assertIn(kind, ("ClusterRole", "RoleBinding"))
            self.assertTrue(name.startswith("wb:tenant:"), name)
        if not cluster.real:
            self.assertEqual(len(listed), len(platform))
            self.assertEqual(fresh.request("GET", RBAC + "/clusterroles/wb:developer")[0], 404)  # dry run wrote nothing
            self.assertEqual(fresh.request("GET", "/api/v1/namespaces/" + RECORDS)[0], 404)
            r = self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json")
            self.assertExit(r, 0)
            self.assertEqual({x["result"] for x in json.loads(r.out)}, {"created"})
        else:
            self.assertExit(self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json"), 0)
        status, dev = fresh.request("GET", RBAC + "/clusterroles/wb:developer")
        self.assertEqual(status, 200)
        self.assertEqual(dev["metadata"]["labels"]["wb.dev/role"], "developer")
        # Again: nothing to change. On a real server this proves that what the apiserver adds to the
        # objects (defaults of the policies: matchPolicy, empty selectors, ...) is not taken for a change.
        r = self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json")
        self.assertExit(r, 0)
        results = json.loads(r.out)
        if cluster.real:  # tenants of modules running meanwhile may be changing: the platform's objects
            results = results[:len(platform)]
        self.assertEqual({x["result"] for x in results}, {"unchanged"}, r.out)
        if not cluster.real:
            # a changed role is put back
            dev["rules"] = dev["rules"][:1]
            self.assertEqual(fresh.request("PUT", RBAC + "/clusterroles/wb:developer", dev)[0], 200)
            r = self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json")
            self.assertEqual([x["result"] for x in json.loads(r.out)], ["configured"] + ["unchanged"] * 11)
            self.assertGreater(len(fresh.request("GET", RBAC + "/clusterroles/wb:developer")[1]["rules"]), 1)
        # existing tenants' roles are brought up to date too (e.g. made before the policy existed)
        t1 = n("t1")
        self.assertExit(self.wb("--kubeconfig", fresh.kubeconfig, "tenant", "create", t1), 0)
        made_tenants.append(t1)
        self.addCleanup(self.wb, "--kubeconfig", fresh.kubeconfig, "tenant", "delete", t1, "--yes")
        path = RBAC + "/clusterroles/wb:tenant:" + t1
        role = fresh.request("GET", path)[1]
        full = role["rules"]
        self.assertIn({"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create"]}, full)
        role["rules"] = [x for x in full if x["resources"] != ["namespaces"] or x["verbs"] != ["create"]]
        self.assertEqual(fresh.request("PUT", path, role)[0], 200)
        # and a tenant's right to write its records, if it went missing
        self.assertEqual(fresh.request("DELETE", "%s/namespaces/%s/rolebindings/wb:tenant:%s" % (RBAC, RECORDS, t1))[0],
                         200)
        r = self.wb("--kubeconfig", fresh.kubeconfig, "platform", "init", "-o", "json")
        results = json.loads(r.out)
        self.assertIn({"kind": "ClusterRole", "name": "wb:tenant:" + t1, "role": "tenant " + t1,
                       "result": "configured"}, results)
        self.assertIn({"kind": "RoleBinding", "name": "wb:tenant:" + t1, "role": "tenant " + t1,
                       "result": "created"}, results)
        self.assertEqual(fresh.request("GET", path)[1]["rules"], full)
        # the policy: fields a real server defaults are no change; a weakened validation is put back
        if not cluster.real:
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
        # a real server type-checks the policies' CEL: no warnings
        for name in ("wb-tenant-boundaries", "wb-member-records"):
            status, policy = fresh.request(
                "GET", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/" + name)
            self.assertEqual(status, 200, policy)
            self.assertFalse((policy.get("status") or {}).get("typeChecking", {}).get("expressionWarnings"), policy)
        # not the platform team: refused in words
        kc = fresh.kubeconfig_for(os.path.join(self.home, "kc-x"), cert=fresh.issue_cert(U["xavier"]))
        r = self.wb("--kubeconfig", kc, "platform", "init")
        self.assertForbidden(r, "you (%s) cannot" % U["xavier"], "cluster-wide", "the platform team")

    def test_without_admission_policies_only_the_platform_team_creates_workspaces(self):
        cluster.skip_unless_fake(self, "a Kubernetes 1.18 server, without ValidatingAdmissionPolicy")
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
        # before EndpointSlices (1.21) developers write Endpoints for external routes
        dev = old.request("GET", RBAC + "/clusterroles/wb:developer")[1]["rules"]
        self.assertIn({"apiGroups": [""], "resources": ["endpoints"],
                       "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}, dev)
        old.request("POST", "/fake/v1/tokens", {"token": USERS["bob"], "user": "bob", "groups": []})
        kc = old.kubeconfig_for(os.path.join(self.home, "kc-old-bob"), token=USERS["bob"])
        self.assertForbidden(self.wb("--kubeconfig", kc, "workspace", "create", "shop-dev", "--tenant", "shop"),
                             "you (bob) cannot create workspaces: that needs a cluster-wide permission")
        self.assertExit(self.wb("--kubeconfig", old.kubeconfig, "workspace", "create", "shop-dev", "--tenant", "shop"), 0)
        self.assertEqual(old.request("GET", "/api/v1/namespaces/shop-dev")[0], 200)
        # bob still keeps the records of his tenant's workspaces (RBAC alone confines nothing more here)
        r = self.wb("--kubeconfig", kc, "member", "add", "alice", "--role", "developer", "-w", "shop-dev")
        self.assertExit(r, 0)
        self.assertEqual(r.err, "")
        status, rb = old.request("GET", "%s/namespaces/%s/rolebindings/wb:member:shop-dev:developer" % (RBAC, RECORDS))
        self.assertEqual(status, 200, rb)
        self.assertEqual([s["name"] for s in rb["subjects"]], ["alice"])

    def test_a_cluster_that_keeps_no_records_says_so(self):
        # A cluster set up by a wb before membership records: no records namespace until the platform
        # team runs `wb platform init` again. A real cluster shared with other runs keeps its records.
        cluster.skip_unless_fake(self, "a cluster without wb's membership records: deleting wb-system would break "
                                       "the modules sharing the cluster")
        old = FakeCluster()
        self.addCleanup(old.stop)
        self.assertExit(self.wb("--kubeconfig", old.kubeconfig, "platform", "init"), 0)
        self.assertEqual(old.request("DELETE", "/api/v1/namespaces/" + RECORDS)[0], 200)
        old.request("POST", "/fake/v1/settings", {"namespaceDeleteDelay": 0})
        for _ in range(50):
            if old.request("GET", "/api/v1/namespaces/" + RECORDS)[0] == 404:
                break
            time.sleep(0.1)
        self.assertExit(self.wb("--kubeconfig", old.kubeconfig, "tenant", "create", "shop", "--admin", "bob"), 0)
        self.assertExit(self.wb("--kubeconfig", old.kubeconfig, "workspace", "create", "shop-dev", "--tenant", "shop"), 0)
        r = self.wb("--kubeconfig", old.kubeconfig, "member", "add", "alice", "--role", "developer", "-w", "shop-dev")
        self.assertExit(r, 0)  # the member is added; the record could not be
        self.assertIn("warning: this cluster keeps no membership records yet (no namespace wb-system)", r.err)
        self.assertIn("wb platform init", r.err)
        old.request("POST", "/fake/v1/tokens", {"token": "tok-alice-old", "user": "alice", "groups": []})
        kc = old.kubeconfig_for(os.path.join(self.home, "kc-old-alice"), token="tok-alice-old")
        r = self.wb("--kubeconfig", kc, "workspace", "list")
        self.assertForbidden(r, "you may not list workspaces in this cluster")
        self.assertIn("keeps no record of who works where", r.err)
        self.assertIn("wb platform init", r.err)
        # the platform team runs it: the records are written for the workspaces there are
        r = self.wb("--kubeconfig", old.kubeconfig, "platform", "init")
        self.assertExit(r, 0)
        r = self.wb("--kubeconfig", kc, "workspace", "list", "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual([(w["name"], w["role"]) for w in json.loads(r.out)], [("shop-dev", "developer")])

    def test_workspace_objects_field_by_field(self):
        qa, x, z1, z2 = n("shop-qa"), n("shop-x"), n("z-1"), n("z-2")
        r = self.workspace_create("admin", qa, SHOP, "--cpu", "4", "--memory", "8Gi")
        self.assertExit(r, 0)
        self.assertIn("Created workspace '%s' in tenant '%s'" % (qa, SHOP), r.out)
        self.addCleanup(self.as_user, "admin", "workspace", "delete", qa, "--yes")
        ns = self.get("/api/v1/namespaces/" + qa)
        self.assertEqual(ns["metadata"]["labels"]["kubesphere.io/workspace"], SHOP)
        self.assertEqual(ns["metadata"]["labels"]["app.kubernetes.io/managed-by"], "wb")
        self.assertEqual(ns["metadata"]["annotations"]["kubesphere.io/creator"], admin_name)
        q = self.get("/api/v1/namespaces/%s/resourcequotas/wb-quota" % qa)
        self.assertEqual(q["spec"]["hard"], {"requests.cpu": "4", "limits.cpu": "4", "requests.memory": "8Gi",
                                             "limits.memory": "8Gi"})
        lr = self.get("/api/v1/namespaces/%s/limitranges/wb-limits" % qa)
        self.assertEqual(lr["spec"]["limits"], [{"type": "Container", "default": {"cpu": "1", "memory": "1Gi"},
                                                 "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}])
        np = self.get("/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies/wb-tenant-isolation" % qa)
        self.assertEqual(np["spec"]["podSelector"], {})
        self.assertEqual(np["spec"]["policyTypes"], ["Ingress"])
        self.assertEqual(np["spec"]["ingress"], [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubesphere.io/workspace": SHOP}}},
            {"namespaceSelector": {"matchExpressions": [{"key": "kubesphere.io/workspace",
                                                         "operator": "DoesNotExist"}]}}]}])
        self.assertEqual(self.subjects(qa, "wb:tenant-admin"), [U["bob"]])
        # the tenant admins' membership record
        self.assertEqual(self.subjects(RECORDS, "wb:member:%s:tenant-admin" % qa), [U["bob"]])
        # profile defaults, the switch, dry run, and bad input
        path = os.path.join(self.home, ".config", "wb", "profiles", "t.yaml")
        with open(path, "a") as f:
            f.write("workspaces:\n  quota: {cpu: \"2\", memory: 3Gi}\n  limits: {cpu: 500m}\n  networkPolicy: false\n")
        r = self.as_user("admin", "workspace", "create", x, "--tenant", SHOP, "--dry-run", "-o", "json")
        self.assertExit(r, 0)
        objs = {o["kind"]: o for o in json.loads(r.out)["items"]}
        self.assertEqual(sorted(objs), ["LimitRange", "Namespace", "ResourceQuota", "RoleBinding"])
        self.assertEqual(objs["ResourceQuota"]["spec"]["hard"]["limits.memory"], "3Gi")
        self.assertEqual(objs["LimitRange"]["spec"]["limits"][0]["default"]["cpu"], "500m")
        self.assertEqual(self.status_of("/api/v1/namespaces/" + x), 404)
        self.assertOneLineError(self.as_user("admin", "workspace", "create", qa, "--tenant", SHOP), 5,
                                "workspace '%s' already exists in tenant '%s'" % (qa, SHOP))
        self.assertOneLineError(self.as_user("admin", "workspace", "create", z1, "--tenant", n("nope")), 3,
                                "tenant '%s' not found" % n("nope"), "wb tenant create " + n("nope"))
        self.assertOneLineError(self.as_user("admin", "workspace", "create", z2, "--tenant", SHOP, "--cpu", "lots"),
                                2, "--cpu 'lots' is not a CPU quantity")
        self.assertEqual(self.status_of("/api/v1/namespaces/" + z2), 404)

    def test_a_tenant_admin_creates_workspaces_in_their_tenant(self):
        mine = n("shop-bob")
        r = self.workspace_create("bob", mine, SHOP, "--cpu", "2")
        self.assertExit(r, 0)
        self.assertIn("Created workspace '%s' in tenant '%s'" % (mine, SHOP), r.out)
        self.assertEqual(r.err, "")  # the records were written too
        self.addCleanup(self.as_user, "admin", "workspace", "delete", mine, "--yes")
        ns = self.get("/api/v1/namespaces/" + mine)
        self.assertEqual(ns["metadata"]["labels"]["kubesphere.io/workspace"], SHOP)
        self.assertEqual(ns["metadata"]["annotations"]["kubesphere.io/creator"], U["bob"])
        self.assertEqual(self.get("/api/v1/namespaces/%s/resourcequotas/wb-quota" % mine)["spec"]["hard"]["limits.cpu"],
                         "2")
        self.assertEqual(self.status_of("/api/v1/namespaces/%s/limitranges/wb-limits" % mine), 200)
        self.assertEqual(self.status_of(
            "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies/wb-tenant-isolation" % mine), 200)
        self.assertEqual(self.subjects(mine, "wb:tenant-admin"), [U["bob"]])
        # ... and decides who works there
        self.assertExit(self.as_user("bob", "member", "add", U["dave"], "--role", "developer", "-w", mine), 0)
        self.assertEqual(self.subjects(mine, "wb:developer"), [U["dave"]])
        self.assertEqual(self.subjects(RECORDS, "wb:member:%s:developer" % mine), [U["dave"]])
        # carol, admin of acme, can neither create workspaces in shop nor hand out roles in bob's
        carols = n("shop-carol")
        self.assertForbidden(self.workspace_create("carol", carols, SHOP),
                             "you (%s) cannot create workspace %s: you are not a tenant admin of '%s'"
                             % (U["carol"], carols, SHOP))
        self.assertForbidden(self.as_user("carol", "member", "add", U["carol"], "--role", "developer", "-w", mine),
                             "you (%s) cannot" % U["carol"])
        self.assertEqual(self.status_of(RBAC + "/namespaces/%s/rolebindings/wb:developer" % mine), 200)
        self.assertEqual(self.subjects(mine, "wb:developer"), [U["dave"]])
        # a developer is no tenant admin: cannot create workspaces at all (plain RBAC)
        self.assertForbidden(self.workspace_create("dave", n("shop-dave"), SHOP),
                             "you (%s) cannot create workspaces" % U["dave"])
        # bob deletes his workspace again, and its records with it
        r = self.as_user("bob", "workspace", "delete", mine, "--yes")
        self.assertExit(r, 0)
        self.assertEqual(r.err, "")
        self.assertEqual(self.status_of(RBAC + "/namespaces/%s/rolebindings/wb:member:%s:developer" % (RECORDS, mine)),
                         404)
        self.assertEqual(self.status_of(RBAC + "/namespaces/%s/roles/wb:member:%s:tenant-admin" % (RECORDS, mine)),
                         404)

    def test_workspace_delete_asks_and_refuses_plain_namespaces(self):
        tmp = n("shop-tmp")
        self.assertExit(self.workspace_create("admin", tmp, SHOP), 0)
        self.assertOneLineError(self.as_user("admin", "workspace", "delete", tmp), 2, "needs confirmation", "--yes")
        self.assertEqual(self.status_of("/api/v1/namespaces/" + tmp), 200)
        # bob (tenant admin of shop) may delete shop's workspace; carol (acme) may not
        self.assertForbidden(self.as_user("carol", "workspace", "delete", tmp, "--yes"),
                             "you (%s) cannot delete workspace %s: you have no role there" % (U["carol"], tmp),
                             "a tenant admin of the workspace's tenant can change that")
        r = self.as_user("bob", "workspace", "delete", tmp, "--yes")
        self.assertExit(r, 0)
        self.assertIn("Deleted workspace '%s' of tenant '%s'" % (tmp, SHOP), r.out)
        st, ns = cluster.request("GET", "/api/v1/namespaces/" + tmp)
        self.assertTrue(st == 404 or ns["status"]["phase"] == "Terminating", ns)
        self.assertOneLineError(self.as_user("admin", "workspace", "delete", "default", "--yes"), 2,
                                "namespace 'default' is not a workspace")
        self.assertOneLineError(self.as_user("admin", "workspace", "delete", n("ghost"), "--yes"), 3,
                                "workspace '%s' not found" % n("ghost"))

    def test_tenant_list_and_delete(self):
        r = self.as_user("admin", "tenant", "list", "-o", "json")
        self.assertExit(r, 0)
        tenants = {t["name"]: t for t in json.loads(r.out)}
        self.assertEqual(tenants[SHOP]["admins"], [U["bob"]])
        self.assertIn(DEV, tenants[SHOP]["workspaces"])
        self.assertIn(PROD, tenants[SHOP]["workspaces"])
        self.assertEqual(tenants[ACME]["workspaces"], [ADEV])
        self.assertFalse(tenants[SHOP]["workspaceTemplate"])
        r = self.as_user("admin", "tenant", "list")
        if cluster.real:
            # Workspaces other tests deleted a moment ago are listed until their namespaces are gone
            # (a real namespace takes seconds to finalize): the row names this tenant's live ones.
            row = next(l.split("\t") for l in r.out.splitlines() if l.startswith(SHOP + "\t"))
            self.assertLessEqual({DEV, PROD}, set(row[1].split(",")))
            self.assertEqual(row[2], U["bob"])
        else:
            self.assertIn("shop\tshop-dev,shop-prod\tbob\n",
                          r.out.replace("shop-dev,shop-prod,shop-qa", "shop-dev,shop-prod"))
        self.assertOneLineError(self.as_user("admin", "tenant", "delete", SHOP, "--yes"), 5,
                                "tenant '%s' still has workspaces" % SHOP)
        tmp = n("tmp")
        self.assertExit(self.as_user("admin", "tenant", "create", tmp, "--admin", U["dave"]), 0)
        made_tenants.append(tmp)
        self.assertOneLineError(self.as_user("admin", "tenant", "create", tmp), 5, "tenant '%s' already exists" % tmp)
        self.assertEqual(self.status_of(RBAC + "/clusterrolebindings/wb:tenant:" + tmp), 200)
        self.assertEqual(self.subjects(RECORDS, "wb:tenant:" + tmp), [U["dave"]])
        self.assertExit(self.as_user("admin", "tenant", "delete", tmp, "--yes"), 0)
        self.assertEqual(self.status_of(RBAC + "/clusterrolebindings/wb:tenant:" + tmp), 404)
        self.assertEqual(self.status_of(RBAC + "/clusterroles/wb:tenant:" + tmp), 404)
        self.assertEqual(self.status_of(RBAC + "/namespaces/%s/rolebindings/wb:tenant:%s" % (RECORDS, tmp)), 404)
        self.assertOneLineError(self.as_user("admin", "tenant", "delete", tmp, "--yes"), 3,
                                "tenant '%s' not found" % tmp)
        self.assertForbidden(self.as_user("bob", "tenant", "create", n("mine")), "you (%s) cannot" % U["bob"],
                             "the platform team")

    # ------------------------------------------------------------ members
    def test_member_add_list_rm(self):
        m = n("shop-m")
        self.assertExit(self.workspace_create("admin", m, SHOP), 0)
        self.addCleanup(self.as_user, "admin", "workspace", "delete", m, "--yes")
        dave, bob, erin = U["dave"], U["bob"], U["erin"]
        r = self.as_user("bob", "member", "add", dave, "--role", "developer", "-w", m)
        self.assertExit(r, 0)
        self.assertIn("%s is now developer in workspace '%s'" % (dave, m), r.out)
        self.assertEqual(self.subjects(m, "wb:developer"), [dave])
        # one role per workspace: viewer replaces developer (the emptied binding goes)
        self.assertExit(self.as_user("bob", "member", "add", dave, "--role", "viewer", "-w", m), 0)
        self.assertEqual(self.subjects(m, "wb:viewer"), [dave])
        self.assertEqual(self.status_of(RBAC + "/namespaces/%s/rolebindings/wb:developer" % m), 404)
        # ... and so do the records
        self.assertEqual(self.subjects(RECORDS, "wb:member:%s:viewer" % m), [dave])
        self.assertEqual(self.status_of(RBAC + "/namespaces/%s/rolebindings/wb:member:%s:developer" % (RECORDS, m)),
                         404)
        self.assertExit(self.as_user("bob", "member", "add", "group:qa", "--role", "developer", "-w", m), 0)
        r = self.as_user("bob", "member", "list", "-w", m, "-o", "json")
        self.assertExit(r, 0)
        rows = {(x["member"], x["kind"], x["role"]) for x in json.loads(r.out)}
        self.assertEqual(rows, {(bob, "User", "tenant-admin"), (dave, "User", "viewer"),
                                ("group:qa", "Group", "developer")})
        r = self.as_user("bob", "member", "list", "-w", m)
        self.assertIn("%s\tUser\tviewer\t%s" % (dave, m), r.out)
        # KubeSphere names are refused without KubeSphere, saying why
        self.assertOneLineError(self.as_user("bob", "member", "add", dave, "--role", "workspace-regular", "-w", m), 2,
                                "KubeSphere role name", "KubeSphere is not installed", "use developer")
        self.assertOneLineError(self.as_user("bob", "member", "add", dave, "--role", "boss", "-w", m), 2,
                                "unknown role 'boss'")
        r = self.as_user("bob", "member", "rm", dave, "-w", m)
        self.assertExit(r, 0)
        self.assertEqual(self.status_of(RBAC + "/namespaces/%s/rolebindings/wb:viewer" % m), 404)
        self.assertEqual(self.status_of(RBAC + "/namespaces/%s/rolebindings/wb:member:%s:viewer" % (RECORDS, m)), 404)
        self.assertOneLineError(self.as_user("bob", "member", "rm", dave, "-w", m), 3,
                                "%s has no role in workspace '%s'" % (dave, m))
        # tenant-wide: a second tenant admin lands in the ClusterRoleBinding and every workspace
        self.assertExit(self.as_user("bob", "member", "add", erin, "--role", "tenant-admin", "--tenant", SHOP), 0)
        crb = self.get(RBAC + "/clusterrolebindings/wb:tenant:" + SHOP)
        self.assertEqual(sorted(s["name"] for s in crb["subjects"]), sorted([bob, erin]))
        self.assertEqual(self.subjects(RECORDS, "wb:tenant:" + SHOP), sorted([bob, erin]))
        for ws in (DEV, PROD, m):
            self.assertIn(erin, self.subjects(ws, "wb:tenant-admin"))
            self.assertIn(erin, self.subjects(RECORDS, "wb:member:%s:tenant-admin" % ws))
        r = self.as_user("bob", "member", "list", "--tenant", SHOP, "-o", "json")
        self.assertIn({"member": erin, "kind": "User", "role": "tenant-admin", "workspace": "", "tenant": SHOP},
                      json.loads(r.out))
        self.assertExit(self.as_user("bob", "member", "rm", erin, "--tenant", SHOP), 0)
        crb = self.get(RBAC + "/clusterrolebindings/wb:tenant:" + SHOP)
        self.assertEqual([s["name"] for s in crb["subjects"]], [bob])
        self.assertNotIn(erin, self.subjects(DEV, "wb:tenant-admin"))
        self.assertEqual(self.subjects(RECORDS, "wb:tenant:" + SHOP), [bob])
        self.assertNotIn(erin, self.subjects(RECORDS, "wb:member:%s:tenant-admin" % DEV))

    def test_a_tenant_admin_cannot_touch_another_tenant(self):
        bob, dave = U["bob"], U["dave"]
        r = self.as_user("bob", "member", "add", dave, "--role", "developer", "-w", ADEV)
        # bob cannot even read acme-dev, so the tenant is not named
        # (bob may create RoleBindings anywhere for his own new workspaces, so the cluster's escalation
        # check is what refuses first)
        self.assertForbidden(r, "you (%s) cannot give that role: it grants more than you may hand out there" % bob)
        self.assertEqual(self.status_of(RBAC + "/namespaces/%s/rolebindings/wb:developer" % ADEV), 404)
        self.assertForbidden(self.as_user("bob", "member", "list", "-w", ADEV), "you (%s) cannot see members" % bob)
        self.assertForbidden(self.as_user("bob", "member", "add", bob, "--role", "tenant-admin", "--tenant", ACME),
                             "you (%s) cannot" % bob)
        self.assertEqual([s["name"] for s in self.get(RBAC + "/clusterrolebindings/wb:tenant:" + ACME)["subjects"]],
                         [U["carol"]])
        self.assertForbidden(self.as_user("bob", "robot", "create", "ci", "-w", ADEV), "you (%s) cannot" % bob)
        # a workspace in another tenant: refused by the boundary policy, nothing left behind
        acme_bob = n("acme-bob")
        self.assertForbidden(self.workspace_create("bob", acme_bob, ACME),
                             "you (%s) cannot create workspace %s: you are not a tenant admin of '%s'"
                             % (bob, acme_bob, ACME),
                             "a tenant admin of '%s' or the platform team can do it" % ACME)
        self.assertEqual(self.status_of("/api/v1/namespaces/" + acme_bob), 404)
        # Enforced by the cluster, not by wb: straight API calls with bob's credentials.
        tok = USERS["bob"]

        def rb(ns, role, user=dave, name=None, kind="ClusterRole"):
            return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": name or "sneaky-" + role.replace(":", "-"), "namespace": ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
                    "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]}
        status, body = cluster.request("POST", RBAC + "/namespaces/%s/rolebindings" % ADEV,
                                       rb(ADEV, "wb:developer"), token=tok)
        self.assertEqual(status, 403, body)
        # bob may create namespaces and RoleBindings cluster-wide (to make his own workspaces); the
        # boundary policy keeps that inside tenant shop: not in acme's workspaces, not in namespaces of
        # no tenant, no namespace outside shop, no moving a workspace out of shop
        status, body = cluster.request("POST", RBAC + "/namespaces/%s/rolebindings" % ADEV,
                                       rb(ADEV, "wb:tenant-admin", user=bob), token=tok)
        self.assertEqual(status, 403, body)
        self.assertIn("you (%s) cannot manage members in workspace %s: you are not a tenant admin of '%s'"
                      % (bob, ADEV, ACME), body["message"])
        status, body = cluster.request("POST", RBAC + "/namespaces/default/rolebindings",
                                       rb("default", "wb:tenant-admin", user=bob), token=tok)
        self.assertEqual(status, 403, body)
        self.assertIn("it belongs to no tenant", body["message"])
        own = n("bobs-own")
        for labels in ({}, {"kubesphere.io/workspace": ACME}):
            cluster.adopt_namespace(own)
            status, body = cluster.request("POST", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": own, "labels": labels}}, token=tok)
            self.assertEqual(status, 403, body)
            self.assertEqual(body["reason"], "Forbidden")
            self.assertIn("ValidatingAdmissionPolicy 'wb-tenant-boundaries'", body["message"])
        self.assertEqual(self.status_of("/api/v1/namespaces/" + own), 404)
        ns = self.get("/api/v1/namespaces/" + DEV)
        ns["metadata"]["labels"]["kubesphere.io/workspace"] = ACME
        status, body = cluster.request("PUT", "/api/v1/namespaces/" + DEV, ns, token=tok)
        self.assertEqual(status, 403, body)
        self.assertEqual(self.get("/api/v1/namespaces/" + DEV)["metadata"]["labels"]["kubesphere.io/workspace"], SHOP)
        # in his own workspace he may not hand out more than wb's roles (escalation prevention)
        status, body = cluster.request("POST", RBAC + "/namespaces/%s/rolebindings" % DEV,
                                       rb(DEV, "cluster-admin"), token=tok)
        self.assertEqual(status, 403, body)
        self.assertIn("attempting to grant RBAC permissions not currently held", body["message"])
        # nor widen his own tenant role
        cr = self.get(RBAC + "/clusterroles/wb:tenant:" + SHOP)
        cr["rules"].append({"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create", "delete"]})
        self.assertEqual(cluster.request("PUT", RBAC + "/clusterroles/wb:tenant:" + SHOP, cr, token=tok)[0], 403)
        # bind a wb role in his own workspace: fine
        status, body = cluster.request("POST", RBAC + "/namespaces/%s/rolebindings" % DEV, rb(DEV, "wb:viewer"),
                                       token=tok)
        self.assertEqual(status, 201, body)
        cluster.request("DELETE", RBAC + "/namespaces/%s/rolebindings/sneaky-wb-viewer" % DEV)
        # The membership records: he writes those of his tenant's workspaces only, and nothing else
        # there (the records policy), and reads none.
        recs = RBAC + "/namespaces/%s/rolebindings" % RECORDS
        theirs = "wb:member:%s:tenant-admin" % ADEV  # carol's record (its Role exists)
        status, body = cluster.request("PUT", recs + "/" + theirs, rb(RECORDS, theirs, user=bob, name=theirs,
                                                                       kind="Role"), token=tok)
        self.assertEqual(status, 403, body)
        self.assertIn("ValidatingAdmissionPolicy 'wb-member-records'", body["message"])
        self.assertIn("you (%s) cannot change the membership record %s: you do not administer workspace %s"
                      % (bob, theirs, ADEV), body["message"])
        self.assertEqual(self.subjects(RECORDS, theirs), [U["carol"]])
        # his own workspace's record name, but a binding to a real role: refused
        status, body = cluster.request("POST", recs, rb(RECORDS, "wb:tenant-admin", user=bob,
                                                        name="wb:member:%s:viewer" % DEV), token=tok)
        self.assertEqual(status, 403, body)
        self.assertIn("ValidatingAdmissionPolicy 'wb-member-records'", body["message"])
        # nor a record Role of his own workspace that names another one
        status, body = cluster.request("POST", RBAC + "/namespaces/%s/roles" % RECORDS, {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "wb:member:%s:viewer" % DEV, "namespace": RECORDS},
            "rules": [{"apiGroups": ["wb.dev"], "resources": ["workspaces"], "verbs": ["viewer"],
                       "resourceNames": [ADEV]}]}, token=tok)
        self.assertEqual(status, 403, body)
        self.assertIn("ValidatingAdmissionPolicy 'wb-member-records'", body["message"])
        # nor another tenant's right to write records
        status, body = cluster.request("PUT", recs + "/wb:tenant:" + ACME,
                                       rb(RECORDS, "wb:member-records", user=bob, name="wb:tenant:" + ACME), token=tok)
        self.assertEqual(status, 403, body)
        self.assertIn("you are not a tenant admin of '%s'" % ACME, body["message"])
        self.assertEqual([s["name"] for s in self.get(recs + "/wb:tenant:" + ACME)["subjects"]], [U["carol"]])
        for path in (recs, recs + "/wb:tenant:" + ACME, RBAC + "/namespaces/%s/roles" % RECORDS):
            self.assertEqual(cluster.request("GET", path, token=tok)[0], 403, path)

    # ------------------------------------------------------------ developers and viewers
    def test_developer_pushes_and_configs_in_dev_but_not_in_prod(self):
        alice = U["alice"]
        self.assertExit(self.as_user("bob", "member", "add", alice, "--role", "developer", "-w", DEV), 0)
        self.assertExit(self.as_user("bob", "member", "add", alice, "--role", "viewer", "-w", PROD), 0)
        r = self.as_user("alice", "-w", DEV, "app", "create", "cart")
        self.assertExit(r, 0)
        r = self.as_user("alice", "-w", DEV, "push", "jar", os.path.join(jars, "boot.jar"), "--app", "cart")
        self.assertExit(r, 0)
        self.assertIn("/shop/cart@sha256:", r.out)
        r = self.as_user("alice", "-w", DEV, "config", "set", "cart", "MODE=dev")
        self.assertExit(r, 0)
        # shop-prod: she is a viewer there
        self.app_in(PROD, "cart")
        r = self.as_user("alice", "-w", PROD, "push", "jar", os.path.join(jars, "boot.jar"), "--app", "cart")
        self.assertForbidden(r, "you (%s) cannot deploy in workspace %s: you are a viewer there; "
                                "a tenant admin of '%s' can change that" % (alice, PROD, SHOP))
        r = self.as_user("alice", "-w", PROD, "config", "set", "cart", "MODE=prod")
        self.assertForbidden(r, "you (%s) cannot change config in workspace %s: you are a viewer there" % (alice, PROD))
        r = self.as_user("alice", "-w", PROD, "app", "create", "other")
        self.assertForbidden(r, "you (%s) cannot create apps in workspace %s: you are a viewer there" % (alice, PROD))
        # with no role at all (acme-dev) the namespace is unreadable too, so the tenant goes unnamed
        r = self.as_user("alice", "-w", ADEV, "app", "create", "x")
        self.assertForbidden(r, "you (%s) cannot see apps in workspace %s: you have no role there; "
                                "a tenant admin of the workspace's tenant can change that" % (alice, ADEV))

    def test_developer_forwards_ports_and_opens_a_shell(self):
        # wb:developer lacked pods/portforward: `wb port-forward` was refused to developers (found on
        # the kit); a viewer stays refused. (An app of its own: others push
        # other jars into theirs.)
        alice, victor = U["alice"], U["victor"]
        self.app_in(DEV, "forwarded", start=True)
        self.assertExit(self.as_user("bob", "member", "add", alice, "--role", "developer", "-w", DEV), 0)
        self.assertExit(self.as_user("bob", "member", "add", victor, "--role", "viewer", "-w", DEV), 0)
        self.write_profile()
        proc = subprocess.Popen([WB_BIN, "--kubeconfig", self.kubeconfig("alice"), "-w", DEV, "port-forward",
                                 "forwarded", "0:8080"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.workdir, env=self.env({"WB_PROFILE": "t"}))
        try:
            line = proc.stdout.readline()
            self.assertRegex(line, r"^Forwarding http://127\.0\.0\.1:\d+ -> forwarded:8080$",
                             "stderr: %s" % (proc.stderr.read() if proc.poll() is not None else ""))
        finally:
            proc.kill()
            proc.wait()
        r = self.as_user("alice", "-w", DEV, "shell", "forwarded", "--", "echo", "in")
        if cluster.real:  # the fake's pods have no shell to run it in, only the exec's authorization
            self.assertExit(r, 0)
            self.assertEqual(r.out.strip(), "in")
        else:
            self.assertNotIn("cannot", r.err)
        r = self.as_user("victor", "-w", DEV, "port-forward", "forwarded", "0:8080", timeout=60)
        self.assertForbidden(r, "you (%s) cannot" % victor, "you are a viewer there")

    def test_viewer_reads_logs_but_cannot_change_config(self):
        victor = U["victor"]
        self.app_in(DEV, "shipping", start=True)
        self.assertExit(self.as_user("bob", "member", "add", victor, "--role", "viewer", "-w", DEV), 0)
        r = self.as_user("victor", "-w", DEV, "logs", "shipping", "--tail", "5")
        self.assertExit(r, 0)
        # the fake's replicas log "Starting ..."; the test server what it serves, then each (probe) request
        self.assertRegex(r.out, "serving version|request GET" if cluster.real else "Starting")
        self.assertExit(self.as_user("victor", "-w", DEV, "app", "status", "shipping"), 0)
        r = self.as_user("victor", "-w", DEV, "config", "set", "shipping", "A=1")
        self.assertForbidden(r, "you (%s) cannot change config in workspace %s: you are a viewer there; "
                                "a tenant admin of '%s' can change that" % (victor, DEV, SHOP))
        r = self.as_user("victor", "-w", DEV, "app", "stop", "shipping")
        self.assertForbidden(r, "you (%s) cannot" % victor, "you are a viewer there")

    # ------------------------------------------------------------ your workspaces
    def test_everyone_lists_their_own_workspaces_and_roles_and_no_others(self):
        alice = U["alice"]
        self.assertExit(self.as_user("bob", "member", "add", alice, "--role", "developer", "-w", DEV), 0)
        self.assertExit(self.as_user("bob", "member", "add", alice, "--role", "viewer", "-w", PROD), 0)
        # alice may not list namespaces: her records say where she works, and as what
        self.assertEqual(cluster.request("GET", "/api/v1/namespaces", token=USERS["alice"])[0], 403)
        r = self.as_user("alice", "workspace", "list", "-o", "json")
        self.assertExit(r, 0)
        rows = {w["name"]: w for w in json.loads(r.out)}
        self.assertEqual({k: (w["tenant"], w["role"], w["canDeploy"], w["status"]) for k, w in rows.items()},
                         {DEV: (SHOP, "developer", True, "Active"), PROD: (SHOP, "viewer", False, "Active")})
        r = self.as_user("alice", "workspace", "list")
        self.assertExit(r, 0)
        self.assertEqual([l.split("\t")[1] for l in r.out.splitlines()], [DEV, PROD])
        self.assertTrue(r.out.splitlines()[0].endswith("\tyes\tdeveloper"), r.out)
        # the same names complete `wb workspace use`
        r = self.as_user("alice", "__complete", "workspaces")
        self.assertEqual(r.out.split(), [DEV, PROD])
        self.assertExit(self.as_user("alice", "workspace", "use", DEV), 0)
        self.assertTrue(self.as_user("alice", "workspace", "list").out.startswith("*\t" + DEV), r.out)
        # the cluster-wide view is the platform team's
        self.assertForbidden(self.as_user("alice", "workspace", "list", "--all"), "you may not list every workspace")
        # nothing of another tenant: carol sees acme's workspace (she is its tenant admin), alice none of it
        r = self.as_user("carol", "workspace", "list", "-o", "json")
        self.assertEqual([(w["name"], w["role"]) for w in json.loads(r.out)], [(ADEV, "tenant-admin")])
        # the records are readable through the rules review only: not listed, not read
        tok = USERS["alice"]
        for path in (RBAC + "/namespaces/%s/rolebindings" % RECORDS, RBAC + "/namespaces/%s/roles" % RECORDS,
                     RBAC + "/namespaces/%s/rolebindings/wb:member:%s:tenant-admin" % (RECORDS, ADEV),
                     RBAC + "/namespaces/%s/rolebindings/wb:member:%s:developer" % (RECORDS, DEV)):
            self.assertEqual(cluster.request("GET", path, token=tok)[0], 403, path)
        status, review = cluster.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": RECORDS}}, token=tok)
        self.assertEqual(status, 201, review)
        self.assertNotIn(ADEV, json.dumps(review))
        self.assertNotIn(ACME, json.dumps(review))
        # someone with no role anywhere: an empty list, said in words (not a refusal)
        r = self.as_user("xavier", "workspace", "list")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "")
        self.assertIn("You have no role in any workspace yet", r.err)
        # a robot sees its own workspace
        r = self.as_user("bob", "-w", PROD, "robot", "create", "lister", "--role", "viewer")
        self.assertExit(r, 0)
        self.assertEqual(r.err, "")
        self.addCleanup(self.as_user, "bob", "-w", PROD, "robot", "rm", "lister", "--yes")
        path = os.path.join(self.home, "robot-kc")
        with open(path, "w") as f:
            f.write(r.out)
        r = self.wb("--kubeconfig", path, "workspace", "list", "-o", "json", env={"WB_PROFILE": "t"})
        self.assertExit(r, 0)
        self.assertEqual([(w["name"], w["role"]) for w in json.loads(r.out)], [(PROD, "viewer")])
        # losing the role takes the workspace off the list
        self.assertExit(self.as_user("bob", "member", "rm", alice, "-w", PROD), 0)
        self.assertEqual([w["name"] for w in json.loads(self.as_user("alice", "workspace", "list", "-o", "json").out)],
                         [DEV])
        # the platform team (may list every namespace, has no records): every workspace
        r = self.as_user("admin", "workspace", "list", "-o", "json")
        names = [w["name"] for w in json.loads(r.out)]
        self.assertLessEqual({DEV, PROD, ADEV}, set(names))

    # ------------------------------------------------------------ robots
    def test_robot_kubeconfig_pushes_and_configs_and_nothing_else(self):
        self.app_in(DEV, "billing")
        r = self.as_user("bob", "-w", DEV, "robot", "create", "ci")
        self.assertExit(r, 0)
        self.addCleanup(cluster.request, "DELETE", "/api/v1/namespaces/%s/serviceaccounts/ci" % DEV)
        kc = yaml.safe_load(r.out)
        self.assertEqual(kc["clusters"][0]["cluster"]["server"], cluster.server)
        with open(cluster.ca) as f:
            self.assertEqual(base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]).decode(),
                             f.read())
        self.assertEqual(kc["contexts"][0]["context"]["namespace"], DEV)
        sa = self.get("/api/v1/namespaces/%s/serviceaccounts/ci" % DEV)
        self.assertEqual(sa["metadata"]["labels"]["wb.dev/robot"], "ci")
        b = self.get(RBAC + "/namespaces/%s/rolebindings/wb:robot:ci" % DEV)
        self.assertEqual(b["roleRef"]["name"], "wb:deployer")
        self.assertEqual(b["subjects"], [{"kind": "ServiceAccount", "name": "ci", "namespace": DEV}])
        self.assertIn({"kind": "ServiceAccount", "name": "ci", "namespace": DEV},
                      self.get(RBAC + "/namespaces/%s/rolebindings/wb:member:%s:deployer" % (RECORDS, DEV))["subjects"])
        path = os.path.join(self.home, "robot-kubeconfig")
        with open(path, "w") as f:
            f.write(r.out)
        self.write_profile()
        env = {"WB_PROFILE": "t"}
        ci = lambda *a: self.wb("--kubeconfig", path, *a, env=env)  # noqa: E731
        r = ci("push", "jar", os.path.join(jars, "boot.jar"), "--app", "billing")
        self.assertExit(r, 0)
        dep = self.get("/apis/apps/v1/namespaces/%s/deployments/billing" % DEV)
        self.assertEqual(dep["spec"]["template"]["spec"]["containers"][0]["image"], r.out.strip())
        self.assertExit(ci("config", "set", "billing", "MODE=ci"), 0)
        self.assertExit(ci("app", "status", "billing"), 0)
        # nothing else
        self.assertForbidden(ci("app", "delete", "billing", "--yes"),
                             "you (robot 'ci' of %s) cannot" % DEV, "you are a deployer there")
        self.assertEqual(self.status_of("/apis/apps/v1/namespaces/%s/deployments/billing" % DEV), 200)
        self.assertForbidden(ci("member", "add", U["dave"], "--role", "developer"),
                             "you (robot 'ci' of %s) cannot" % DEV, "manage members")
        self.assertForbidden(ci("app", "create", "new"), "cannot create apps")
        self.app_in(PROD, "billing")
        self.assertForbidden(ci("-w", PROD, "config", "set", "billing", "MODE=x"),
                             "cannot see apps in workspace %s: you have no role there" % PROD)
        self.assertForbidden(ci("-w", PROD, "push", "jar", os.path.join(jars, "boot.jar"), "--app", "billing"),
                             "cannot deploy in workspace %s: you have no role there" % PROD)
        # -o json and --token; rm revokes the token
        r = self.as_user("bob", "-w", DEV, "robot", "create", "ci2", "-o", "json")
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertEqual((doc["name"], doc["workspace"], doc["role"]), ("ci2", DEV, "deployer"))
        self.assertIn(doc["token"], doc["kubeconfig"])
        self.assertOneLineError(self.as_user("bob", "-w", DEV, "robot", "create", "ci2"), 5,
                                "robot 'ci2' already exists")
        self.assertOneLineError(self.as_user("bob", "-w", DEV, "robot", "rm", "ci2"), 2, "needs confirmation")
        self.assertExit(self.as_user("bob", "-w", DEV, "robot", "rm", "ci2", "--yes"), 0)
        pods = "/api/v1/namespaces/%s/pods" % DEV
        # (a real server may answer from its cache for a moment after the token's Secret is gone)
        self.wait_until("the deleted robot's token is refused",
                        lambda: cluster.request("GET", pods, token=doc["token"])[0] == 401)
        self.assertEqual(self.status_of("/api/v1/namespaces/%s/secrets/ci2-token" % DEV), 404)
        self.assertEqual(self.status_of(RBAC + "/namespaces/%s/rolebindings/wb:robot:ci2" % DEV), 404)
        # the token is on stdout only: a -vvv trace redacts it
        r = self.as_user("bob", "-w", DEV, "robot", "create", "ci4", "-vvv")
        self.assertExit(r, 0)
        token = yaml.safe_load(r.out)["users"][0]["user"]["token"]
        self.assertGreater(len(token), 20)
        self.assertIn("ci4-token", r.err)
        self.assertNotIn(token, r.err)
        r = self.as_user("bob", "-w", DEV, "robot", "create", "ci3", "--role", "viewer", "--token")
        self.assertExit(r, 0)
        self.assertEqual(cluster.request("GET", pods, token=r.out.strip())[0], 200)
        self.assertOneLineError(self.as_user("bob", "-w", DEV, "robot", "create", "x", "--role",
                                             "tenant-admin"), 2, "robots cannot be tenant admins")
        # the list: every robot of the workspace with its role; a viewer sees them too (no tokens)
        r = self.as_user("bob", "-w", DEV, "robot", "list", "-o", "json")
        self.assertExit(r, 0)
        robots = {x["name"]: x for x in json.loads(r.out)}
        self.assertEqual({n_: (x["role"], x["token"]) for n_, x in robots.items()},
                         {"ci": ("deployer", True), "ci3": ("viewer", True), "ci4": ("deployer", True)})
        self.assertTrue(robots["ci"]["created"].endswith("Z"), robots["ci"])
        r = self.as_user("bob", "-w", DEV, "robot", "list")
        self.assertExit(r, 0)
        self.assertIn("ci3\tviewer\tyes\t", r.out)
        self.assertEqual(self.as_user("bob", "-w", DEV, "robot", "ls", "-o", "name").out.split(),
                         ["robot/ci", "robot/ci3", "robot/ci4"])
        self.assertOneLineError(self.as_user("admin", "-w", n("ghost-ws"), "robot", "list"), 3,
                                "workspace '%s'" % n("ghost-ws"))
        self.assertForbidden(self.as_user("carol", "-w", DEV, "robot", "list"), "you (%s) cannot" % U["carol"])


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
            time.sleep(0.1)
        self.assertExit(run("tenant", "delete", "shop", "--yes"), 0)
        self.assertEqual(ks.request("GET", "/apis/tenant.kubesphere.io/v1alpha2/workspacetemplates/shop")[0], 404)


if __name__ == "__main__":
    unittest.main()
