"""Apps on Kubernetes 1.18 (the fake's 1.18 mode): no SelfSubjectReview, Ingress only v1beta1.
create -> image -> start -> Running -> status, history -> stop -> delete, as on current servers."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, WbTestCase, REAL_KUBECONFIG  # noqa: E402

TOKEN = "dev-token-118-0123456789"
IMAGE = "registry.local/shop/orders@sha256:" + "d" * 64


@unittest.skipIf(REAL_KUBECONFIG, "needs the fake API server (its Kubernetes 1.18 mode: no SelfSubjectReview, Ingress "
                                   "only v1beta1); a real cluster cannot do that on demand")
class OnKubernetes118(WbTestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = FakeCluster(k8s_version="1.18", tokens=[(TOKEN, "dev", ["developers"])])
        cls.cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
        status, body = cls.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": "old-dev", "labels": {"kubesphere.io/workspace": "shop"}}})
        assert status == 201, body
        status, body = cls.cluster.apply({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "dev-edit", "namespace": "old-dev"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "User", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"}]})
        assert status == 201, body

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def run_wb(self, *args, **kw):
        kc = self.cluster.kubeconfig_for(os.path.join(self.home, "kc"), token=TOKEN)
        return self.wb("--kubeconfig", kc, "-w", "old-dev", *args, **kw)

    def test_the_serial_flow(self):
        self.assertExit(self.run_wb("app", "create", "orders", "--replicas", "2"), 0)
        status, body = self.cluster.set_app_image("old-dev", "orders", IMAGE)
        self.assertEqual(status, 200, body)
        r = self.run_wb("app", "start", "orders", "--timeout", "60s")
        self.assertExit(r, 0)
        doc = json.loads(self.run_wb("app", "status", "orders", "-o", "json").out)
        self.assertIn("Running 2/2", json.dumps(doc))
        r = self.run_wb("app", "history", "orders", "-o", "json")
        self.assertExit(r, 0)
        self.assertTrue(json.loads(r.out))
        # Who changed it: no SelfSubjectReview on 1.18, so the kubeconfig's user name is recorded.
        status, dep = self.cluster.request("GET", "/apis/apps/v1/namespaces/old-dev/deployments/orders")
        self.assertEqual(dep["metadata"]["annotations"].get("wb.dev/changed-by"), "me")
        self.assertExit(self.run_wb("app", "stop", "orders", "--timeout", "60s"), 0)
        self.assertExit(self.run_wb("app", "delete", "orders", "--yes"), 0)
        status, _ = self.cluster.request("GET", "/apis/apps/v1/namespaces/old-dev/deployments/orders")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    unittest.main()
