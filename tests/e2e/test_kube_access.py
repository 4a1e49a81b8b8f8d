"""Talking to a cluster: kubeconfig and every kind of credential, workspaces, whoami, and the
errors a new user meets (missing kubeconfig, wrong context, bad YAML, expired token, unreachable
server, TLS name mismatch) — each one clear line with the documented exit code.

On a real cluster (WB_TEST_KUBECONFIG) the same tests run against its API server: users are client
certificates made by CertificateSigningRequests (the harness), bearer tokens are ServiceAccount
tokens from TokenRequest (a real server has no static token file to add users to), and users,
groups, tenants and namespaces get names unique to the run (the cluster is shared; nothing another
module grants "developers" may change what these tests see). Only the 1.18 server is the fake's."""
import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import ConnectProxy, FakeCluster, kubeconfig_through_proxy, WbTestCase, REAL_KUBECONFIG, free_port  # noqa: E402

ALICE_TOKEN = "alice-token-0123456789"
BOB_TOKEN = "bob-token-9876543210"
# Names unique to this module's run on a real cluster; the fake's own names otherwise.
SUFFIX = "-" + uuid.uuid4().hex[:6] if REAL_KUBECONFIG else ""
ALICE, BOB, CAROL = "alice" + SUFFIX, "bob" + SUFFIX, "carol" + SUFFIX
DEVELOPERS, VIEWERS = "developers" + SUFFIX, "viewers" + SUFFIX
SHOP, BLUE = "shop" + SUFFIX, "blue" + SUFFIX
WS = {"shop-dev": "shop-dev", "shop-prod": "shop-prod", "blue-dev": "blue-dev"}  # fake name -> name here

cluster = None
sa_ns = None  # namespace of the ServiceAccounts whose tokens the token tests use (real mode)


def setUpModule():
    global cluster, sa_ns
    cluster = FakeCluster(tokens=[(ALICE_TOKEN, ALICE, [DEVELOPERS]), (BOB_TOKEN, BOB, [VIEWERS])])
    for ns, tenant in (("shop-dev", SHOP), ("shop-prod", SHOP), ("blue-dev", BLUE)):
        labels = {"kubesphere.io/workspace": tenant}
        if cluster.real:
            WS[ns] = cluster.namespace(ns, labels)
            continue
        status, body = cluster.apply({"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": ns, "labels": labels}})
        assert status == 201, body
    # Everyone in these tests may list namespaces (as a tenant's members can in KubeSphere).
    reader = "ns-reader" + SUFFIX
    for obj in ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": {"name": reader},
                 "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}]},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": {"name": reader},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": reader},
                 "subjects": [{"kind": "Group", "name": DEVELOPERS, "apiGroup": "rbac.authorization.k8s.io"},
                              {"kind": "Group", "name": VIEWERS, "apiGroup": "rbac.authorization.k8s.io"}]}):
        status, body = cluster.apply(obj)
        assert status == 201, body
        plural = obj["kind"].lower() + "s"
        cluster.adopt("/apis/rbac.authorization.k8s.io/v1/%s/%s" % (plural, reader))
    # alice develops in shop-dev, only views shop-prod.
    for ns, role in (("shop-dev", "edit"), ("shop-prod", "view")):
        status, body = cluster.apply({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "alice-" + role, "namespace": WS[ns]},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "name": ALICE, "apiGroup": "rbac.authorization.k8s.io"}]})
        assert status == 201, body
    if cluster.real:
        sa_ns = cluster.namespace("kube-access")


def bearer(who):
    """(token, username, a group of the user) for a bearer-token test: the fake's static token, or
    on a real cluster a ServiceAccount token from TokenRequest."""
    if not cluster.real:
        return {"alice": (ALICE_TOKEN, "alice", "developers"), "bob": (BOB_TOKEN, "bob", "viewers")}[who]
    token, user = cluster.service_account_token(sa_ns, who)
    return token, user, "system:serviceaccounts:" + sa_ns


def tearDownModule():
    if cluster:
        cluster.stop()


class KubeTestCase(WbTestCase):
    def setUp(self):
        super().setUp()
        self.kc = os.path.join(self.home, "kubeconfig")

    def profile(self, tenant=SHOP):
        self.assertExit(self.wb("profile", "init", "acme", "--tenant", tenant), 0)


