"""Talking to a cluster: kubeconfig and every kind of credential, workspaces, whoami, and the
errors a new user meets (missing kubeconfig, wrong context, bad YAML, expired token, unreachable
server, TLS name mismatch) — each one clear line with the documented exit code."""
import json
import os
import stat
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, WbTestCase, REAL_KUBECONFIG  # noqa: E402

ALICE_TOKEN = "alice-token-0123456789"
BOB_TOKEN = "bob-token-9876543210"

cluster = None


def setUpModule():
    global cluster
    cluster = FakeCluster(tokens=[(ALICE_TOKEN, "alice", ["developers"]), (BOB_TOKEN, "bob", ["viewers"])])
    if cluster.real:
        return
    for ns, tenant in (("shop-dev", "shop"), ("shop-prod", "shop"), ("blue-dev", "blue")):
        status, body = cluster.apply({"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": ns, "labels": {"kubesphere.io/workspace": tenant}}})
        assert status == 201, body
    # Everyone in these tests may list namespaces (as a tenant's members can in KubeSphere).
    cluster.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "ns-reader"},
                   "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}]})
    cluster.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "ns-reader"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ns-reader"},
                   "subjects": [{"kind": "Group", "name": "developers", "apiGroup": "rbac.authorization.k8s.io"},
                                {"kind": "Group", "name": "viewers", "apiGroup": "rbac.authorization.k8s.io"}]})
    # alice develops in shop-dev, only views shop-prod.
    for ns, role in (("shop-dev", "edit"), ("shop-prod", "view")):
        status, body = cluster.apply({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "alice-" + role, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]})
        assert status == 201, body


def tearDownModule():
    if cluster:
        cluster.stop()


class KubeTestCase(WbTestCase):
    def setUp(self):
        super().setUp()
        if cluster.real:
            self.skipTest("builds its own kubeconfigs and users for the fake API server")
        self.kc = os.path.join(self.home, "kubeconfig")

    def profile(self, tenant="shop"):
        self.assertExit(self.wb("profile", "init", "acme", "--tenant", tenant), 0)


class Credentials(KubeTestCase):
    def test_token(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN)
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertExit(r, 0)
        self.assertIn("You are alice", r.out)
        self.assertIn("developers", r.out)
        r = self.wb("--kubeconfig", self.kc, "whoami", "-o", "json")
        self.assertEqual(json.loads(r.out)["username"], "alice")

    def test_kubeconfig_env_merge_first_wins(self):
        first = cluster.kubeconfig_for(os.path.join(self.home, "a.yaml"), token=ALICE_TOKEN)
        second = cluster.kubeconfig_for(os.path.join(self.home, "b.yaml"), token=BOB_TOKEN)
        r = self.wb("whoami", env={"KUBECONFIG": first + ":" + second})
        self.assertIn("You are alice", r.out)
        r = self.wb("whoami", env={"KUBECONFIG": "/nonexistent:" + second + ":" + first})
        self.assertIn("You are bob", r.out)

    def test_token_file_is_reread(self):
        token_file = os.path.join(self.home, "token")
        with open(token_file, "w") as f:
            f.write(ALICE_TOKEN + "\n")
        cluster.kubeconfig_for(self.kc)
        with open(self.kc) as f:
            cfg = json.load(f)
        cfg["users"][0]["user"] = {"tokenFile": "token"}  # relative to the kubeconfig's folder
        with open(self.kc, "w") as f:
            json.dump(cfg, f)
        self.assertIn("You are alice", self.wb("--kubeconfig", self.kc, "whoami").out)
        with open(token_file, "w") as f:
            f.write(BOB_TOKEN)
        self.assertIn("You are bob", self.wb("--kubeconfig", self.kc, "whoami").out)

    def test_client_certificate(self):
        cert = cluster.issue_cert("carol", ["developers"])
        cluster.kubeconfig_for(self.kc, cert=cert)
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertExit(r, 0)
        self.assertIn("You are carol", r.out)

    def test_exec_plugin(self):
        plugin = os.path.join(self.home, "plugin.sh")
        calls = os.path.join(self.home, "calls")
        with open(plugin, "w") as f:
            f.write("#!/bin/sh\necho x >> %s\n"
                    "test -n \"$KUBERNETES_EXEC_INFO\" || exit 3\n"
                    "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                    "\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"2999-01-01T00:00:00Z\"}}'\n"
                    % (calls, ALICE_TOKEN))
        os.chmod(plugin, stat.S_IRWXU)
        cluster.kubeconfig_for(self.kc, exec_cfg={"apiVersion": "client.authentication.k8s.io/v1",
                                                  "command": plugin, "interactiveMode": "Never"})
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertExit(r, 0)
        self.assertIn("You are alice", r.out)
        with open(calls) as f:
            self.assertEqual(len(f.readlines()), 1)

    def test_exec_plugin_failure(self):
        cluster.kubeconfig_for(self.kc, exec_cfg={"apiVersion": "client.authentication.k8s.io/v1",
                                                  "command": "wb-no-such-plugin", "interactiveMode": "Never",
                                                  "installHint": "install wb-no-such-plugin from the portal"})
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertOneLineError(r, 4, "wb-no-such-plugin")

    def test_verbose_trace_redacts_the_token(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN)
        r = self.wb("--kubeconfig", self.kc, "-vvv", "whoami")
        self.assertExit(r, 0)
        self.assertIn("selfsubjectreviews", r.err)
        self.assertNotIn(ALICE_TOKEN, r.err)
        self.assertNotIn(ALICE_TOKEN, r.out)


