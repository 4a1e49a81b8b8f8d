#!/usr/bin/python3
"""Self-test of the fake API server. Run: /usr/bin/python3 -m unittest tests/fakekube/test_fakekube.py"""
import asyncio
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fakekube.py")


class Fake:
    def __init__(self, extra=(), tokens=None):
        self.dir = tempfile.mkdtemp(prefix="fakekube-test-")
        args = ["/usr/bin/python3", FAKE, "--dir", self.dir, "--port", "0"] + list(extra)
        if tokens:
            p = os.path.join(self.dir, "tokens.csv")
            with open(p, "w") as f:
                f.write(tokens)
            args += ["--tokens", p]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"fake did not start: {line!r}")
        self.info = json.loads(line[6:])
        self.port = self.info["port"]
        self.token = self.info["admin_token"]
        self.ctx = ssl.create_default_context(cafile=self.info["ca"])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def conn(self, ctx=None):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx or self.ctx, timeout=20)

    def req(self, method, path, body=None, token="admin", ctype="application/json", headers=None, ctx=None,
            raw=False):
        c = self.conn(ctx)
        h = dict(headers or {})
        if token == "admin":
            token = self.token
        if token:
            h["Authorization"] = f"Bearer {token}"
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            h["Content-Type"] = ctype
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        if raw:
            return r.status, data
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, data.decode()

    def wait_for(self, fn, timeout=10, msg="condition"):
        end = time.time() + timeout
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {msg}")


DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "web", "labels": {"app": "web"}},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}]}}}}


def deploy(name, image="nginx:1.25", replicas=1, ann=None):
    d = json.loads(json.dumps(DEPLOY))
    d["metadata"]["name"] = name
    d["spec"]["replicas"] = replicas
    d["spec"]["selector"]["matchLabels"] = {"app": name}
    d["spec"]["template"]["metadata"]["labels"] = {"app": name}
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    if ann:
        d["metadata"]["annotations"] = ann
    return d


class FakeKubeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.f = Fake(tokens='tok-alice,alice,uid-alice,"devs,qa"\ntok-bob,bob,uid-bob\n')
        cls.f.req("POST", "/fake/v1/settings", {"readinessDelay": 0.2, "crashDelay": 0.2, "backoffDelay": 0.3})

    @classmethod
    def tearDownClass(cls):
        cls.f.stop()

    # ---------------------------------------------------------------- auth
    def test_auth(self):
        f = self.f
        st, body = f.req("GET", "/api/v1/namespaces", token=None)
        self.assertEqual(st, 401)
        self.assertEqual(body["reason"], "Unauthorized")
        self.assertEqual(body["kind"], "Status")
        st, body = f.req("GET", "/api/v1/namespaces", token="nope")
        self.assertEqual(st, 401)
        st, body = f.req("GET", "/version", token="tok-bob")
        self.assertEqual(st, 200)
        self.assertEqual(body["gitVersion"], "v1.32.0")
        st, body = f.req("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                         {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}, token="tok-alice")
        self.assertEqual(st, 201)
        self.assertEqual(body["status"]["userInfo"]["username"], "alice")
        self.assertIn("devs", body["status"]["userInfo"]["groups"])
        self.assertIn("system:authenticated", body["status"]["userInfo"]["groups"])
        # client certificate
        prefix = os.path.join(f.dir, "carol")
        subprocess.run(["/usr/bin/python3", FAKE, "issue-cert", "--dir", f.dir, "--user", "carol", "--group", "ops",
                        "--out", prefix], check=True)
        ctx = ssl.create_default_context(cafile=f.info["ca"])
        ctx.load_cert_chain(prefix + ".crt", prefix + ".key")
        st, body = f.req("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                         {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}, token=None,
                         ctx=ctx)
        self.assertEqual(st, 201, body)
        self.assertEqual(body["status"]["userInfo"]["username"], "carol")
        self.assertIn("ops", body["status"]["userInfo"]["groups"])
        # kubeconfig exists and points at us
        with open(f.info["kubeconfig"]) as fh:
            kc = fh.read()
        self.assertIn(f"https://127.0.0.1:{f.port}", kc)
        self.assertIn("current-context: fake", kc)

    def test_discovery(self):
        f = self.f
        st, body = f.req("GET", "/apis/apps/v1")
        self.assertEqual(st, 200)
        names = {r["name"]: r for r in body["resources"]}
        self.assertTrue(names["deployments"]["namespaced"])
        self.assertIn("deploy", names["deployments"]["shortNames"])
        self.assertIn("deployments/scale", names)
        st, body = f.req("GET", "/apis")
        groups = [g["name"] for g in body["groups"]]
        self.assertIn("networking.k8s.io", groups)
        st, body = f.req("GET", "/api/v1")
        self.assertIn("pods/exec", [r["name"] for r in body["resources"]])

    def test_endpoint_slices(self):
        # Served as discovery.k8s.io/v1 (GA in 1.21) like on a real server; the view role reads them.
        f = self.f
        st, body = f.req("GET", "/apis/discovery.k8s.io/v1")
        self.assertEqual(st, 200, body)
        names = {r["name"]: r for r in body["resources"]}
        self.assertTrue(names["endpointslices"]["namespaced"])
        self.assertEqual(names["endpointslices"]["kind"], "EndpointSlice")
        f.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "eps"}})
        slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                  "metadata": {"name": "legacy-ipv4-8080", "labels": {"kubernetes.io/service-name": "legacy"}},
                  "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                  "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": True}}]}
        st, body = f.req("POST", "/apis/discovery.k8s.io/v1/namespaces/eps/endpointslices", slice_)
        self.assertEqual(st, 201, body)
        f.req("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/eps/rolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "bob-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}]})
        st, body = f.req("GET", "/apis/discovery.k8s.io/v1/namespaces/eps/endpointslices?labelSelector="
                         "kubernetes.io/service-name%3Dlegacy", token="tok-bob")
        self.assertEqual(st, 200, body)
        self.assertEqual([x["metadata"]["name"] for x in body["items"]], ["legacy-ipv4-8080"])
        st, body = f.req("DELETE", "/apis/discovery.k8s.io/v1/namespaces/eps/endpointslices/legacy-ipv4-8080",
                         token="tok-bob")
        self.assertEqual(st, 403, body)

    def test_rules_review_names_the_resources_a_role_is_limited_to(self):
        # SelfSubjectRulesReview answers with the asking user's own rules in that namespace (and the
        # cluster-wide ones), resourceNames included, as kube-apiserver does: wb's membership records.
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "recs"}})
        rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/recs/"
        f.req("POST", rbac + "roles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "rec"},
            "rules": [{"apiGroups": ["wb.dev"], "resources": ["workspaces"], "verbs": ["developer"],
                       "resourceNames": ["shop-dev"]}]})
        f.req("POST", rbac + "rolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rec"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "rec"},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]})
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                  "spec": {"namespace": "recs"}}
        path = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
        st, body = f.req("POST", path, review, token="tok-alice")
        self.assertEqual(st, 201, body)
        self.assertIn({"verbs": ["developer"], "apiGroups": ["wb.dev"], "resources": ["workspaces"],
                       "resourceNames": ["shop-dev"]}, body["status"]["resourceRules"])
        self.assertIn({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                       "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
                      body["status"]["resourceRules"])
        st, body = f.req("POST", path, review, token="tok-bob")
        self.assertNotIn("wb.dev", json.dumps(body["status"]["resourceRules"]))

    # ---------------------------------------------------------------- CRUD
    def test_crud_conflict_notfound(self):
        f = self.f
        st, ns = f.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": "crud"}})
        self.assertEqual(st, 201)
        st, body = f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "crud"}})
        self.assertEqual(st, 409)
        self.assertEqual(body["reason"], "AlreadyExists")
        self.assertEqual(body["message"], 'namespaces "crud" already exists')
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": {"a": "1"}}
        st, c1 = f.req("POST", "/api/v1/namespaces/crud/configmaps", cm)
        self.assertEqual(st, 201)
        for k in ("uid", "resourceVersion", "creationTimestamp"):
            self.assertIn(k, c1["metadata"])
        st, body = f.req("POST", "/api/v1/namespaces/missing/configmaps", cm)
        self.assertEqual(st, 404)
        self.assertEqual(body["message"], 'namespaces "missing" not found')
        # update with the current rv works, stale rv conflicts
        c1["data"]["a"] = "2"
        st, c2 = f.req("PUT", "/api/v1/namespaces/crud/configmaps/c1", c1)
        self.assertEqual(st, 200)
        self.assertGreater(int(c2["metadata"]["resourceVersion"]), int(c1["metadata"]["resourceVersion"]))
        c1["data"]["a"] = "3"
        st, body = f.req("PUT", "/api/v1/namespaces/crud/configmaps/c1", c1)
        self.assertEqual(st, 409)
        self.assertEqual(body["reason"], "Conflict")
        self.assertTrue(body["message"].startswith('Operation cannot be fulfilled on configmaps "c1": the object '
                                                   'has been modified'))
        # unconditional update
        del c1["metadata"]["resourceVersion"]
        st, body = f.req("PUT", "/api/v1/namespaces/crud/configmaps/c1", c1)
        self.assertEqual(st, 200)
        self.assertEqual(body["data"]["a"], "3")
        st, body = f.req("GET", "/apis/apps/v1/namespaces/crud/deployments/x")
        self.assertEqual(st, 404)
        self.assertEqual(body["message"], 'deployments.apps "x" not found')
        self.assertEqual(body["details"], {"name": "x", "group": "apps", "kind": "deployments"})
        # invalid name
        st, body = f.req("POST", "/api/v1/namespaces/crud/configmaps", {"metadata": {"name": "Bad_Name"}})
        self.assertEqual(st, 422)
        self.assertEqual(body["reason"], "Invalid")
        # generateName
        st, body = f.req("POST", "/api/v1/namespaces/crud/configmaps", {"metadata": {"generateName": "gen-"}})
        self.assertEqual(st, 201)
        self.assertTrue(body["metadata"]["name"].startswith("gen-"))
        # immutable configmap
        st, body = f.req("POST", "/api/v1/namespaces/crud/configmaps",
                         {"metadata": {"name": "imm"}, "data": {"a": "1"}, "immutable": True})
        body["data"]["a"] = "2"
        st, body = f.req("PUT", "/api/v1/namespaces/crud/configmaps/imm", body)
        self.assertEqual(st, 422)
        # secret stringData
        st, body = f.req("POST", "/api/v1/namespaces/crud/secrets",
                         {"metadata": {"name": "s"}, "stringData": {"p": "hunter2"}})
        self.assertEqual(st, 201)
        self.assertEqual(body["data"]["p"], "aHVudGVyMg==")
        self.assertNotIn("stringData", body)
        # patches
        st, body = f.req("PATCH", "/api/v1/namespaces/crud/configmaps/c1", {"data": {"b": "x", "a": None}},
                         ctype="application/merge-patch+json")
        self.assertEqual(body["data"], {"b": "x"})
        st, body = f.req("PATCH", "/api/v1/namespaces/crud/configmaps/c1",
                         [{"op": "add", "path": "/data/c", "value": "y"}], ctype="application/json-patch+json")
        self.assertEqual(body["data"], {"b": "x", "c": "y"})
        # delete returns a Status for configmaps, then 404
        st, body = f.req("DELETE", "/api/v1/namespaces/crud/configmaps/c1")
        self.assertEqual(st, 200)
        self.assertEqual(body["status"], "Success")
        st, body = f.req("DELETE", "/api/v1/namespaces/crud/configmaps/c1")
        self.assertEqual(st, 404)
        # namespace deletion removes content
        st, body = f.req("DELETE", "/api/v1/namespaces/crud")
        self.assertEqual(body["status"]["phase"], "Terminating")
        f.wait_for(lambda: f.req("GET", "/api/v1/namespaces/crud")[0] == 404, msg="namespace gone")
        st, body = f.req("GET", "/api/v1/namespaces/crud/secrets/s")
        self.assertEqual(st, 404)

    def test_selectors_and_paging(self):
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "sel"}})
        for i in range(7):
            labels = {"app": "a" if i % 2 else "b", "idx": str(i)}
            if i == 3:
                labels["special"] = "yes"
            f.req("POST", "/api/v1/namespaces/sel/configmaps", {"metadata": {"name": f"cm{i}", "labels": labels}})

        def names(q):
            st, body = f.req("GET", "/api/v1/namespaces/sel/configmaps?" + q)
            self.assertEqual(st, 200, body)
            return sorted(i["metadata"]["name"] for i in body["items"])
        self.assertEqual(names("labelSelector=app%3Da"), ["cm1", "cm3", "cm5"])
        self.assertEqual(names("labelSelector=app%3D%3Da,idx!%3D1"), ["cm3", "cm5"])
        self.assertEqual(names("labelSelector=idx%20in%20(1,2)"), ["cm1", "cm2"])
        self.assertEqual(names("labelSelector=idx%20notin%20(1,2),app%3Db"), ["cm0", "cm4", "cm6"])
        self.assertEqual(names("labelSelector=special"), ["cm3"])
        self.assertEqual(len(names("labelSelector=!special,app")), 6)
        self.assertEqual(names("fieldSelector=metadata.name%3Dcm2"), ["cm2"])
        st, body = f.req("GET", "/api/v1/namespaces/sel/configmaps?labelSelector=a%20in")
        self.assertEqual(st, 400)
        # paging
        seen = []
        st, body = f.req("GET", "/api/v1/namespaces/sel/configmaps?limit=3")
        self.assertEqual(len(body["items"]), 3)
        self.assertIn("continue", body["metadata"])
        self.assertEqual(body["metadata"]["remainingItemCount"], 5)  # + kube-root-ca.crt
        seen += body["items"]
        while body["metadata"].get("continue"):
            st, body = f.req("GET", "/api/v1/namespaces/sel/configmaps?limit=3&continue=" + body["metadata"]["continue"])
            seen += body["items"]
        self.assertEqual(len(seen), 8)
        # cross namespace list + table
        st, body = f.req("GET", "/api/v1/configmaps", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
        self.assertEqual(body["kind"], "Table")
        self.assertEqual(body["columnDefinitions"][0]["name"], "Name")

    def _watch(self, path, timeout=10):
        c = self.f.conn()
        c.request("GET", path, headers={"Authorization": f"Bearer {self.f.token}"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        return c, r

    def test_watch(self):
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "w"}})
        st, a = f.req("POST", "/api/v1/namespaces/w/configmaps", {"metadata": {"name": "a", "labels": {"x": "1"}}})
        rv = a["metadata"]["resourceVersion"]
        f.req("POST", "/api/v1/namespaces/w/configmaps", {"metadata": {"name": "b", "labels": {"x": "2"}}})
        f.req("PATCH", "/api/v1/namespaces/w/configmaps/a", {"data": {"k": "v"}}, ctype="application/merge-patch+json")
        f.req("DELETE", "/api/v1/namespaces/w/configmaps/a")
        c, r = self._watch(f"/api/v1/namespaces/w/configmaps?watch=1&resourceVersion={rv}&labelSelector=x%3D1"
                           "&timeoutSeconds=1")
        events = [json.loads(line) for line in r.read().splitlines() if line.strip()]
        c.close()
        self.assertEqual([e["type"] for e in events], ["MODIFIED", "DELETED"])
        self.assertEqual(events[0]["object"]["data"], {"k": "v"})
        # too old resourceVersion -> ERROR 410
        c, r = self._watch("/api/v1/namespaces/w/configmaps?watch=1&resourceVersion=1")
        events = [json.loads(line) for line in r.read().splitlines() if line.strip()]
        c.close()
        self.assertEqual(events[0]["type"], "ERROR")
        self.assertEqual(events[0]["object"]["code"], 410)
        self.assertEqual(events[0]["object"]["reason"], "Expired")
        # bookmarks + live events
        f.req("POST", "/fake/v1/settings", {"bookmarkInterval": 0.2})
        c, r = self._watch("/api/v1/namespaces/w/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds=2")
        time.sleep(0.3)
        f.req("POST", "/api/v1/namespaces/w/configmaps", {"metadata": {"name": "live"}})
        events = [json.loads(line) for line in r.read().splitlines() if line.strip()]
        c.close()
        types = [e["type"] for e in events]
        self.assertIn("BOOKMARK", types)
        added = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
        self.assertIn("live", added)
        self.assertIn("b", added)  # initial state

    def test_server_side_apply(self):
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "ssa"}})
        url = "/api/v1/namespaces/ssa/configmaps/cfg?fieldManager=wb"
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "labels": {"l1": "a", "l2": "b"}},
                "data": {"a": "1", "b": "2"}}
        st, o = f.req("PATCH", url, json.dumps(body), ctype="application/apply-patch+yaml")
        self.assertEqual(st, 201, o)
        self.assertEqual(o["data"], {"a": "1", "b": "2"})
        mf = o["metadata"]["managedFields"]
        self.assertEqual(mf[0]["manager"], "wb")
        self.assertEqual(mf[0]["operation"], "Apply")
        self.assertIn("f:a", mf[0]["fieldsV1"]["f:data"])
        rv = o["metadata"]["resourceVersion"]
        st, o = f.req("PATCH", url, json.dumps(body), ctype="application/apply-patch+yaml")
        self.assertEqual(st, 200)
        self.assertEqual(o["metadata"]["resourceVersion"], rv)  # no-op
        st, o = f.req("PATCH", url, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  labels:\n    l1: a\n"
                      "data:\n  a: '1'\n  c: '3'\n", ctype="application/apply-patch+yaml")
        self.assertEqual(st, 200, o)
        self.assertEqual(o["data"], {"a": "1", "c": "3"})
        self.assertEqual(o["metadata"]["labels"], {"l1": "a"})
        # another manager changes a field -> conflict for wb unless forced
        st, o = f.req("PATCH", "/api/v1/namespaces/ssa/configmaps/cfg?fieldManager=other",
                      json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                                  "data": {"a": "9"}}), ctype="application/apply-patch+yaml")
        self.assertEqual(st, 409)
        self.assertEqual(o["reason"], "Conflict")
        self.assertIn('conflict with "wb"', o["message"])
        st, o = f.req("PATCH", "/api/v1/namespaces/ssa/configmaps/cfg?fieldManager=other&force=true",
                      json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                                  "data": {"a": "9"}}), ctype="application/apply-patch+yaml")
        self.assertEqual(st, 200)
        self.assertEqual(o["data"]["a"], "9")
        # deployment via SSA with container list merge, then removal of env var
        d = deploy("ssa-web")
        d["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
        st, o = f.req("PATCH", "/apis/apps/v1/namespaces/ssa/deployments/ssa-web?fieldManager=wb", json.dumps(d),
                      ctype="application/apply-patch+yaml")
        self.assertEqual(st, 201, o)
        d["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
        st, o = f.req("PATCH", "/apis/apps/v1/namespaces/ssa/deployments/ssa-web?fieldManager=wb", json.dumps(d),
                      ctype="application/apply-patch+yaml")
        self.assertEqual(st, 200, o)
        self.assertEqual(o["spec"]["template"]["spec"]["containers"][0]["env"], [{"name": "A", "value": "1"}])
        self.assertEqual(o["metadata"]["generation"], 2)

    def test_server_side_apply_takes_over_from_client_side_apply(self):
        """As on a real 1.32 server: `kubectl apply --server-side` (manager "kubectl") after client-side
        applies takes over the fields whose live value is still the last-applied one, without a
        conflict; another manager, or a field changed since (here by a scale), still conflicts, and
        the conflict names an Update's manager with its subresource and API version."""
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "csa"}})
        d = deploy("web", replicas=2)
        d["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(d)}
        st, o = f.req("POST", "/apis/apps/v1/namespaces/csa/deployments?fieldManager=kubectl-client-side-apply", d)
        self.assertEqual(st, 201, o)
        one = deploy("web", replicas=1)

        def apply(manager):
            return f.req("PATCH", "/apis/apps/v1/namespaces/csa/deployments/web?fieldManager=" + manager,
                         json.dumps(one), ctype="application/apply-patch+yaml")
        st, o = apply("other")
        self.assertEqual(st, 409, o)
        self.assertEqual(o["message"], 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                                       'using apps/v1: .spec.replicas')
        st, o = apply("kubectl")
        self.assertEqual(st, 200, o)
        self.assertEqual(o["spec"]["replicas"], 1)
        st, o = f.req("PATCH", "/apis/apps/v1/namespaces/csa/deployments/web/scale?fieldManager=kubectl",
                      json.dumps({"spec": {"replicas": 3}}), ctype="application/merge-patch+json")
        self.assertEqual(st, 200, o)
        st, o = apply("kubectl")
        self.assertEqual(st, 409, o)
        self.assertEqual(o["message"], 'Apply failed with 1 conflict: conflict with "kubectl" with subresource '
                                       '"scale" using apps/v1: .spec.replicas')

    def test_server_side_apply_shared_list_item(self):
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "ssa2"}})
        url = "/apis/apps/v1/namespaces/ssa2/deployments/shared"

        def env(o):
            return o["spec"]["template"]["spec"]["containers"][0]["env"]

        def entry(o, manager, subresource=None):
            es = [e for e in o["metadata"]["managedFields"]
                  if e["manager"] == manager and e.get("subresource") == subresource]
            self.assertEqual(len(es), 1, o["metadata"]["managedFields"])
            return es[0]

        def env_fields(e):
            return e["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"main"}']["f:env"]

        d = deploy("shared")
        d["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "5"}]
        st, o = f.req("PATCH", url + "?fieldManager=wb", json.dumps(d), ctype="application/apply-patch+yaml")
        self.assertEqual(st, 201, o)
        # let the deployment controller write the revision annotation and the status in between
        o = f.wait_for(lambda: (lambda x: x if (x.get("status") or {}).get("availableReplicas") else None)(
            f.req("GET", url)[1]), msg="deployment available")
        # the controller's writes: status through the status subresource, the revision annotation as an
        # Update; neither owns any spec field, and the spec is what wb applied
        kcm = entry(o, "kube-controller-manager", "status")
        self.assertEqual(list(kcm["fieldsV1"]), ["f:status"])
        self.assertEqual(entry(o, "kube-controller-manager")["fieldsV1"],
                         {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}})
        for e in o["metadata"]["managedFields"]:
            if e["manager"] != "wb":
                self.assertNotIn("f:spec", e["fieldsV1"], e)
        self.assertEqual(env(o), d["spec"]["template"]["spec"]["containers"][0]["env"])
        # a second manager changes B's value (Update): it owns that field of the item
        st, o = f.req("PATCH", url + "?fieldManager=other", json.dumps(
            {"spec": {"template": {"spec": {"containers": [{"name": "main", "env": [{"name": "B", "value": "3"}]}]}}}}),
            ctype="application/strategic-merge-patch+json")
        self.assertEqual(st, 200, o)
        self.assertEqual(env_fields(entry(o, "other")), {'k:{"name":"B"}': {"f:value": {}}})
        # a third manager applies C with the same value: shared ownership, no conflict
        st, o = f.req("PATCH", url + "?fieldManager=third", json.dumps(
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shared"},
             "spec": {"template": {"spec": {"containers": [{"name": "main", "env": [{"name": "C", "value": "5"}]}]}}}}),
            ctype="application/apply-patch+yaml")
        self.assertEqual(st, 200, o)
        # wb stops applying B and C: both stay (somebody else owns a field of each), with their keys
        d["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
        st, o = f.req("PATCH", url + "?fieldManager=wb", json.dumps(d), ctype="application/apply-patch+yaml")
        self.assertEqual(st, 200, o)
        self.assertEqual(env(o), [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "5"}])
        self.assertEqual(set(env_fields(entry(o, "wb", None))), {'k:{"name":"A"}'})
        self.assertEqual(env_fields(entry(o, "other")), {'k:{"name":"B"}': {"f:value": {}}})
        # the third manager stops applying C: it was C's only owner now, so C goes as a whole
        st, o = f.req("PATCH", url + "?fieldManager=third", json.dumps(
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shared"}}),
            ctype="application/apply-patch+yaml")
        self.assertEqual(st, 200, o)
        self.assertEqual(env(o), [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}])
        self.assertEqual(o["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.25")
        # the scale subresource records its own entry
        st, sc = f.req("PATCH", url + "/scale?fieldManager=scaler", {"spec": {"replicas": 2}},
                       ctype="application/merge-patch+json")
        self.assertEqual(st, 200, sc)
        o = f.req("GET", url)[1]
        self.assertEqual(entry(o, "scaler", "scale")["fieldsV1"], {"f:spec": {"f:replicas": {}}})
        self.assertEqual(env(o), [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}])
        # two template changes since the first rollout; the controller's annotation survives them all
        f.wait_for(lambda: f.req("GET", url)[1]["metadata"]["annotations"].get(
            "deployment.kubernetes.io/revision") == "3", msg="revision 3")

    def test_server_side_apply_removal_is_hash_seed_independent(self):
        # the removal order used to follow set iteration order, i.e. the string hash seed
        script = (
            "import json, sys; sys.path.insert(0, %r); import patch\n"
            "def d(env):\n"
            "    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'x'},\n"
            "            'spec': {'template': {'spec': {'containers': [{'name': 'c', 'image': 'i', 'env': env}]}}}}\n"
            "o = patch.server_side_apply(None, d([{'name': 'A', 'value': '1'}, {'name': 'B', 'value': '2'}]),\n"
            "                            'wb', 'apps/v1', False, 't', 'deployments', 'apps', 'x')\n"
            "o = patch.server_side_apply(o, d([{'name': 'A', 'value': '1'}]),\n"
            "                            'wb', 'apps/v1', False, 't', 'deployments', 'apps', 'x')\n"
            "print(json.dumps(o['spec']['template']['spec']['containers'][0]['env']))\n") % HERE
        for seed in range(12):
            out = subprocess.run(["/usr/bin/python3", "-c", script], env=dict(os.environ, PYTHONHASHSEED=str(seed)),
                                 check=True, stdout=subprocess.PIPE, text=True).stdout
            self.assertEqual(json.loads(out), [{"name": "A", "value": "1"}], f"PYTHONHASHSEED={seed}")

    def test_rbac(self):
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "shop-prod"}})
        st, body = f.req("POST", "/apis/apps/v1/namespaces/shop-prod/deployments", deploy("x"), token="tok-alice")
        self.assertEqual(st, 403)
        self.assertEqual(body["reason"], "Forbidden")
        self.assertIn('User "alice" cannot create resource "deployments" in API group "apps" in the namespace '
                      '"shop-prod"', body["message"])
        ssar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"namespace": "shop-prod", "verb": "create", "group": "apps",
                                                "resource": "deployments"}}}
        st, body = f.req("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", ssar, token="tok-alice")
        self.assertEqual(st, 201)
        self.assertFalse(body["status"]["allowed"])
        f.req("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop-prod/rolebindings",
              {"metadata": {"name": "devs-edit"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
               "subjects": [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]})
        st, body = f.req("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", ssar, token="tok-alice")
        self.assertTrue(body["status"]["allowed"])
        st, body = f.req("POST", "/apis/apps/v1/namespaces/shop-prod/deployments", deploy("x"), token="tok-alice")
        self.assertEqual(st, 201)
        st, body = f.req("GET", "/apis/apps/v1/namespaces/default/deployments", token="tok-alice")
        self.assertEqual(st, 403)
        # bob: role with resourceNames
        f.req("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop-prod/roles",
              {"metadata": {"name": "one-cm"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                                                          "resourceNames": ["allowed"], "verbs": ["get"]}]})
        f.req("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop-prod/rolebindings",
              {"metadata": {"name": "bob"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                        "name": "one-cm"},
               "subjects": [{"kind": "User", "name": "bob"}]})
        f.req("POST", "/api/v1/namespaces/shop-prod/configmaps", {"metadata": {"name": "allowed"}})
        f.req("POST", "/api/v1/namespaces/shop-prod/configmaps", {"metadata": {"name": "other"}})
        self.assertEqual(f.req("GET", "/api/v1/namespaces/shop-prod/configmaps/allowed", token="tok-bob")[0], 200)
        self.assertEqual(f.req("GET", "/api/v1/namespaces/shop-prod/configmaps/other", token="tok-bob")[0], 403)
        # service account token via TokenRequest
        f.req("POST", "/api/v1/namespaces/shop-prod/serviceaccounts", {"metadata": {"name": "deployer"}})
        st, tr = f.req("POST", "/api/v1/namespaces/shop-prod/serviceaccounts/deployer/token",
                       {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
        self.assertEqual(st, 201, tr)
        tok = tr["status"]["token"]
        st, body = f.req("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                         {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}, token=tok)
        self.assertEqual(body["status"]["userInfo"]["username"], "system:serviceaccount:shop-prod:deployer")
        self.assertIn("system:serviceaccounts:shop-prod", body["status"]["userInfo"]["groups"])
        st, body = f.req("GET", "/api/v1/namespaces/shop-prod/pods", token=tok)
        self.assertEqual(st, 403)
        f.req("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop-prod/rolebindings",
              {"metadata": {"name": "sa-view"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                            "kind": "ClusterRole", "name": "view"},
               "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "shop-prod"}]})
        st, body = f.req("GET", "/api/v1/namespaces/shop-prod/pods", token=tok)
        self.assertEqual(st, 200)
        # secret-based SA token
        st, s = f.req("POST", "/api/v1/namespaces/shop-prod/secrets",
                      {"metadata": {"name": "deployer-tok", "annotations": {"kubernetes.io/service-account.name": "deployer"}},
                       "type": "kubernetes.io/service-account-token"})
        import base64
        tok2 = base64.b64decode(s["data"]["token"]).decode()
        self.assertEqual(f.req("GET", "/api/v1/namespaces/shop-prod/pods", token=tok2)[0], 200)
        f.req("DELETE", "/api/v1/namespaces/shop-prod/secrets/deployer-tok")
        self.assertEqual(f.req("GET", "/api/v1/namespaces/shop-prod/pods", token=tok2)[0], 401)

    # ---------------------------------------------------------------- controllers
    def _pods(self, ns, sel):
        return self.f.req("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector={sel}")[1]["items"]

    def test_deployment_rollout(self):
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "roll"}})
        st, d = f.req("POST", "/apis/apps/v1/namespaces/roll/deployments", deploy("web", replicas=3))
        self.assertEqual(st, 201)

        def ready():
            d = f.req("GET", "/apis/apps/v1/namespaces/roll/deployments/web")[1]
            st = d.get("status", {})
            conds = {c["type"]: c for c in st.get("conditions", [])}
            ok = st.get("readyReplicas") == 3 and st.get("updatedReplicas") == 3 and st.get("replicas") == 3 and \
                conds.get("Progressing", {}).get("reason") == "NewReplicaSetAvailable" and \
                st.get("observedGeneration") == d["metadata"]["generation"]
            return d if ok else None
        d = f.wait_for(ready, msg="deployment ready")
        self.assertEqual(len(self._pods("roll", "app%3Dweb")), 3)
        pod = self._pods("roll", "app%3Dweb")[0]
        self.assertRegex(pod["metadata"]["name"], r"^web-[a-z0-9]+-[a-z0-9]{5}$")
        self.assertIn("pod-template-hash", pod["metadata"]["labels"])
        # rollout with change-cause
        st, d = f.req("PATCH", "/apis/apps/v1/namespaces/roll/deployments/web",
                      {"metadata": {"annotations": {"kubernetes.io/change-cause": "v2"}},
                       "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.26"}]}}}},
                      ctype="application/strategic-merge-patch+json")
        self.assertEqual(d["metadata"]["generation"], 2)
        f.wait_for(lambda: ready() and all(p["spec"]["containers"][0]["image"] == "nginx:1.26"
                                           for p in self._pods("roll", "app%3Dweb")) and
                   len(self._pods("roll", "app%3Dweb")) == 3, msg="rollout")
        rss = f.req("GET", "/apis/apps/v1/namespaces/roll/replicasets")[1]["items"]
        self.assertEqual(len(rss), 2)
        new = [r for r in rss if r["spec"]["replicas"] == 3][0]
        self.assertEqual(new["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2")
        self.assertEqual(new["metadata"]["annotations"]["kubernetes.io/change-cause"], "v2")
        # pod deletion -> replacement
        victim = self._pods("roll", "app%3Dweb")[0]["metadata"]["name"]
        st, body = f.req("DELETE", f"/api/v1/namespaces/roll/pods/{victim}")
        self.assertEqual(body["kind"], "Pod")
        f.wait_for(lambda: len(self._pods("roll", "app%3Dweb")) == 3 and
                   victim not in [p["metadata"]["name"] for p in self._pods("roll", "app%3Dweb")], msg="replacement")
        # events
        evs = f.req("GET", "/api/v1/namespaces/roll/events")[1]["items"]
        reasons = {e["reason"] for e in evs}
        for r in ("ScalingReplicaSet", "Scheduled", "Pulling", "Pulled", "Created", "Started", "SuccessfulCreate",
                  "Killing"):
            self.assertIn(r, reasons)
        # scale to zero
        st, sc = f.req("PATCH", "/apis/apps/v1/namespaces/roll/deployments/web/scale", {"spec": {"replicas": 0}},
                       ctype="application/merge-patch+json")
        self.assertEqual(sc["kind"], "Scale")
        f.wait_for(lambda: len(self._pods("roll", "app%3Dweb")) == 0, msg="scaled to zero")
        # delete cascades
        st, body = f.req("DELETE", "/apis/apps/v1/namespaces/roll/deployments/web")
        self.assertEqual(body["status"], "Success")
        self.assertEqual(f.req("GET", "/apis/apps/v1/namespaces/roll/replicasets")[1]["items"], [])

    def test_defaults_and_generations_as_a_real_server_makes_them(self):
        # Seen on kube-apiserver 1.32: volume file modes and a hostPath's type filled in; a
        # Deployment's generation counts annotation changes (kubectl apply's last-applied, a
        # change-cause alone), while its revision and pods stay.
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "dflt"}})
        d = deploy("web", replicas=1)
        d["spec"]["template"]["spec"]["volumes"] = [
            {"name": "a", "configMap": {"name": "a"}}, {"name": "b", "secret": {"secretName": "b"}},
            {"name": "c", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            {"name": "d", "projected": {"sources": [{"configMap": {"name": "a"}}]}},
            {"name": "e", "hostPath": {"path": "/tmp"}}, {"name": "f", "emptyDir": {}},
            {"name": "g", "configMap": {"name": "g", "defaultMode": 256}}]
        st, d = f.req("POST", "/apis/apps/v1/namespaces/dflt/deployments", d)
        self.assertEqual(st, 201, d)
        vols = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
        for name, source in (("a", "configMap"), ("b", "secret"), ("c", "downwardAPI"), ("d", "projected")):
            self.assertEqual(vols[name][source]["defaultMode"], 420, name)
        self.assertEqual(vols["e"]["hostPath"], {"path": "/tmp", "type": ""})
        self.assertEqual(vols["f"], {"name": "f", "emptyDir": {}})
        self.assertEqual(vols["g"]["configMap"]["defaultMode"], 256)
        self.assertEqual(d["metadata"]["generation"], 1)
        st, d = f.req("PATCH", "/apis/apps/v1/namespaces/dflt/deployments/web",
                      {"metadata": {"annotations": {"team": "orders"}}}, ctype="application/merge-patch+json")
        self.assertEqual((st, d["metadata"]["generation"]), (200, 2), d)
        st, d = f.req("PATCH", "/apis/apps/v1/namespaces/dflt/deployments/web",
                      {"metadata": {"labels": {"tier": "web"}}}, ctype="application/merge-patch+json")
        self.assertEqual((st, d["metadata"]["generation"]), (200, 2), d)  # labels do not count
        f.wait_for(lambda: f.req("GET", "/apis/apps/v1/namespaces/dflt/deployments/web")[1].get("status", {})
                   .get("observedGeneration") == 2, msg="observed generation 2")
        rss = f.req("GET", "/apis/apps/v1/namespaces/dflt/replicasets")[1]["items"]
        self.assertEqual([r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rss], ["1"])

    def test_behaviours(self):
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "beh"}})
        f.req("POST", "/apis/apps/v1/namespaces/beh/deployments", deploy("crash", image="acme/crashloop:1"))
        f.req("POST", "/apis/apps/v1/namespaces/beh/deployments",
              deploy("crash2", ann={"fake.wb.dev/behaviour": "crashloop"}))
        f.req("POST", "/apis/apps/v1/namespaces/beh/deployments", deploy("pull", image="acme/imagepullfail:1"))
        f.req("POST", "/apis/apps/v1/namespaces/beh/deployments", deploy("nosched", image="acme/unschedulable:1"))

        def cs(name):
            ps = self._pods("beh", f"app%3D{name}")
            if not ps:
                return None
            return ps[0]

        def crashed(name):
            p = cs(name)
            if not p:
                return None
            s = (p["status"].get("containerStatuses") or [{}])[0]
            return p if s.get("restartCount", 0) >= 2 and s.get("lastState", {}).get("terminated", {}).get("exitCode") == 1 \
                else None
        p = f.wait_for(lambda: crashed("crash"), msg="crashloop")
        f.wait_for(lambda: crashed("crash2"), msg="crashloop by annotation")
        pname = p["metadata"]["name"]
        st, logs = f.req("GET", f"/api/v1/namespaces/beh/pods/{pname}/log?previous=true", raw=True)
        self.assertEqual(st, 200)
        self.assertIn(b"Starting acme/crashloop:1", logs)
        f.wait_for(lambda: (cs("crash")["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")
                            == "CrashLoopBackOff"), msg="CrashLoopBackOff state")

        def pullfail():
            p = cs("pull")
            w = ((p or {}).get("status", {}).get("containerStatuses") or [{}])[0].get("state", {}).get("waiting", {})
            return w.get("reason") in ("ImagePullBackOff", "ErrImagePull") and w
        w = f.wait_for(pullfail, msg="image pull failure")
        self.assertIn("acme/imagepullfail:1", w["message"])

        def nosched():
            p = cs("nosched")
            conds = (p or {}).get("status", {}).get("conditions") or []
            return any(c["type"] == "PodScheduled" and c["status"] == "False" and c["reason"] == "Unschedulable"
                       for c in conds) and p
        p = f.wait_for(nosched, msg="unschedulable")
        self.assertEqual(p["status"]["phase"], "Pending")
        evs = f.req("GET", "/api/v1/namespaces/beh/events?fieldSelector=involvedObject.name%3D" +
                    p["metadata"]["name"])[1]["items"]
        self.assertEqual(evs[0]["reason"], "FailedScheduling")
        self.assertEqual(evs[0]["message"], "0/3 nodes are available: 3 Insufficient memory.")
        st, d = f.req("GET", "/apis/apps/v1/namespaces/beh/deployments/pull")
        self.assertNotEqual(d["status"].get("readyReplicas"), 1)

    # ---------------------------------------------------------------- logs
    def _running_pod(self, ns, name, containers=None):
        f = self.f
        f.req("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
        spec = {"containers": containers or [{"name": "main", "image": "busybox"}]}
        f.req("POST", f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": name}, "spec": spec})
        f.wait_for(lambda: f.req("GET", f"/api/v1/namespaces/{ns}/pods/{name}")[1]["status"].get("phase") == "Running",
                   msg="pod running")

    def test_logs(self):
        f = self.f
        self._running_pod("logs", "p")
        f.req("POST", "/fake/v1/namespaces/logs/pods/p/log", "one\ntwo\nthree\n", ctype="text/plain")
        st, body = f.req("GET", "/api/v1/namespaces/logs/pods/p/log?tailLines=2", raw=True)
        self.assertEqual(body, b"two\nthree\n")
        st, body = f.req("GET", "/api/v1/namespaces/logs/pods/p/log?tailLines=1&timestamps=true", raw=True)
        self.assertRegex(body.decode(), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$")
        st, body = f.req("GET", "/api/v1/namespaces/logs/pods/p/log?limitBytes=5", raw=True)
        self.assertEqual(len(body), 5)
        st, body = f.req("GET", "/api/v1/namespaces/logs/pods/p/log?previous=true")
        self.assertEqual(st, 400)
        self.assertEqual(body["message"], 'previous terminated container "main" in pod "p" not found')
        # follow
        c = f.conn()
        c.request("GET", "/api/v1/namespaces/logs/pods/p/log?follow=true&tailLines=1",
                  headers={"Authorization": f"Bearer {f.token}"})
        r = c.getresponse()
        self.assertEqual(r.readline(), b"three\n")
        f.req("POST", "/fake/v1/namespaces/logs/pods/p/log", "four\n", ctype="text/plain")
        self.assertEqual(r.readline(), b"four\n")
        # log-cut reaches the one open follow stream, and says so
        st, body = f.req("POST", "/fake/v1/namespaces/logs/pods/p/log-cut")
        self.assertEqual((st, body), (200, {"cut": True, "streams": 1}))
        with self.assertRaises(Exception):
            r.read()
        c.close()
        st, body = f.req("POST", "/fake/v1/namespaces/logs/pods/p/log-cut")
        self.assertEqual(body["streams"], 0)
        # a follower that hangs up is let go of (not left waiting for the next line)
        c = f.conn()
        c.request("GET", "/api/v1/namespaces/logs/pods/p/log?follow=true&tailLines=0",
                  headers={"Authorization": f"Bearer {f.token}"})
        # Like kube-apiserver 1.32, a follow of a quiet log answers at once: status line and
        # headers before any line (then nothing until the log has one).
        c.sock.settimeout(0.5)
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        with self.assertRaises(socket.timeout):
            r.readline()
        c.close()
        time.sleep(0.6)
        st, body = f.req("POST", "/fake/v1/namespaces/logs/pods/p/log-cut")
        self.assertEqual(body["streams"], 0)
        c = f.conn()
        c.request("GET", "/api/v1/namespaces/logs/pods/p/log?follow=true&tailLines=1",
                  headers={"Authorization": f"Bearer {f.token}"})
        r = c.getresponse()
        self.assertEqual(r.readline(), b"four\n")
        f.req("DELETE", "/api/v1/namespaces/logs/pods/p")
        self.assertEqual(r.read(), b"")  # stream ends when the pod goes away
        c.close()
        # several containers
        self._running_pod("logs", "multi", [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
        st, body = f.req("GET", "/api/v1/namespaces/logs/pods/multi/log")
        self.assertEqual(st, 400)
        self.assertEqual(body["message"], "a container name must be specified for pod multi, choose one of: [a b]")
        st, body = f.req("GET", "/api/v1/namespaces/logs/pods/multi/log?container=b", raw=True)
        self.assertIn(b"Starting y", body)
        # crash via control API -> previous logs
        f.req("POST", "/fake/v1/namespaces/logs/pods/multi/log?container=a", "before crash\n", ctype="text/plain")
        f.req("POST", "/fake/v1/namespaces/logs/pods/multi/crash?container=a&exitCode=2")
        f.wait_for(lambda: f.req("GET", "/api/v1/namespaces/logs/pods/multi/log?container=a&previous=true")[0] == 200,
                   msg="previous logs")
        st, body = f.req("GET", "/api/v1/namespaces/logs/pods/multi/log?container=a&previous=true", raw=True)
        self.assertIn(b"before crash", body)
        # Like a kubelet 1.32 for a second or two after a restart (setting previousLogGap): the
        # previous log is answered 200 with the kubelet's error text, no newline; then the log.
        f.req("POST", "/fake/v1/settings", {"previousLogGap": 1.0})
        try:
            def restarts(running=False):
                pod = f.req("GET", "/api/v1/namespaces/logs/pods/multi")[1]
                st = next(c for c in pod["status"]["containerStatuses"] if c["name"] == "a")
                return st["restartCount"] if not running or "running" in st["state"] else None
            f.wait_for(lambda: restarts(running=True) == 1, msg="the second run")
            st, body = f.req("POST", "/fake/v1/namespaces/logs/pods/multi/crash?container=a&exitCode=2",
                             "second crash\n", ctype="text/plain")
            self.assertEqual(st, 200, body)
            f.wait_for(lambda: restarts() == 2, msg="the second crash")
            st, body = f.req("GET", "/api/v1/namespaces/logs/pods/multi/log?container=a&previous=true", raw=True)
            self.assertEqual(st, 200)
            self.assertRegex(body.decode(), r"^unable to retrieve container logs for containerd://\S+$")
            f.wait_for(lambda: b"second crash\n" in f.req("GET", "/api/v1/namespaces/logs/pods/multi/log?"
                                                            "container=a&previous=true", raw=True)[1],
                       msg="the previous log after the gap")
        finally:
            f.req("POST", "/fake/v1/settings", {"previousLogGap": 0})

    # ---------------------------------------------------------------- exec
    def _exec(self, ns, pod, command, stdin=None, proto="v5.channel.k8s.io", close_stdin=True, expect_proto=None):
        import aiohttp
        import urllib.parse
        f = self.f

        async def run():
            q = [("command", c) for c in command] + [("stdout", "true"), ("stderr", "true")]
            if stdin is not None:
                q.append(("stdin", "true"))
            url = f"https://127.0.0.1:{f.port}/api/v1/namespaces/{ns}/pods/{pod}/exec?" + urllib.parse.urlencode(q)
            out = {1: b"", 2: b"", 3: b""}
            async with aiohttp.ClientSession() as s:
                async with s.ws_connect(url, protocols=[proto, "v4.channel.k8s.io"], ssl=f.ctx,
                                        headers={"Authorization": f"Bearer {f.token}"}, max_msg_size=0) as ws:
                    self.assertEqual(ws.protocol, expect_proto or proto)
                    if stdin is not None:
                        await ws.send_bytes(b"\x00" + stdin)
                        if close_stdin:
                            await ws.send_bytes(b"\xff\x00")
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.BINARY:
                            out[msg.data[0]] += msg.data[1:]
                    return out, ws.close_code
        return asyncio.run(run())

    def test_exec(self):
        f = self.f
        self._running_pod("ex", "p")
        out, code = self._exec("ex", "p", ["cat", "/etc/hostname"])
        self.assertEqual(out[1], b"p\n")
        self.assertEqual(json.loads(out[3]), {"metadata": {}, "status": "Success"})
        self.assertEqual(code, 1000)
        out, code = self._exec("ex", "p", ["sh", "-c", "echo err >&2; exit 2"])
        self.assertEqual(out[2], b"err\n")
        st = json.loads(out[3])
        self.assertEqual(st["status"], "Failure")
        self.assertEqual(st["reason"], "NonZeroExitCode")
        self.assertEqual(st["details"]["causes"], [{"reason": "ExitCode", "message": "2"}])
        self.assertEqual(st["message"], "command terminated with non-zero exit code: error executing command "
                                        "[sh -c echo err >&2; exit 2], exit code 2")
        # stdin with v5 close signal
        out, code = self._exec("ex", "p", ["sh", "-c", "cat > /tmp/in; wc -c < /tmp/in"], stdin=b"x" * 100000)
        self.assertEqual(out[1].strip(), b"100000")
        root = f.req("GET", "/fake/v1/namespaces/ex/pods/p/root")[1]["path"]
        self.assertEqual(os.path.getsize(os.path.join(root, "tmp/in")), 100000)
        # As on a real node (containerd's CRI exec): once the command closes its stdout or its
        # stderr, its stdin is closed too; what had not reached it is lost (GNU and busybox
        # `dd of=FILE` close stdout, so a bare dd loses the upload).
        for closes in ("exec >&-", "exec 2>&-"):
            out, code = self._exec("ex", "p", ["sh", "-c", closes + "; sleep 0.5; cat > /tmp/lost"],
                                   stdin=b"x" * 1000000)
            self.assertEqual(json.loads(out[3])["status"], "Success")
            self.assertLess(os.path.getsize(os.path.join(root, "tmp/lost")), 1000000, closes)
        # v4 (no stdin close signal): command without stdin
        out, code = self._exec("ex", "p", ["ls", "/app"], proto="v4.channel.k8s.io")
        self.assertIn(b"logs", out[1])
        self.assertEqual(json.loads(out[3])["status"], "Success")
        # unknown command
        out, code = self._exec("ex", "p", ["nosuchcmd"])
        st = json.loads(out[3])
        self.assertEqual(st["status"], "Failure")
        self.assertIn('exec: "nosuchcmd": executable file not found in $PATH', st["message"])
        self.assertTrue(st["message"].startswith("Internal error occurred: Internal error occurred: error executing "
                                                 "command in container: "), st["message"])
        self.assertEqual(st["message"], "Internal error occurred: " + st["details"]["causes"][0]["message"])
        # exec override for tar
        f.req("POST", "/fake/v1/namespaces/ex/pods/p/exec-override", b"EVIL-TAR-BYTES", ctype="application/octet-stream")
        out, code = self._exec("ex", "p", ["tar", "cf", "-", "/app"])
        self.assertEqual(out[1], b"EVIL-TAR-BYTES")
        out, code = self._exec("ex", "p", ["tar", "cf", "-", "-C", "/etc", "hostname"])
        self.assertTrue(out[1].startswith(b"hostname"))
        # non-upgrade request
        st, body = f.req("GET", "/api/v1/namespaces/ex/pods/p/exec?command=ls")
        self.assertEqual(st, 400)
        # notar behaviour
        f.req("POST", "/api/v1/namespaces/ex/pods",
              {"metadata": {"name": "nt", "annotations": {"fake.wb.dev/behaviour": "notar"}},
               "spec": {"containers": [{"name": "main", "image": "busybox"}]}})
        f.wait_for(lambda: f.req("GET", "/api/v1/namespaces/ex/pods/nt")[1]["status"].get("phase") == "Running")
        out, code = self._exec("ex", "nt", ["tar", "cf", "-", "/app"])
        self.assertIn('exec: "tar": executable file not found', json.loads(out[3])["message"])

    def test_exec_over_spdy(self):
        """SPDY/3.1 exec as the kit's 1.32 API server + kubelet answer it (spdyclient.py against both):
        a SYN_REPLY per stream, output ended by an empty FIN frame per stream, the status JSON on the
        error stream, RST_STREAM on error and stdin, GOAWAY, close."""
        import urllib.parse
        import spdyclient
        f = self.f
        self._running_pod("exs", "p")
        base = f"https://127.0.0.1:{f.port}/api/v1/namespaces/exs/pods/p/exec?"

        def run(command, stdin=None, **kw):
            q = [("command", c) for c in command] + [("stdout", "1"), ("stderr", "1")]
            streams = ("error", "stdout", "stderr")
            if stdin is not None:
                q.append(("stdin", "1"))
                streams = ("error", "stdin", "stdout", "stderr")
            return spdyclient.run(base + urllib.parse.urlencode(q), f.token, f.info["ca"], stdin=stdin,
                                  streams=streams, **kw)

        r = run(["sh", "-c", "echo out; echo err >&2"], ping=True)
        self.assertEqual(r["status"], 101, r["body"])
        self.assertEqual(r["headers"]["x-stream-protocol-version"], ["v4.channel.k8s.io"])
        self.assertEqual((r["out"], r["err"]), (b"out\n", b"err\n"))
        self.assertEqual(r["exit"], {"metadata": {}, "status": "Success"})
        frames = spdyclient.squeeze(r["frames"])
        self.assertEqual(sorted(x[1] for x in frames if x[0] == "SYN_REPLY"), ["error", "stderr", "stdout"])
        self.assertIn(("PING", None, 0), frames)
        for kind in ("stdout", "stderr"):  # each output stream: data, then an empty frame with FIN
            self.assertEqual([x for x in frames if x[0] == "DATA" and x[1] == kind],
                             [("DATA", kind, 0), ("DATA", kind, 1)])
        self.assertEqual(frames[-3:], [("DATA", "error", 0), ("RST_STREAM", "error", 0), ("GOAWAY", None, 0)])
        # stdin (ended by FIN) through to the command; a non-zero exit as on the WebSocket
        r = run(["sh", "-c", "cat > /tmp/in; wc -c < /tmp/in; exit 3"], stdin=b"y" * 300000)
        self.assertEqual(r["out"].strip(), b"300000")
        self.assertEqual(r["exit"]["reason"], "NonZeroExitCode")
        self.assertEqual(r["exit"]["details"]["causes"], [{"reason": "ExitCode", "message": "3"}])
        tail = [x for x in spdyclient.squeeze(r["frames"]) if x[0] in ("RST_STREAM", "GOAWAY")]
        self.assertEqual(sorted(tail[:2]), [("RST_STREAM", "error", 0), ("RST_STREAM", "stdin", 0)])  # either order
        self.assertEqual(tail[2:], [("GOAWAY", None, 0)])
        root = f.req("GET", "/fake/v1/namespaces/exs/pods/p/root")[1]["path"]
        self.assertEqual(os.path.getsize(os.path.join(root, "tmp/in")), 300000)
        # 8 MiB in: reading pauses while the command lags and nothing is lost
        r = run(["sh", "-c", "sleep 1; cat > /tmp/big; wc -c < /tmp/big"], stdin=os.urandom(1 << 23))
        self.assertEqual(r["out"].strip(), str(1 << 23).encode())
        r = run(["nosuchcmd"])
        self.assertIn('exec: "nosuchcmd": executable file not found in $PATH', r["exit"]["message"])
        # refusals as the kubelet writes them (text/plain, through the API server)
        for query, protocols, status_wanted in (("command=true&stdout=1", (), 400),
                                                ("command=true&stdout=1", ("v9.example",), 403),
                                                ("command=true", ("v4.channel.k8s.io",), 400)):
            s, status, headers, rest = spdyclient.connect(base + query, f.token, f.info["ca"], protocols=protocols)
            s.close()
            self.assertEqual(status, status_wanted, (query, protocols))
            if status == 403:
                self.assertEqual(headers["x-accepted-stream-protocol-versions"][0], "v4.channel.k8s.io")
        # Over a WebSocket the same request is upgraded first and refused in the Status (as on the kit).
        import aiohttp

        async def ws_without_streams():
            async with aiohttp.ClientSession() as sess:
                async with sess.ws_connect(base + "command=true", protocols=["v5.channel.k8s.io"], ssl=f.ctx,
                                           headers={"Authorization": f"Bearer {f.token}"}) as ws:
                    got = [m.data async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
                    return got, ws.close_code
        got, code = asyncio.run(ws_without_streams())
        self.assertEqual(code, 1000)
        st = json.loads(b"".join(m[1:] for m in got if m[:1] == b"\x03"))
        self.assertEqual((st["reason"], st["code"]), ("InternalError", 500))
        self.assertEqual(st["message"], "Internal error occurred: unable to upgrade connection: "
                                        "you must specify at least 1 of stdin, stdout, stderr")
        # execSpdy=0: a proxy that passes WebSockets only
        f.req("POST", "/fake/v1/settings", {"execSpdy": 0})
        try:
            self.assertEqual(run(["true"])["status"], 400)
        finally:
            f.req("POST", "/fake/v1/settings", {"execSpdy": 1})
        execs = [e for e in f.req("GET", "/fake/v1/requests")[1]["items"]
                 if e["path"] == "/api/v1/namespaces/exs/pods/p/exec"]
        self.assertEqual([e["status"] for e in execs if e["method"] == "POST"][:4], [101, 101, 101, 101])

    def test_exec_cut_v4_only_and_log_cut_after_bytes(self):
        f = self.f
        self._running_pod("excut", "p")
        root = f.req("GET", "/fake/v1/namespaces/excut/pods/p/root")[1]["path"]
        with open(os.path.join(root, "app", "blob"), "wb") as fh:
            fh.write(os.urandom(1 << 20))
        f.req("DELETE", "/fake/v1/requests")
        st, body = f.req("POST", "/fake/v1/namespaces/excut/pods/p/exec-cut?afterBytes=300000&count=1")
        self.assertEqual(st, 200, body)
        # Small outputs do not use the cut up; the big one breaks off like a dropped connection:
        # no exit status, no close code 1000, at most afterBytes arrive.
        out, code = self._exec("excut", "p", ["cat", "/etc/hostname"])
        self.assertEqual(code, 1000)
        out, code = self._exec("excut", "p", ["cat", "/app/blob"])
        self.assertEqual(out[3], b"")
        self.assertNotEqual(code, 1000)
        self.assertLessEqual(len(out[1]), 300000)
        out, code = self._exec("excut", "p", ["cat", "/app/blob"])  # used up
        self.assertEqual(len(out[1]), 1 << 20)
        self.assertEqual(json.loads(out[3])["status"], "Success")
        execs = [e for e in f.req("GET", "/fake/v1/requests")[1]["items"] if e["path"].endswith("/exec")]
        self.assertEqual([e.get("execCut", False) for e in execs], [False, True, False])
        self.assertEqual(execs[1]["execBytesOut"], 300000)
        self.assertEqual(execs[2]["execBytesOut"], 1 << 20)
        # execV5=0: an API server before 1.30 picks v4 even when v5 is offered.
        f.req("POST", "/fake/v1/settings", {"execV5": 0})
        try:
            out, code = self._exec("excut", "p", ["cat", "/etc/hostname"], expect_proto="v4.channel.k8s.io")
            self.assertEqual(out[1], b"p\n")
        finally:
            f.req("POST", "/fake/v1/settings", {"execV5": 1})
        # log-cut?afterBytes: the next (non-follow) log stream breaks off mid-body.
        f.req("POST", "/fake/v1/namespaces/excut/pods/p/log", b"".join(b"line %03d\n" % i for i in range(100)),
              ctype="text/plain")
        st, body = f.req("POST", "/fake/v1/namespaces/excut/pods/p/log-cut?afterBytes=100")
        self.assertEqual(st, 200, body)
        with self.assertRaises(Exception):
            f.req("GET", "/api/v1/namespaces/excut/pods/p/log", raw=True)
        st, body = f.req("GET", "/api/v1/namespaces/excut/pods/p/log", raw=True)
        self.assertIn(b"line 099", body)


class Version118Test(unittest.TestCase):
    def test_118(self):
        f = Fake(["--k8s-version", "1.18"])
        try:
            st, body = f.req("GET", "/version")
            self.assertEqual(body["gitVersion"], "v1.18.20")
            st, body = f.req("GET", "/apis/networking.k8s.io/v1")
            self.assertNotIn("ingresses", [r["name"] for r in body["resources"]])  # only NetworkPolicy in 1.18
            self.assertEqual(f.req("GET", "/apis/extensions/v1beta1")[0], 200)
            st, body = f.req("GET", "/apis/networking.k8s.io/v1beta1")
            self.assertIn("ingresses", [r["name"] for r in body["resources"]])
            self.assertEqual(f.req("GET", "/apis/authentication.k8s.io/v1")[0], 404)
            self.assertEqual(f.req("GET", "/apis/discovery.k8s.io/v1")[0], 404)  # EndpointSlice v1: 1.21
            st, body = f.req("POST", "/apis/extensions/v1beta1/namespaces/default/ingresses",
                             {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "i"},
                              "spec": {"backend": {"serviceName": "s", "servicePort": 80}}})
            self.assertEqual(st, 201, body)
            st, body = f.req("GET", "/apis/networking.k8s.io/v1beta1/namespaces/default/ingresses/i")
            self.assertEqual(body["apiVersion"], "networking.k8s.io/v1beta1")
        finally:
            f.stop()


class EscalationTest(unittest.TestCase):
    """RBAC escalation prevention and a namespace's own name as its namespace, like kube-apiserver."""

    @classmethod
    def setUpClass(cls):
        cls.f = Fake(tokens='tok-adm,nsadmin,uid-a\ntok-dev,dev,uid-d\n')

    @classmethod
    def tearDownClass(cls):
        cls.f.stop()

    def rb(self, ns, name, role, user, kind="ClusterRole"):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}

    def test_bindings_need_bind_or_the_permissions(self):
        f = self.f
        for ns in ("esc-a", "esc-b"):
            self.assertEqual(f.req("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})[0], 201)
        # nsadmin may manage rolebindings in esc-a and bind "view" there (not "edit"), holds "view" rules
        f.req("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "metadata": {"name": "esc-binder"},
            "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"],
                       "verbs": ["create", "get", "list", "update", "delete"]},
                      {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                       "verbs": ["bind"], "resourceNames": ["view"]}]})
        st, body = f.req("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/esc-a/rolebindings",
                         self.rb("esc-a", "adm", "esc-binder", "nsadmin"))
        self.assertEqual(st, 201, body)
        rbs = "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings"
        # bind on view: allowed
        st, body = f.req("POST", rbs % "esc-a", self.rb("esc-a", "dev-view", "view", "dev"), token="tok-adm")
        self.assertEqual(st, 201, body)
        # edit: neither bind nor its permissions -> 403 naming the missing rules
        st, body = f.req("POST", rbs % "esc-a", self.rb("esc-a", "dev-edit", "edit", "dev"), token="tok-adm")
        self.assertEqual(st, 403, body)
        self.assertEqual(body["reason"], "Forbidden")
        self.assertIn('rolebindings.rbac.authorization.k8s.io "dev-edit" is forbidden: user "nsadmin" '
                      '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently '
                      'held:\n{APIGroups:["', body["message"])
        # dry run is checked too
        st, _ = f.req("POST", rbs % "esc-a" + "?dryRun=All", self.rb("esc-a", "dev-edit", "edit", "dev"),
                      token="tok-adm")
        self.assertEqual(st, 403)
        # a role whose permissions nsadmin holds (esc-binder itself) may be bound without `bind`
        st, body = f.req("POST", rbs % "esc-a", self.rb("esc-a", "dev-binder", "esc-binder", "dev"),
                         token="tok-adm")
        self.assertEqual(st, 201, body)
        # nothing in another namespace: no create there at all
        st, body = f.req("POST", rbs % "esc-b", self.rb("esc-b", "dev-view", "view", "dev"), token="tok-adm")
        self.assertEqual(st, 403, body)
        self.assertIn('cannot create resource "rolebindings"', body["message"])
        # updating subjects of a binding to a role one may not bind is refused as well
        st, body = f.req("POST", rbs % "esc-a", self.rb("esc-a", "dev-edit", "edit", "nobody"))
        self.assertEqual(st, 201, body)
        body["subjects"].append({"kind": "User", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"})
        st, body = f.req("PUT", (rbs % "esc-a") + "/dev-edit", body, token="tok-adm")
        self.assertEqual(st, 403, body)
        # ClusterRoles: creating one with rules you lack needs escalate
        f.req("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "metadata": {"name": "esc-cr-writer"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "esc-cr-writer"},
            "subjects": [{"kind": "User", "name": "nsadmin"}]})
        f.req("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "metadata": {"name": "esc-cr-writer"},
            "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                       "verbs": ["create"]}]})
        st, body = f.req("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "metadata": {"name": "esc-mine"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
            token="tok-adm")
        self.assertEqual(st, 403, body)
        self.assertIn('{APIGroups:["*"], Resources:["*"], Verbs:["*"]}', body["message"])
        st, body = f.req("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "metadata": {"name": "esc-small"},
            "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                       "verbs": ["create"]}]}, token="tok-adm")
        self.assertEqual(st, 201, body)

    def test_a_namespace_is_authorized_in_itself(self):
        f = self.f
        self.assertEqual(f.req("POST", "/api/v1/namespaces", {"metadata": {"name": "esc-self"}})[0], 201)
        self.assertEqual(f.req("GET", "/api/v1/namespaces/esc-self", token="tok-dev")[0], 403)
        st, body = f.req("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/esc-self/rolebindings",
                         self.rb("esc-self", "v", "view", "dev"))
        self.assertEqual(st, 201, body)
        st, body = f.req("GET", "/api/v1/namespaces/esc-self", token="tok-dev")
        self.assertEqual(st, 200, body)
        self.assertEqual(f.req("GET", "/api/v1/namespaces/default", token="tok-dev")[0], 403)
        self.assertEqual(f.req("GET", "/api/v1/namespaces", token="tok-dev")[0], 403)  # list stays cluster-scoped


class KubeSphereTest(unittest.TestCase):
    def test_workspacetemplates_only_with_the_flag(self):
        plain = Fake()
        try:
            st, body = plain.req("GET", "/apis")
            self.assertNotIn("tenant.kubesphere.io", [g["name"] for g in body["groups"]])
            self.assertEqual(plain.req("GET", "/apis/tenant.kubesphere.io/v1alpha2/workspacetemplates")[0], 404)
        finally:
            plain.stop()
        f = Fake(["--kubesphere"])
        try:
            st, body = f.req("GET", "/apis")
            self.assertIn("tenant.kubesphere.io", [g["name"] for g in body["groups"]])
            st, body = f.req("GET", "/apis/tenant.kubesphere.io/v1alpha2")
            self.assertEqual([(r["name"], r["namespaced"], r["kind"]) for r in body["resources"]],
                             [("workspacetemplates", False, "WorkspaceTemplate")])
            st, body = f.req("POST", "/apis/tenant.kubesphere.io/v1alpha2/workspacetemplates", {
                "apiVersion": "tenant.kubesphere.io/v1alpha2", "kind": "WorkspaceTemplate",
                "metadata": {"name": "shop"}, "spec": {"template": {"spec": {"manager": "bob"}}}})
            self.assertEqual(st, 201, body)
            st, body = f.req("GET", "/apis/tenant.kubesphere.io/v1alpha2/workspacetemplates/shop")
            self.assertEqual((st, body["kind"], body["spec"]["template"]["spec"]["manager"]),
                             (200, "WorkspaceTemplate", "bob"))
        finally:
            f.stop()



import sys  # noqa: E402
sys.path.insert(0, HERE)
import cel  # noqa: E402


class CelTest(unittest.TestCase):
    """The CEL subset behind ValidatingAdmissionPolicy support (tests/fakekube/cel.py)."""

    def ev(self, src, **variables):
        return cel.eval_expr(src, variables)

    def err(self, src, **variables):
        with self.assertRaises(cel.CelError) as cm:
            cel.eval_expr(src, variables)
        return str(cm.exception)

    def test_literals_and_precedence(self):
        self.assertEqual(self.ev("1 + 2 * 3"), 7)
        self.assertEqual(self.ev("(1 + 2) * 3"), 9)
        self.assertEqual(self.ev("10 - 4 - 3"), 3)
        self.assertEqual(self.ev("-7 / 2"), -3)    # truncated towards zero
        self.assertEqual(self.ev("-7 % 2"), -1)
        self.assertIsInstance(self.ev("7u + 1u"), cel.UInt)
        self.assertEqual(self.ev("1.5 * 2.0"), 3.0)
        self.assertEqual(self.ev("0x1F"), 31)
        self.assertEqual(self.ev(r"""'a\n' + "b\x41\u00e9" + r'\n'"""), "a\nbA\u00e9\\n")
        self.assertEqual(self.ev("'''two\nlines'''"), "two\nlines")
        self.assertEqual(self.ev("[1, 2] + [3]"), [1, 2, 3])
        self.assertEqual(self.ev("{'a': 1, 'b': [true, null]}"), {"a": 1, "b": [True, None]})
        self.assertIs(self.ev("false || true && false"), False)   # && binds tighter than ||
        self.assertIs(self.ev("!false && 1 < 2 == true"), True)
        self.assertEqual(self.ev("true ? 1 : false ? 2 : 3"), 1)
        self.assertEqual(self.ev("false ? 1 : false ? 2 : 3"), 3)
        self.assertIs(self.ev("1 == 1.0"), True)                  # numeric equality across types
        self.assertIs(self.ev("'1' == 1"), False)
        self.assertIs(self.ev("null == null && [1, 'a'] == [1, 'a'] && {'k': 1} != {'k': 2}"), True)
        self.assertEqual(self.ev("-9223372036854775808"), -(1 << 63))
        self.assertEqual(self.ev("string(5) + string(true) + string(1u)"), "5true1")
        self.assertEqual(self.ev("int('42') + int(2.9)"), 44)

    def test_errors(self):
        self.assertEqual(self.err("o.spec", o={"metadata": {}}), "no such key: spec")
        self.assertEqual(self.err("o['x']", o={}), "no such key: x")
        self.assertIn("no such overload", self.err("1 + 1.0"))
        self.assertIn("no such overload", self.err("1 < 'a'"))
        self.assertEqual(self.err("1 / 0"), "division by zero")
        self.assertEqual(self.err("9223372036854775807 + 1"), "integer overflow")
        self.assertEqual(self.err("[1][3]"), "index out of bounds: 3")
        self.assertEqual(self.err("nope"), "undeclared reference to 'nope'")
        self.assertIn("unsupported function 'quantity'", self.err("quantity('1Gi')"))
        self.assertIn("unsupported function 'bogus'", self.err("'a'.bogus()"))
        self.assertIn("no such overload", self.err("!1"))
        self.assertIn("no such overload", self.err("1 ? 2 : 3"))
        self.assertEqual(self.ev("o.namespace", o={"namespace": "ns"}), "ns")  # reserved only as identifier
        for bad in ("1 +", "a.", "(1", "1 2", "b'bytes'", "if", "namespace + 1", "'open", ".root"):
            with self.assertRaises(cel.CelSyntaxError, msg=bad):
                cel.compile_expr(bad)

    def test_error_absorption(self):
        m = {"a": 1}
        self.assertIs(self.ev("m.missing && false", m=m), False)
        self.assertIs(self.ev("false && m.missing", m=m), False)
        self.assertIs(self.ev("m.missing || true", m=m), True)
        self.assertIs(self.ev("true || m.missing", m=m), True)
        self.assertEqual(self.err("m.missing || false", m=m), "no such key: missing")
        self.assertEqual(self.err("true && m.missing", m=m), "no such key: missing")
        self.assertIn("no such overload", self.err("1 || false"))
        # all/exists absorb like && / ||
        self.assertIs(self.ev("[0, 'a'].all(x, x > 0)"), False)
        self.assertIn("no such overload", self.err("[1, 'a'].all(x, x > 0)"))
        self.assertIs(self.ev("['a', 5].exists(x, x > 2)"), True)

    def test_has_in_and_macros(self):
        o = {"metadata": {"labels": {"team": "shop"}}}
        self.assertIs(self.ev("has(o.metadata.labels)", o=o), True)
        self.assertIs(self.ev("has(o.metadata.annotations)", o=o), False)
        self.assertEqual(self.err("has(o.spec.x)", o=o), "no such key: spec")
        with self.assertRaises(cel.CelSyntaxError):
            cel.compile_expr("has(o)")
        self.assertIs(self.ev("'team' in o.metadata.labels && !('x' in o.metadata.labels)", o=o), True)
        self.assertIs(self.ev("2 in [1, 2] && !(3 in [1, 2])"), True)
        self.assertIs(self.ev("[1, 2, 3].exists(x, x > 2) && [1, 2, 3].all(x, x > 0)"), True)
        self.assertIs(self.ev("[1, 2, 3].exists_one(x, x >= 2)"), False)
        self.assertEqual(self.ev("[1, 2, 3].map(x, x * 2)"), [2, 4, 6])
        self.assertEqual(self.ev("[1, 2, 3].filter(x, x % 2 == 1)"), [1, 3])
        self.assertEqual(self.ev("[1, 2, 3].map(x, x > 1, x * 10)"), [20, 30])
        self.assertIs(self.ev("o.metadata.labels.all(k, k.startsWith('te'))", o=o), True)
        self.assertEqual(self.ev("size('h\u00e9llo') + size([1]) + size({'a': 1}) + 'ab'.size()"), 9)
        self.assertIs(self.ev("'shop-prod'.startsWith('shop') && 'x.y'.endsWith('.y') && 'abc'.contains('b')"), True)
        self.assertIs(self.ev("'shop-1'.matches('^[a-z]+-[0-9]$') && !'x'.matches('^y')"), True)
        self.assertEqual(self.ev("['a', 'b'].join('/')"), "a/b")
        self.assertEqual(self.err("[1].map(x, y)"), "undeclared reference to 'y'")

    def test_lazy_variables(self):
        calls = []

        def boom():
            calls.append(1)
            raise cel.CelError("no such key: spec")
        v = cel.LazyMap({"ok": cel.Lazy(lambda: calls.append(0) or 5), "bad": cel.Lazy(boom)})
        self.assertEqual(self.ev("variables.ok + variables.ok", variables=v), 10)
        self.assertEqual(calls, [0])  # computed once
        self.assertIs(self.ev("true || variables.bad", variables=v), True)
        self.assertEqual(self.err("variables.bad == 1", variables=v), "no such key: spec")
        self.assertEqual(self.err("variables.nope", variables=v), "no such key: nope")

    def test_authorizer_library(self):
        import admission
        from rbac import Authorizer as RbacAuthorizer, User
        from store import Store
        st = Store()
        rb = "rbac.authorization.k8s.io/"

        def put(storage, obj):
            obj.setdefault("metadata", {}).setdefault("namespace", "")
            st.put(storage, obj, "ADDED")
        put(rb + "clusterroles", {"metadata": {"name": "t"}, "rules": [
            {"apiGroups": ["tenancy.wb"], "resources": ["tenants"], "resourceNames": ["shop"], "verbs": ["admin"]},
            {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]})
        put(rb + "clusterrolebindings", {"metadata": {"name": "t"}, "roleRef": {"kind": "ClusterRole", "name": "t"},
                                         "subjects": [{"kind": "User", "name": "tadm"}]})
        put(rb + "roles", {"metadata": {"name": "cm", "namespace": "ns1"}, "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]})
        put(rb + "rolebindings", {"metadata": {"name": "cm", "namespace": "ns1"},
                                  "roleRef": {"kind": "Role", "name": "cm"},
                                  "subjects": [{"kind": "ServiceAccount", "namespace": "ns1", "name": "robot"}]})
        authz = RbacAuthorizer(st)
        user = User("tadm")
        a = admission.Authorizer(authz, user, admission.ResourceCheck(authz, user, "tenancy.wb", "tenants",
                                                                      name="shop"))
        t = "authorizer.group('tenancy.wb').resource('tenants')"
        self.assertIs(self.ev(t + ".name('shop').check('admin').allowed()", authorizer=a), True)
        self.assertIs(self.ev(t + ".name('bank').check('admin').allowed()", authorizer=a), False)
        self.assertIs(self.ev(t + ".check('admin').allowed()", authorizer=a), False)  # resourceNames need a name
        self.assertIs(self.ev(t + ".name('shop').check('delete').allowed()", authorizer=a), False)
        self.assertIn('ClusterRoleBinding "t"', self.ev(t + ".name('shop').check('admin').reason()", authorizer=a))
        self.assertIs(self.ev(t + ".name('shop').check('admin').errored()", authorizer=a), False)
        self.assertIs(self.ev("authorizer.requestResource.check('admin').allowed()", authorizer=a), True)
        self.assertIs(self.ev("authorizer.path('/healthz').check('get').allowed()", authorizer=a), True)
        sa = "authorizer.serviceAccount('ns1', 'robot').group('').resource('configmaps')"
        self.assertIs(self.ev(sa + ".namespace('ns1').check('get').allowed()", authorizer=a), True)
        self.assertIs(self.ev(sa + ".namespace('ns2').check('get').allowed()", authorizer=a), False)
        self.assertIn("unsupported function 'nope'", self.err("authorizer.nope()", authorizer=a))


AR = "/apis/admissionregistration.k8s.io/v1"
RBACV1 = "/apis/rbac.authorization.k8s.io/v1"

TENANT_POLICY = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "wb-tenant-namespaces"},
    "spec": {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                "operations": ["CREATE", "UPDATE"], "resources": ["namespaces"]}]},
        "matchConditions": [{"name": "not-a-platform-admin",
                             "expression": "!authorizer.group('tenancy.wb').resource('tenants').check('admin')"
                                           ".allowed()"}],
        "variables": [{"name": "tenant",
                       "expression": "has(object.metadata.labels) && 'kubesphere.io/workspace' in "
                                     "object.metadata.labels ? object.metadata.labels['kubesphere.io/workspace'] "
                                     ": ''"}],
        "validations": [{
            "expression": "variables.tenant != '' && authorizer.group('tenancy.wb').resource('tenants')"
                          ".name(variables.tenant).check('admin').allowed()",
            "messageExpression": "variables.tenant == '' ? 'a workspace needs the label kubesphere.io/workspace' "
                                 ": 'user ' + request.userInfo.username + ' is not an admin of tenant ' + "
                                 "variables.tenant",
            "reason": "Forbidden"}]}}


def vap_binding(name, policy, actions=("Deny",), match=None):
    b = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
         "metadata": {"name": name}, "spec": {"policyName": policy, "validationActions": list(actions)}}
    if match is not None:
        b["spec"]["matchResources"] = match
    return b


def vap_policy(name, resources, operations, validations, **spec):
    p = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
         "metadata": {"name": name},
         "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                          "operations": operations, "resources": resources}]},
                  "validations": validations}}
    p["spec"].update(spec)
    return p