class Credentials(KubeTestCase):
    def test_token(self):
        token, user, group = bearer("alice")
        cluster.kubeconfig_for(self.kc, token=token)
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertExit(r, 0)
        self.assertIn("You are %s (" % user, r.out)
        self.assertIn(group, r.out)
        r = self.wb("--kubeconfig", self.kc, "whoami", "-o", "json")
        self.assertEqual(json.loads(r.out)["username"], user)

    def test_kubeconfig_env_merge_first_wins(self):
        first = cluster.kubeconfig_for(os.path.join(self.home, "a.yaml"), token=ALICE_TOKEN)
        second = cluster.kubeconfig_for(os.path.join(self.home, "b.yaml"), token=BOB_TOKEN)
        r = self.wb("whoami", env={"KUBECONFIG": first + ":" + second})
        self.assertIn("You are %s (" % ALICE, r.out)
        r = self.wb("whoami", env={"KUBECONFIG": "/nonexistent:" + second + ":" + first})
        self.assertIn("You are %s (" % BOB, r.out)

    def test_token_file_is_reread(self):
        (alice_token, alice, _), (bob_token, bob, _) = bearer("alice"), bearer("bob")
        token_file = os.path.join(self.home, "token")
        with open(token_file, "w") as f:
            f.write(alice_token + "\n")
        cluster.kubeconfig_for(self.kc)
        with open(self.kc) as f:
            cfg = json.load(f)
        cfg["users"][0]["user"] = {"tokenFile": "token"}  # relative to the kubeconfig's folder
        with open(self.kc, "w") as f:
            json.dump(cfg, f)
        self.assertIn("You are %s (" % alice, self.wb("--kubeconfig", self.kc, "whoami").out)
        with open(token_file, "w") as f:
            f.write(bob_token)
        self.assertIn("You are %s (" % bob, self.wb("--kubeconfig", self.kc, "whoami").out)

    def test_client_certificate(self):
        cert = cluster.issue_cert(CAROL, [DEVELOPERS])
        cluster.kubeconfig_for(self.kc, cert=cert)
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertExit(r, 0)
        self.assertIn("You are %s (" % CAROL, r.out)
        self.assertIn(DEVELOPERS, r.out)

    def test_client_certificate_of_an_unknown_ca_is_refused(self):
        # Signed by a CA the server does not know (or a certificate that expired): kube-apiserver
        # completes the TLS handshake and its authenticator refuses the certificate with 401, an auth
        # problem (exit 4). The fake's TLS (Python's ssl, client certificates optional but verified
        # by OpenSSL) ends the handshake instead, as strict TLS front ends do: still one line, exit 7.
        d = tempfile.mkdtemp(prefix="wb-other-ca-", dir=self.home)
        subj = "/CN=%s/O=%s" % (CAROL, DEVELOPERS)
        for args in (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=not-the-cluster-ca",
                      "-keyout", d + "/ca.key", "-out", d + "/ca.crt"],
                     ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", d + "/u.key",
                      "-out", d + "/u.csr"],
                     ["x509", "-req", "-in", d + "/u.csr", "-CA", d + "/ca.crt", "-CAkey", d + "/ca.key",
                      "-CAcreateserial", "-days", "1", "-out", d + "/u.crt"]):
            subprocess.run(["openssl"] + args, check=True, capture_output=True)
        cluster.kubeconfig_for(self.kc, cert=(d + "/u.crt", d + "/u.key"))
        r = self.wb("--kubeconfig", self.kc, "whoami")
        if cluster.real:
            self.assertOneLineError(r, 4, "401")
        else:
            self.assertOneLineError(r, 7, "broke off")

    def test_exec_plugin(self):
        token, user, _ = bearer("alice")
        plugin = os.path.join(self.home, "plugin.sh")
        calls = os.path.join(self.home, "calls")
        with open(plugin, "w") as f:
            f.write("#!/bin/sh\necho x >> %s\n"
                    "test -n \"$KUBERNETES_EXEC_INFO\" || exit 3\n"
                    "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                    "\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"2999-01-01T00:00:00Z\"}}'\n"
                    % (calls, token))
        os.chmod(plugin, stat.S_IRWXU)
        cluster.kubeconfig_for(self.kc, exec_cfg={"apiVersion": "client.authentication.k8s.io/v1",
                                                  "command": plugin, "interactiveMode": "Never"})
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertExit(r, 0)
        self.assertIn("You are %s (" % user, r.out)
        with open(calls) as f:
            self.assertEqual(len(f.readlines()), 1)

    def test_exec_plugin_failure(self):
        cluster.kubeconfig_for(self.kc, exec_cfg={"apiVersion": "client.authentication.k8s.io/v1",
                                                  "command": "wb-no-such-plugin", "interactiveMode": "Never",
                                                  "installHint": "install wb-no-such-plugin from the portal"})
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertOneLineError(r, 4, "wb-no-such-plugin")

    def test_verbose_trace_redacts_the_token(self):
        token, _, _ = bearer("alice")
        cluster.kubeconfig_for(self.kc, token=token)
        r = self.wb("--kubeconfig", self.kc, "-vvv", "whoami")
        self.assertExit(r, 0)
        self.assertIn("selfsubjectreviews", r.err)
        self.assertNotIn(token, r.err)
        self.assertNotIn(token, r.out)


