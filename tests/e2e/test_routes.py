"""Routes as a developer (wb's developer role, from `wb platform init`), on a current cluster
(Ingress networking.k8s.io/v1) and in 1.18 mode (only v1beta1: serviceName/servicePort backends):
add (default host from the profile, ingress class, TLS secret), list, rm, history, rollback, a
host+path taken by another app, and external routes (IP targets -> Service without selector +
EndpointSlices, or Endpoints before Kubernetes 1.21; DNS -> ExternalName with the ingress-nginx
annotations). Generated objects pass the schema validator. A developer whose role on the cluster
predates external routes is told who can fix that.

With WB_TEST_KUBECONFIG the current-cluster cases run on the real cluster (a real user made by a
CertificateSigningRequest, holding wb:developer in a namespace of its own); 1.18 needs the fake."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, WbTestCase, REAL_KUBECONFIG, RUN_ID, SOURCE_DIR, WB_BIN  # noqa: E402

TOKEN = "routes-alice-token-0123456789"
ENV = {"WB_ROUTE_DOMAIN": "apps.example.com", "WB_ROUTE_INGRESS_CLASS": "nginx", "WB_ROUTE_TLS_SECRET": "wildcard-tls"}


def validate(objects):
    clean = []
    for o in objects:
        o = json.loads(json.dumps(o))
        o.pop("status", None)
        o["metadata"].pop("managedFields", None)
        clean.append(o)
    p = subprocess.run(["node", os.path.join(SOURCE_DIR, "tests", "validate", "validate.js")],
                       input=json.dumps({"apiVersion": "v1", "kind": "List", "items": clean}),
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


class RoutesMixin:
    k8s_version = "1.32"
    ingress_api = "networking.k8s.io/v1"

    @classmethod
    def setUpClass(cls):
        cls.cluster = FakeCluster(k8s_version=cls.k8s_version, tokens=[(TOKEN, "alice", ["developers"])])
        # wb's roles (cluster-wide; scripts/test-real.sh removes what a run added)
        p = subprocess.run([WB_BIN, "--kubeconfig", cls.cluster.kubeconfig, "platform", "init"], capture_output=True,
                           text=True, timeout=120, env={"HOME": tempfile.gettempdir(), "PATH": os.environ["PATH"]})
        assert p.returncode == 0, p.stderr

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def setUp(self):
        super().setUp()
        self.ns = self.cluster.workspace_for("alice", "rt", cluster_role="wb:developer")
        self.kubeconfig = self.cluster.kubeconfig_for(os.path.join(self.home, "kubeconfig"), token=TOKEN)

    def list_of(self, api, kind, selector=""):
        status, body = self.cluster.request("GET", "%s/namespaces/%s/%s%s" % (
            api, self.ns, kind, "?labelSelector=" + selector if selector else ""))
        self.assertEqual(status, 200, body)
        return body["items"]

    def slices(self, service):
        return sorted(self.list_of("/apis/discovery.k8s.io/v1", "endpointslices",
                                   "kubernetes.io/service-name%3D" + service), key=lambda x: x["metadata"]["name"])

    def targets(self, service):
        """(name, address type, port name, port, addresses) of the external route's endpoints: its
        EndpointSlices, or its Endpoints on a server without them."""
        if self.k8s_version == "1.18":
            eps = self.core("endpoints", service)
            return [(service, "IPv4", sub["ports"][0]["name"], sub["ports"][0]["port"],
                     sorted(a["ip"] for a in sub["addresses"])) for sub in eps["subsets"]]
        out = []
        for sl in self.slices(service):
            self.assertEqual(sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "wb.dev")
            self.assertEqual(sl["metadata"]["labels"]["app.kubernetes.io/managed-by"], "wb")
            self.assertTrue(all(e["conditions"]["ready"] for e in sl["endpoints"]), sl)
            out.append((sl["metadata"]["name"], sl["addressType"], sl["ports"][0]["name"], sl["ports"][0]["port"],
                        sorted(a for e in sl["endpoints"] for a in e["addresses"])))
        return out

    def run_wb(self, *args, **kw):
        return self.wb("--kubeconfig", self.kubeconfig, "-w", self.ns, *args, env=ENV, **kw)

    def ingress(self, name):
        status, body = self.cluster.request(
            "GET", "/apis/%s/namespaces/%s/ingresses/%s" % (self.ingress_api, self.ns, name))
        return status, body

    def core(self, kind, name):
        status, body = self.cluster.request("GET", "/api/v1/namespaces/%s/%s/%s" % (self.ns, kind, name))
        self.assertEqual(status, 200, body)
        return body

    def backend(self, path_entry):
        b = path_entry["backend"]
        if self.ingress_api.endswith("/v1"):
            return b["service"]["name"], b["service"]["port"]["number"]
        return b["serviceName"], b["servicePort"]

    def test_app_routes_are_versioned(self):
        self.assertExit(self.run_wb("app", "create", "orders"), 0)
        host = "orders.%s.apps.example.com" % self.ns
        r = self.run_wb("route", "add", "orders")
        self.assertExit(r, 0)
        self.assertIn("http://" + host, r.out)
        status, ing = self.ingress("orders")
        self.assertEqual(status, 200, ing)
        self.assertEqual(ing["spec"]["ingressClassName"], "nginx")
        self.assertEqual(ing["metadata"]["labels"]["app.kubernetes.io/managed-by"], "wb")
        self.assertEqual(ing["metadata"]["annotations"]["wb.dev/routes-version"], "1")
        rule = ing["spec"]["rules"][0]
        self.assertEqual(rule["host"], host)
        self.assertEqual(rule["http"]["paths"][0]["path"], "/")
        self.assertEqual(rule["http"]["paths"][0]["pathType"], "Prefix")
        self.assertEqual(self.backend(rule["http"]["paths"][0]), ("orders", 8080))
        self.assertNotIn("tls", ing["spec"])

        r = self.run_wb("route", "add", "orders", "--host", "shop.example.com", "--path", "/api", "--tls", "-o", "json")
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertEqual(doc["version"], 2)
        self.assertIn("https://shop.example.com/api", [x["url"] for x in doc["routes"]])
        status, ing = self.ingress("orders")
        self.assertEqual(ing["spec"]["tls"], [{"hosts": ["shop.example.com"], "secretName": "wildcard-tls"}])
        code, out = validate([ing])
        self.assertEqual(code, 0, out)

        # Another app may not take the same host and path.
        self.assertExit(self.run_wb("app", "create", "billing"), 0)
        r = self.run_wb("route", "add", "billing", "--host", "shop.example.com", "--path", "/api")
        self.assertOneLineError(r, 5, "shop.example.com/api", "'orders'")
        self.assertExit(self.run_wb("route", "add", "billing", "--host", "shop.example.com", "--path", "/billing"), 0)

        r = self.run_wb("route", "list", "-o", "json")
        self.assertExit(r, 0)
        urls = sorted((x["app"], x["url"]) for x in json.loads(r.out))
        self.assertEqual(urls, [("billing", "http://shop.example.com/billing"), ("orders", "http://" + host),
                                ("orders", "https://shop.example.com/api")])
        r = self.run_wb("route", "list", "orders")
        self.assertEqual(len(r.out.strip().splitlines()), 2)

        self.assertExit(self.run_wb("route", "rm", "orders", "--path", "/api"), 0)
        status, ing = self.ingress("orders")
        self.assertEqual([x["host"] for x in ing["spec"]["rules"]], [host])
        self.assertOneLineError(self.run_wb("route", "rm", "orders", "--path", "/nope"), 3, "/nope")

        hist = json.loads(self.run_wb("route", "history", "orders", "-o", "json").out)
        self.assertEqual([h["version"] for h in hist], [1, 2, 3])
        self.assertIn(hist[1]["who"], ("alice", "me"))  # SelfSubjectReview, else the kubeconfig user (1.18)
        r = self.run_wb("route", "rollback", "orders", "--to", "2")
        self.assertExit(r, 0)
        status, ing = self.ingress("orders")
        self.assertEqual(ing["metadata"]["annotations"]["wb.dev/routes-version"], "4")
        self.assertEqual(sorted(x["host"] for x in ing["spec"]["rules"]), sorted([host, "shop.example.com"]))

        self.assertExit(self.run_wb("route", "rm", "orders", "--all"), 0)
        status, _ = self.ingress("orders")
        self.assertEqual(status, 404)
        # wb app delete takes the route versions with it.
        self.assertExit(self.run_wb("app", "delete", "orders", "--yes"), 0)
        status, cms = self.cluster.request(
            "GET", "/api/v1/namespaces/%s/configmaps?labelSelector=app.kubernetes.io/name=orders" % self.ns)
        self.assertEqual(cms["items"], [])

    def test_config_versions_on_this_server(self):
        # Immutable ConfigMaps/Secrets only where the server has them (1.21+).
        self.assertExit(self.run_wb("app", "create", "orders"), 0)
        self.assertExit(self.run_wb("config", "set", "orders", "A=1", "--secret", "-m", "x"), 0)
        cm = self.core("configmaps", "orders-config-v1")
        secret = self.core("secrets", "orders-secret-v1")
        want = self.k8s_version != "1.18"
        self.assertEqual(cm.get("immutable", False), want)
        self.assertEqual(secret.get("immutable", False), want)

    def test_bad_input(self):
        self.assertExit(self.run_wb("app", "create", "orders"), 0)
        self.assertOneLineError(self.run_wb("route", "add", "orders", "--path", "api"), 2, "api")
        self.assertOneLineError(self.run_wb("route", "add", "orders", "--host", "Not A Host"), 2, "not a host")
        self.assertOneLineError(self.run_wb("route", "add", "ghost"), 3, "ghost")
        r = self.wb("--kubeconfig", self.kubeconfig, "-w", self.ns, "route", "add", "orders")
        self.assertOneLineError(r, 2, "route.domain")
        self.assertOneLineError(self.run_wb("route", "add-external", "db", "--to", "10.0.0.300:80"), 2, "10.0.0.300")
        self.assertOneLineError(self.run_wb("route", "add-external", "db"), 2, "--to")

    def test_external_routes(self):
        r = self.run_wb("route", "add-external", "legacy", "--to", "10.0.0.5:8080,10.0.0.6:8080")
        self.assertExit(r, 0)
        svc = self.core("services", "legacy")
        self.assertNotIn("selector", svc["spec"])
        self.assertEqual(svc["spec"]["ports"][0]["port"], 8080)
        self.assertEqual(self.targets("legacy"), [("legacy-ipv4-8080" if self.k8s_version != "1.18" else "legacy",
                                                   "IPv4", svc["spec"]["ports"][0]["name"], 8080,
                                                   ["10.0.0.5", "10.0.0.6"])])
        if self.k8s_version != "1.18":
            # EndpointSlices only: Endpoints writes are not the developer's (CVE-2021-25740)
            self.assertEqual(self.cluster.request("GET", "/api/v1/namespaces/%s/endpoints/legacy" % self.ns)[0], 404)
        status, ing = self.ingress("legacy")
        self.assertEqual(status, 200, ing)
        self.assertEqual(ing["spec"]["rules"][0]["host"], "legacy.%s.apps.example.com" % self.ns)
        self.assertEqual(self.backend(ing["spec"]["rules"][0]["http"]["paths"][0]), ("legacy", 8080))

        r = self.run_wb("route", "add-external", "corpdb", "--to-host", "db.corp.example:443", "--https",
                        "--host", "db.example.com")
        self.assertExit(r, 0)
        svc = self.core("services", "corpdb")
        self.assertEqual(svc["spec"]["type"], "ExternalName")
        self.assertEqual(svc["spec"]["externalName"], "db.corp.example")
        self.assertEqual(svc["spec"]["ports"][0]["port"], 443)
        status, ing2 = self.ingress("corpdb")
        ann = ing2["metadata"]["annotations"]
        self.assertEqual(ann["nginx.ingress.kubernetes.io/upstream-vhost"], "db.corp.example")
        self.assertEqual(ann["nginx.ingress.kubernetes.io/backend-protocol"], "HTTPS")
        # Taken host+path: named.
        r = self.run_wb("route", "add-external", "other", "--to-host", "x.corp.example:80", "--host", "db.example.com")
        self.assertOneLineError(r, 5, "'corpdb'")
        # Again: replaced in place (the slice of the old port goes).
        self.assertExit(self.run_wb("route", "add-external", "legacy", "--to", "10.0.0.7:9090"), 0)
        self.assertEqual([t[3:] for t in self.targets("legacy")], [(9090, ["10.0.0.7"])])
        if self.k8s_version == "1.18":
            eps = [self.core("endpoints", "legacy")]
        else:
            eps = self.slices("legacy")
            for o in eps:
                o.setdefault("apiVersion", "discovery.k8s.io/v1")
                o.setdefault("kind", "EndpointSlice")
        objs = [ing, ing2, self.core("services", "legacy"), self.core("services", "corpdb")] + eps
        for o in objs[2:]:
            o.setdefault("apiVersion", "v1")
        code, out = validate(objs)
        self.assertEqual(code, 0, out)
        listed = json.loads(self.run_wb("route", "list", "-o", "json").out)
        self.assertEqual(sorted(x["target"] for x in listed), ["http://10.0.0.7:9090", "https://db.corp.example:443"])


class RoutesOnCurrentKubernetes(RoutesMixin, WbTestCase):
    """EndpointSlices (discovery.k8s.io/v1, Kubernetes 1.21+) for external routes to IPs."""

    def test_external_route_families_ports_and_an_older_wbs_endpoints(self):
        # An external route an older wb made: Endpoints, which the cluster mirrors into a slice.
        self.cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {
            "name": "old", "namespace": self.ns, "labels": {"app.kubernetes.io/name": "old",
                                                            "app.kubernetes.io/managed-by": "wb",
                                                            "wb.dev/route": "external"}},
            "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}]}})
        status, body = self.cluster.apply({"apiVersion": "v1", "kind": "Endpoints", "metadata": {
            "name": "old", "namespace": self.ns, "labels": {"app.kubernetes.io/name": "old",
                                                            "app.kubernetes.io/managed-by": "wb",
                                                            "wb.dev/route": "external"}},
            "subsets": [{"addresses": [{"ip": "10.0.0.9"}], "ports": [{"name": "http", "port": 80}]}]})
        self.assertEqual(status, 201, body)
        r = self.run_wb("route", "add-external", "old", "--to", "10.0.0.5:8080,[fd00::5]:8080,10.0.0.6:9090")
        self.assertExit(r, 0)
        self.assertEqual(self.cluster.request("GET", "/api/v1/namespaces/%s/endpoints/old" % self.ns)[0], 404)
        self.assertEqual(self.targets("old"), [("old-ipv4-8080", "IPv4", "http", 8080, ["10.0.0.5"]),
                                               ("old-ipv4-9090", "IPv4", "http", 9090, ["10.0.0.6"]),
                                               ("old-ipv6-8080", "IPv6", "http", 8080, ["fd00::5"])])
        if self.cluster.real:
            # the slice the cluster had mirrored from the Endpoints goes with them
            def mirrored():
                return [x for x in self.slices("old") if x["metadata"]["labels"].get(
                    "endpointslice.kubernetes.io/managed-by") != "wb.dev"]
            deadline = time.time() + 30
            while mirrored() and time.time() < deadline:
                time.sleep(0.3)
            self.assertEqual(mirrored(), [])
        # to a DNS name instead: no slices left
        self.assertExit(self.run_wb("route", "add-external", "old", "--to-host", "old.corp.example:80"), 0)
        self.assertEqual(self.core("services", "old")["spec"]["type"], "ExternalName")
        self.assertEqual(self.targets("old"), [])

    def test_a_developer_role_older_than_external_routes_is_named(self):
        # The developer role of a cluster set up by an older wb lacks EndpointSlices: the refusal says
        # so, and that the platform team updates the roles (no tenant admin could grant it).
        role = "wb-test-old-developer-" + RUN_ID.lower()
        status, dev = self.cluster.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/wb:developer")
        self.assertEqual(status, 200, dev)
        rules = [x for x in dev["rules"] if "endpointslices" not in x["resources"]]
        status, body = self.cluster.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                           "metadata": {"name": role}, "rules": rules})
        self.assertIn(status, (201, 409), body)
        self.cluster.adopt("/apis/rbac.authorization.k8s.io/v1/clusterroles/" + role)
        ns = self.cluster.workspace_for("alice", "rt-old", cluster_role=role)
        r = self.wb("--kubeconfig", self.kubeconfig, "-w", ns, "route", "add-external", "billing", "--to",
                    "10.20.0.5:8080", env=ENV)
        self.assertOneLineError(r, 4, "you (alice) cannot add external routes in workspace %s: you are a developer "
                                      "there, but this cluster's developer role does not allow that" % ns,
                                "the platform team updates the roles with `wb platform init`")
        self.assertNotIn("tenant admin", r.err)


@unittest.skipIf(REAL_KUBECONFIG, "needs the fake API server's 1.18 mode (a Kubernetes 1.18 server)")
class RoutesOnKubernetes118(RoutesMixin, WbTestCase):
    k8s_version = "1.18"
    ingress_api = "networking.k8s.io/v1beta1"


if __name__ == "__main__":
    unittest.main()