class ValidatingAdmissionPolicyTest(unittest.TestCase):
    """ValidatingAdmissionPolicy + binding enforcement end to end over HTTP, like kube-apiserver 1.30+."""

    @classmethod
    def setUpClass(cls):
        cls.f = Fake(tokens='tok-tadm,tadm,uid-t\ntok-ops,ops,uid-o\ntok-dev,dev,uid-d\n')
        f = cls.f
        # tadm: admin of tenant "shop" only (resourceNames), may create/patch namespaces
        f.req("POST", RBACV1 + "/clusterroles", {
            "metadata": {"name": "tenant-shop-admin"},
            "rules": [{"apiGroups": ["tenancy.wb"], "resources": ["tenants"], "resourceNames": ["shop"],
                       "verbs": ["admin"]},
                      {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create", "patch", "get"]}]})
        for user, role in (("tadm", "tenant-shop-admin"), ("ops", "cluster-admin")):
            st, body = f.req("POST", RBACV1 + "/clusterrolebindings", {
                "metadata": {"name": f"{user}-{role}"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
            assert st == 201, body
        st, body = f.req("POST", AR + "/validatingadmissionpolicies", TENANT_POLICY)
        assert st == 201, body
        st, body = f.req("POST", AR + "/validatingadmissionpolicybindings",
                         vap_binding("wb-tenant-namespaces", "wb-tenant-namespaces"))
        assert st == 201, body

    @classmethod
    def tearDownClass(cls):
        cls.f.stop()

    def ns(self, name, tenant=None, token="admin", query=""):
        md = {"name": name}
        if tenant:
            md["labels"] = {"kubesphere.io/workspace": tenant}
        return self.f.req("POST", "/api/v1/namespaces" + query, {"apiVersion": "v1", "kind": "Namespace",
                                                                  "metadata": md}, token=token)

    def test_served_like_other_kinds(self):
        f = self.f
        st, body = f.req("GET", AR)
        self.assertEqual(st, 200)
        got = {r["name"]: (r["namespaced"], r["kind"]) for r in body["resources"]}
        self.assertEqual(got["validatingadmissionpolicies"], (False, "ValidatingAdmissionPolicy"))
        self.assertEqual(got["validatingadmissionpolicybindings"], (False, "ValidatingAdmissionPolicyBinding"))
        st, body = f.req("GET", AR + "/validatingadmissionpolicies/wb-tenant-namespaces")
        self.assertEqual((st, body["spec"]["failurePolicy"], body["metadata"]["generation"]),
                         (200, "Fail", 1))
        st, body = f.req("GET", AR + "/validatingadmissionpolicybindings")
        self.assertIn("wb-tenant-namespaces", [b["metadata"]["name"] for b in body["items"]])
        # expressions are compiled when the policy is written; a syntax error is a 422
        bad = vap_policy("vap-bad", ["pods"], ["CREATE"], [{"expression": "object.spec.replicas <"}])
        st, body = f.req("POST", AR + "/validatingadmissionpolicies", bad)
        self.assertEqual((st, body["reason"]), (422, "Invalid"), body)
        self.assertIn("spec.validations[0].expression", body["message"])
        self.assertIn("compilation failed", body["message"])
        st, body = f.req("POST", AR + "/validatingadmissionpolicybindings", vap_binding("vap-noact", "x", actions=()))
        self.assertEqual(st, 422, body)
        # RBAC applies to them like to any resource
        self.assertEqual(f.req("GET", AR + "/validatingadmissionpolicies", token="tok-dev")[0], 403)
        # paramKind is not supported: a matching request fails loudly instead of skipping the policy
        p = vap_policy("vap-param", ["limitranges"], ["CREATE"], [{"expression": "true"}],
                       paramKind={"apiVersion": "v1", "kind": "ConfigMap"})
        self.assertEqual(f.req("POST", AR + "/validatingadmissionpolicies", p)[0], 201)
        self.assertEqual(f.req("POST", AR + "/validatingadmissionpolicybindings",
                               vap_binding("vap-param", "vap-param"))[0], 201)
        st, body = f.req("POST", "/api/v1/namespaces/default/limitranges", {"metadata": {"name": "lr"}})
        self.assertEqual(st, 500, body)
        self.assertIn("fakekube does not support paramKind", body["message"])
        self.assertEqual(f.req("DELETE", AR + "/validatingadmissionpolicybindings/vap-param")[0], 200)
        self.assertEqual(f.req("POST", "/api/v1/namespaces/default/limitranges", {"metadata": {"name": "lr"}})[0], 201)

    def test_tenant_admin_creates_namespaces_in_own_tenant_only(self):
        f = self.f
        st, body = self.ns("vap-shop-a", "shop", token="tok-tadm")
        self.assertEqual(st, 201, body)
        st, body = self.ns("vap-bank-a", "bank", token="tok-tadm")
        self.assertEqual(st, 403, body)
        want = ("ValidatingAdmissionPolicy 'wb-tenant-namespaces' with binding 'wb-tenant-namespaces' denied "
                "request: user tadm is not an admin of tenant bank")
        self.assertEqual(body["reason"], "Forbidden")
        self.assertEqual(body["code"], 403)
        self.assertEqual(body["message"], 'namespaces "vap-bank-a" is forbidden: ' + want)
        self.assertEqual(body["details"], {"name": "vap-bank-a", "group": "", "kind": "namespaces",
                                           "causes": [{"message": want}]})
        self.assertEqual(f.req("GET", "/api/v1/namespaces/vap-bank-a")[0], 404)  # nothing stored
        st, body = self.ns("vap-none-a", token="tok-tadm")
        self.assertEqual(st, 403, body)
        self.assertTrue(body["message"].endswith("denied request: a workspace needs the label "
                                                 "kubesphere.io/workspace"), body["message"])
        # dry run is admitted too
        self.assertEqual(self.ns("vap-bank-b", "bank", token="tok-tadm", query="?dryRun=All")[0], 403)
        # an UPDATE (patch) moving the namespace to another tenant is refused, keeping it is fine
        path = "/api/v1/namespaces/vap-shop-a"
        st, body = f.req("PATCH", path, {"metadata": {"labels": {"kubesphere.io/workspace": "bank"}}},
                         token="tok-tadm", ctype="application/merge-patch+json")
        self.assertEqual((st, body.get("reason")), (403, "Forbidden"), body)
        st, body = f.req("PATCH", path, {"metadata": {"labels": {"x": "y"}}}, token="tok-tadm",
                         ctype="application/merge-patch+json")
        self.assertEqual(st, 200, body)
        self.assertEqual(body["metadata"]["labels"]["kubesphere.io/workspace"], "shop")

    def test_match_conditions_skip_platform_admins(self):
        # a cluster-admin and system:masters pass the nameless tenants check (wildcards): policy skipped
        self.assertEqual(self.ns("vap-ops-free", token="tok-ops")[0], 201)
        self.assertEqual(self.ns("vap-ops-bank", "bank", token="tok-ops")[0], 201)
        self.assertEqual(self.ns("vap-root-free")[0], 201)
        # RBAC still comes first: dev may not create namespaces at all
        st, body = self.ns("vap-dev", "shop", token="tok-dev")
        self.assertEqual(st, 403)
        self.assertIn('cannot create resource "namespaces"', body["message"])

    def test_namespaced_objects_namespace_object_and_default_reason(self):
        f = self.f
        self.assertEqual(self.ns("vap-shop-cm", "shop")[0], 201)
        p = vap_policy("vap-cm-tenant", ["configmaps"], ["CREATE", "UPDATE"], [{
            "expression": "has(object.metadata.labels) && 'tenant' in object.metadata.labels && "
                          "object.metadata.labels.tenant == namespaceObject.metadata.labels['kubesphere.io/workspace']",
            "message": "a configmap must carry its workspace in the label tenant"}])
        self.assertEqual(f.req("POST", AR + "/validatingadmissionpolicies", p)[0], 201)
        b = vap_binding("vap-cm-tenant", "vap-cm-tenant", match={"namespaceSelector": {"matchExpressions": [
            {"key": "kubesphere.io/workspace", "operator": "Exists"}]}})
        self.assertEqual(f.req("POST", AR + "/validatingadmissionpolicybindings", b)[0], 201)
        cms = "/api/v1/namespaces/%s/configmaps"
        st, body = f.req("POST", cms % "vap-shop-cm", {"metadata": {"name": "ok", "labels": {"tenant": "shop"}}})
        self.assertEqual(st, 201, body)
        st, body = f.req("POST", cms % "vap-shop-cm", {"metadata": {"name": "bad", "labels": {"tenant": "bank"}}})
        self.assertEqual((st, body["reason"], body["code"]), (422, "Invalid", 422), body)
        self.assertEqual(body["message"], 'configmaps "bad" is forbidden: ValidatingAdmissionPolicy '
                         "'vap-cm-tenant' with binding 'vap-cm-tenant' denied request: a configmap must carry "
                         "its workspace in the label tenant")
        # the binding's namespaceSelector leaves namespaces without a workspace alone
        self.assertEqual(f.req("POST", cms % "default", {"metadata": {"name": "vap-free"}})[0], 201)
        # a Warn-only binding and a binding to a missing policy do not deny
        self.assertEqual(f.req("DELETE", AR + "/validatingadmissionpolicybindings/vap-cm-tenant")[0], 200)
        for bb in (vap_binding("vap-cm-warn", "vap-cm-tenant", actions=("Warn",)), vap_binding("vap-gone", "no-such")):
            self.assertEqual(f.req("POST", AR + "/validatingadmissionpolicybindings", bb)[0], 201)
        st, body = f.req("POST", cms % "vap-shop-cm", {"metadata": {"name": "bad", "labels": {"tenant": "x"}}})
        self.assertEqual(st, 201, body)

    def test_delete_sees_old_object(self):
        f = self.f
        p = vap_policy("vap-protect", ["configmaps"], ["DELETE"], [
            {"expression": "object == null && request.operation == 'DELETE'"},
            {"expression": "!has(oldObject.metadata.labels) || !('protected' in oldObject.metadata.labels)",
             "messageExpression": "'configmap ' + oldObject.metadata.name + ' is protected'",
             "reason": "Forbidden"}])
        self.assertEqual(f.req("POST", AR + "/validatingadmissionpolicies", p)[0], 201)
        self.assertEqual(f.req("POST", AR + "/validatingadmissionpolicybindings",
                               vap_binding("vap-protect", "vap-protect"))[0], 201)
        self.assertEqual(self.ns("vap-del")[0], 201)
        cms = "/api/v1/namespaces/vap-del/configmaps"
        f.req("POST", cms, {"metadata": {"name": "keep", "labels": {"protected": "yes"}}})
        f.req("POST", cms, {"metadata": {"name": "drop"}})
        st, body = f.req("DELETE", cms + "/keep")
        self.assertEqual((st, body["reason"]), (403, "Forbidden"), body)
        self.assertEqual(body["message"], 'configmaps "keep" is forbidden: ValidatingAdmissionPolicy '
                         "'vap-protect' with binding 'vap-protect' denied request: configmap keep is protected")
        # deletecollection is admitted item by item before anything goes
        st, body = f.req("DELETE", cms)
        self.assertEqual(st, 403, body)
        self.assertEqual(f.req("GET", cms + "/drop")[0], 200)
        self.assertEqual(f.req("DELETE", cms + "/drop")[0], 200)
        self.assertEqual(f.req("GET", cms + "/keep")[0], 200)

    def test_failure_policy_on_expression_errors(self):
        f = self.f
        p = vap_policy("vap-err", ["secrets"], ["CREATE"], [{"expression": "object.metadata.labels.team == 'a'"}])
        self.assertEqual(f.req("POST", AR + "/validatingadmissionpolicies", p)[0], 201)
        self.assertEqual(f.req("POST", AR + "/validatingadmissionpolicybindings",
                               vap_binding("vap-err", "vap-err"))[0], 201)
        self.assertEqual(self.ns("vap-err-ns")[0], 201)
        secrets = "/api/v1/namespaces/vap-err-ns/secrets"
        st, body = f.req("POST", secrets, {"metadata": {"name": "s1"}})
        self.assertEqual((st, body["reason"]), (422, "Invalid"), body)
        self.assertEqual(body["message"], 'secrets "s1" is forbidden: ValidatingAdmissionPolicy \'vap-err\' with '
                         "binding 'vap-err' denied request: expression 'object.metadata.labels.team == 'a'' "
                         "resulted in error: no such key: labels")
        # an expression the fake's CEL cannot evaluate fails loudly the same way
        st, body = f.req("PATCH", AR + "/validatingadmissionpolicies/vap-err",
                         {"spec": {"validations": [{"expression": "quantity('1Gi').isGreaterThan(quantity('1'))"}]}},
                         ctype="application/merge-patch+json")
        self.assertEqual(st, 200, body)
        st, body = f.req("POST", secrets, {"metadata": {"name": "s1"}})
        self.assertEqual(st, 422, body)
        self.assertIn("resulted in error: fakekube CEL: unsupported function 'quantity'", body["message"])
        # failurePolicy Ignore: the erroring policy is skipped
        st, body = f.req("PATCH", AR + "/validatingadmissionpolicies/vap-err", {"spec": {"failurePolicy": "Ignore"}},
                         ctype="application/merge-patch+json")
        self.assertEqual(st, 200, body)
        self.assertEqual(body["metadata"]["generation"], 3)
        st, body = f.req("POST", secrets, {"metadata": {"name": "s1"}})
        self.assertEqual(st, 201, body)
        # ... but a false validation still denies under Ignore
        st, body = f.req("PATCH", AR + "/validatingadmissionpolicies/vap-err",
                         {"spec": {"validations": [{"expression": "!object.metadata.name.startsWith('x')",
                                                    "reason": "RequestEntityTooLarge"}]}},
                         ctype="application/merge-patch+json")
        self.assertEqual(st, 200, body)
        st, body = f.req("POST", secrets, {"metadata": {"name": "x1"}})
        self.assertEqual((st, body["reason"]), (413, "RequestEntityTooLarge"), body)
        self.assertTrue(body["message"].endswith("denied request: failed expression: "
                                                 "!object.metadata.name.startsWith('x')"), body["message"])

if __name__ == "__main__":
    unittest.main()