class Workspaces(KubeTestCase):
    def test_list_shows_where_you_may_deploy(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN)
        self.profile()
        r = self.wb("--kubeconfig", self.kc, "workspace", "list", "-o", "json")
        self.assertExit(r, 0)
        items = {w["name"]: w for w in json.loads(r.out)}
        self.assertEqual(sorted(items), sorted([WS["shop-dev"], WS["shop-prod"]]))
        self.assertTrue(items[WS["shop-dev"]]["canDeploy"])
        self.assertFalse(items[WS["shop-prod"]]["canDeploy"])
        self.assertEqual(items[WS["shop-dev"]]["status"], "Active")
        r = self.wb("--kubeconfig", self.kc, "workspace", "list", tty=True)
        self.assertIn("CAN DEPLOY", r.out)

    def test_use_remembers_and_checks(self):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN)
        self.profile()
        r = self.wb("--kubeconfig", self.kc, "workspace", "use", WS["shop-dev"])
        self.assertExit(r, 0)
        r = self.wb("profile", "show", "--resolved", "-o", "json")
        ws = json.loads(r.out)["settings"]["workspace"]
        self.assertEqual((ws["value"], ws["source"]), (WS["shop-dev"], "workspace use"))
        r = self.wb("--kubeconfig", self.kc, "workspace", "list")
        self.assertTrue(r.out.startswith("*\t%s\t" % WS["shop-dev"]), r.out)
        nope = "nope" + SUFFIX
        self.assertOneLineError(self.wb("--kubeconfig", self.kc, "workspace", "use", nope), 3,
                                "workspace '%s' not found" % nope)
        self.assertOneLineError(self.wb("--kubeconfig", self.kc, "workspace", "use", WS["blue-dev"]), 2,
                                "belongs to tenant '%s'" % BLUE)

    def test_forbidden_list_exit_4(self):
        # carol is in no group that may list namespaces, and has no role in any workspace.
        cert = cluster.issue_cert(CAROL, [])
        cluster.kubeconfig_for(self.kc, cert=cert)
        self.profile()
        r = self.wb("--kubeconfig", self.kc, "workspace", "list")
        if cluster.request("GET", "/api/v1/namespaces/wb-system")[0] == 200:
            # A cluster where `wb platform init` made the membership records (a real one other modules
            # set up): they tell her she has no workspace, which is an answer, not a refusal.
            self.assertExit(r, 0)
            self.assertEqual(r.out, "")
            self.assertIn("You have no role in any workspace of tenant '%s' yet" % SHOP, r.err)
        else:
            self.assertOneLineError(r, 4, "you may not list the workspaces of tenant '%s'" % SHOP)


class Proxies(KubeTestCase):
    def with_proxy(self, proxy_url):
        cluster.kubeconfig_for(self.kc, token=ALICE_TOKEN)
        kubeconfig_through_proxy(self.kc, self.kc, proxy_url)

    def test_proxy_url_of_the_kubeconfig_tunnels_to_the_server(self):
        proxy = ConnectProxy()
        self.addCleanup(proxy.close)
        self.with_proxy("http://127.0.0.1:%d" % proxy.port)
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertExit(r, 0)
        self.assertIn("You are %s (" % ALICE, r.out)
        self.assertEqual(set(proxy.targets), {cluster.server[len("https://"):]})

    def test_a_proxy_that_is_not_there(self):
        port = free_port()
        self.with_proxy("http://127.0.0.1:%d" % port)
        r = self.wb("--kubeconfig", self.kc, "whoami")
        self.assertOneLineError(r, 7, "through proxy", "127.0.0.1:%d" % port)


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