class Workspaces(KubeTestCase):
    def test_list_shows_where_you_may_deploy(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN)
        self.profile()
        r = self.wb("--kubeconfig", self.kc, "workspace", "list", "-o", "json")
        self.assertExit(r, 0)
        items = {w["name"]: w for w in json.loads(r.out)}
        self.assertEqual(sorted(items), ["shop-dev", "shop-prod"])
        self.assertTrue(items["shop-dev"]["canDeploy"])
        self.assertFalse(items["shop-prod"]["canDeploy"])
        self.assertEqual(items["shop-dev"]["status"], "Active")
        r = self.wb("--kubeconfig", self.kc, "workspace", "list", tty=True)
        self.assertIn("CAN DEPLOY", r.out)

    def test_use_remembers_and_checks(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN)
        self.profile()
        r = self.wb("--kubeconfig", self.kc, "workspace", "use", "shop-dev")
        self.assertExit(r, 0)
        r = self.wb("profile", "show", "--resolved", "-o", "json")
        ws = json.loads(r.out)["settings"]["workspace"]
        self.assertEqual((ws["value"], ws["source"]), ("shop-dev", "workspace use"))
        r = self.wb("--kubeconfig", self.kc, "workspace", "list")
        self.assertTrue(r.out.startswith("*\tshop-dev"), r.out)
        self.assertOneLineError(self.wb("--kubeconfig", self.kc, "workspace", "use", "nope"), 3,
                                "workspace 'nope' not found")
        self.assertOneLineError(self.wb("--kubeconfig", self.kc, "workspace", "use", "blue-dev"), 2,
                                "belongs to tenant 'blue'")

    def test_forbidden_list_exit_4(self):
        # carol is in no group that may list namespaces.
        cert = cluster.issue_cert("carol", [])
        cluster.kubeconfig_for(self.kc, cert=cert)
        self.profile()
        r = self.wb("--kubeconfig", self.kc, "workspace", "list")
        self.assertOneLineError(r, 4, "you may not list the workspaces of tenant 'shop'")


class NewUserMistakes(KubeTestCase):
    def test_missing_kubeconfig_flag(self):
        r = self.wb("--kubeconfig", "/nonexistent/kubeconfig", "whoami")
        self.assertOneLineError(r, 3, "/nonexistent/kubeconfig")

    def test_no_kubeconfig_at_all(self):
        r = self.wb("whoami")
        self.assertOneLineError(r, 3, "kubeconfig")

    def test_wrong_context(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN)
        r = self.wb("--kubeconfig", self.kc, "--context", "prod", "whoami")
        self.assertOneLineError(r, 3, "context 'prod'", "fake")

    def test_malformed_kubeconfig(self):
        with open(self.kc, "w") as f:
            f.write("apiVersion: v1\nclusters:\n- name: x\n  cluster: {server: [oops\n")
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertOneLineError(r, 2, self.kc + ":")

    def test_expired_token(self):
        cluster.kubeconfig_for(self.kc, token="expired-or-unknown-token")
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertOneLineError(r, 4, "401")
        self.assertNotIn("expired-or-unknown-token", r.err)

    def test_unreachable_server(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN, server="https://127.0.0.1:1")
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertOneLineError(r, 7, "127.0.0.1:1")

    def test_tls_name_mismatch(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN, tls_server_name="api.wrong.example")
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertExit(r, 1)  # a trust problem, not an outage: retrying will not help
        lines = [l for l in r.err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.err)
        self.assertRegex(lines[0], "(?i)certificate")

    def test_untrusted_ca(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN, ca=False)
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertExit(r, 1)
        self.assertRegex(r.err, "(?i)certificate")

    def test_insecure_skip_verify_works(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN, insecure=True)
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertExit(r, 0)


class AnyCluster(WbTestCase):
    """What must hold on any cluster, fake or real (WB_TEST_KUBECONFIG)."""

    def kubeconfig(self):
        if cluster.real:
            return cluster.kubeconfig
        return cluster.kubeconfig_for(os.path.join(self.home, "kc"), token=ALICE_TOKEN)

    def test_whoami_answers(self):
        r = self.wb("--kubeconfig", self.kubeconfig(), "whoami", "-o", "json")
        self.assertExit(r, 0)
        info = json.loads(r.out)
        self.assertTrue(info["server"].startswith("https://"))
        if info["known"]:
            self.assertTrue(info["username"])

    def test_workspace_list_answers_or_says_forbidden(self):
        r = self.wb("--kubeconfig", self.kubeconfig(), "workspace", "list", "-o", "json")
        self.assertIn(r.code, (0, 4), repr(r))
        if r.code == 0:
            self.assertIsInstance(json.loads(r.out), list)
        else:
            self.assertIn("you may not list", r.err)


class OldServer(WbTestCase):
    """Kubernetes 1.18 has no SelfSubjectReview: whoami says so plainly."""

    @classmethod
    def setUpClass(cls):
        cls.old = None
        if not REAL_KUBECONFIG:
            cls.old = FakeCluster(k8s_version="1.18", tokens=[(ALICE_TOKEN, "alice", ["developers"])])

    @classmethod
    def tearDownClass(cls):
        if cls.old:
            cls.old.stop()

    def test_whoami_cannot_tell(self):
        if not self.old:
            self.skipTest("needs the fake API server's 1.18 mode")
        kc = self.old.kubeconfig_for(os.path.join(self.home, "kc"), token=ALICE_TOKEN)
        r = self.wb("--kubeconfig", kc, "whoami")
        self.assertExit(r, 0)
        self.assertIn("cannot tell who you are", r.out)


if __name__ == "__main__":
    unittest.main()
