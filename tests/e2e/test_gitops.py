"""GitOps end to end, with real git (a bare repository as the remote, clones as checkouts), the real
registry (Debian's docker-registry), kubectl kustomize as an independent renderer, and the fake API
server as the cluster an app is exported from:

  * `wb export` writes the app (Deployment, Service, Ingress + routes version, config version) as
    plain manifests + kustomizations; `kubectl kustomize DIR` renders exactly those objects, which
    are the cluster's minus cluster-owned fields and the defaults the server filled in; no
    app.kubernetes.io/instance; config versions are kept from Argo CD pruning; `kubectl apply -k`
    of the export changes nothing but those Argo CD annotations and starts no rollout.
  * `wb push jar --gitops` with no cluster access at all: one commit whose diff is the image line,
    the message names jar, version, digest, commit and pipeline; the fake API server sees no request.
  * `wb config set --gitops`: a new config-vN.yaml, the Deployment's reference moves, retention.configs
    drops old versions from the repository; --secret is refused.
  * `--git-push`: a pusher behind the remote rebases once and lands; two pushers at once both land.
  * A dirty checkout, or a rebase that conflicts: one-line error, nothing committed, files and
    registry unchanged (the dirty check comes before the upload), checkout clean.

With WB_TEST_KUBECONFIG the cluster is a real one (alice is a CSR user with edit in a throwaway
namespace; the pushes stay in the test's own registry, as no pod runs them): its server adds what
the fake does not (managedFields, more defaults), which the export must leave out. "The cluster
was not asked" is checked there by the workspace's objects being unchanged, as a real server keeps
no log of requests (and wb runs without a kubeconfig).
"""
import json
import os
import shutil
import subprocess
import sys
import unittest
import urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, WbTestCase, SOURCE_DIR  # noqa: E402
from test_push_jar import jars_and_registry  # noqa: E402

TOKEN = "gitops-alice-token-0123456789"
CLUSTER_OWNED = ("resourceVersion", "uid", "managedFields", "creationTimestamp", "generation", "selfLink")
# What an API server writes into the objects wb makes, in fields wb leaves out, at the value it writes
# (seen on a real 1.32 server; the fake fills in some): an export leaves them out. "*": any value,
# the cluster's choice. (path of the objects holding the field; "x[]" is every item of list x)
SERVER_DEFAULTS = {
    "Deployment": [("spec", "progressDeadlineSeconds", 600),
                   ("spec.template.metadata", "creationTimestamp", None),
                   ("spec.template.spec", "dnsPolicy", "ClusterFirst"),
                   ("spec.template.spec", "restartPolicy", "Always"),
                   ("spec.template.spec", "schedulerName", "default-scheduler"),
                   ("spec.template.spec", "securityContext", {}),
                   ("spec.template.spec.containers[]", "terminationMessagePath", "/dev/termination-log"),
                   ("spec.template.spec.volumes[].configMap", "defaultMode", 420),
                   ("spec.template.spec.volumes[].secret", "defaultMode", 420)],
    "Service": [("spec", "clusterIP", "*"), ("spec", "clusterIPs", "*"), ("spec", "ipFamilies", "*"),
                ("spec", "ipFamilyPolicy", "SingleStack"), ("spec", "internalTrafficPolicy", "Cluster"),
                ("spec", "sessionAffinity", "None")],
}

cluster = None
registry = None
jars = None


def setUpModule():
    global cluster, registry, jars
    cluster = FakeCluster(tokens=[(TOKEN, "alice", ["developers"])])
    jars, registry = jars_and_registry("wb-gitops-jars-")


def tearDownModule():
    if cluster:
        cluster.stop()
    if registry:
        registry.stop()
    if jars:
        shutil.rmtree(jars, ignore_errors=True)


def git(cwd, *args, check=True):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": cwd, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "tester", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "tester", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    p = subprocess.run(["git"] + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("git %s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


def load_all(text):
    return [d for d in yaml.safe_load_all(text) if d is not None]


def key(obj):
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def nodes(obj, path):
    """The mappings at a dotted PATH of OBJ; "x[]" walks every item of list x."""
    out = [obj]
    for part in path.split("."):
        found = []
        for o in out:
            if isinstance(o, dict) and part.endswith("[]"):
                found += o.get(part[:-2]) or []
            elif isinstance(o, dict) and part in o:
                found.append(o[part])
        out = found
    return [o for o in out if isinstance(o, dict)]


class GitOps(WbTestCase):
    def setUp(self):
        super().setUp()
        self.ns = cluster.workspace_for("alice", "gitops")
        self.kubeconfig = cluster.kubeconfig_for(os.path.join(self.home, "kubeconfig"), token=TOKEN)
        self.profile(configs=10)
        # The config repository: a bare remote with one commit, and a clone as the checkout.
        self.remote = os.path.join(self.home, "config.git")
        git(self.home, "init", "-q", "--bare", "-b", "main", self.remote)
        self.checkout = self.clone("checkout")
        with open(os.path.join(self.checkout, "README.md"), "w") as f:
            f.write("deployment config\n")
        git(self.checkout, "add", "README.md")
        git(self.checkout, "commit", "-q", "-m", "start")
        git(self.checkout, "push", "-q", "origin", "main")

    # ------------------------------------------------------------ helpers
    def profile(self, configs):
        path = os.path.join(self.home, ".config", "wb", "profiles", "t.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("registry:\n  host: %s\n  project: shop\nbaseImages:\n  \"17\": %s/base/java:17\n"
                    "route:\n  domain: apps.example.com\nretention:\n  configs: %d\n"
                    % (registry.host, registry.host, configs))

    def clone(self, name):
        path = os.path.join(self.home, name)
        git(self.home, "clone", "-q", self.remote, path)
        return path

    def on_cluster(self, *args, **kw):
        env = dict(kw.pop("env", {}), WB_PROFILE="t")
        return self.wb("--kubeconfig", self.kubeconfig, "-w", self.ns, *args, env=env, **kw)

    def offline(self, *args, env=None, **kw):
        """wb with no kubeconfig at all: GitOps mode must not need the cluster."""
        e = {"WB_PROFILE": "t", "KUBECONFIG": os.path.join(self.home, "no-such-kubeconfig")}
        e.update(env or {})
        return self.wb(*args, env=e, **kw)

    def make_app(self, app="orders"):
        self.assertExit(self.on_cluster("app", "create", app, "--replicas", "1"), 0)
        yml = os.path.join(self.workdir, "application.yml")
        with open(yml, "w") as f:
            f.write("server:\n  port: 8080\n")
        self.assertExit(self.on_cluster("config", "set", app, "GREETING=hello", "--file", yml, "--no-wait"), 0)
        self.assertExit(self.on_cluster("route", "add", app), 0)

    def export(self, app="orders", checkout=None, commit=True):
        checkout = checkout or self.checkout
        r = self.on_cluster("export", app, "--to", checkout)
        self.assertExit(r, 0)
        if commit:
            git(checkout, "add", "-A")
            git(checkout, "commit", "-q", "-m", "export " + app)
            git(checkout, "push", "-q", "origin", "main")
        return r

    def head(self, repo):
        return git(repo, "rev-parse", "HEAD").strip()

    def kustomize(self, path):
        p = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return load_all(p.stdout)

    def cluster_object(self, kind, name):
        paths = {"Deployment": "/apis/apps/v1/namespaces/%s/deployments/%s",
                 "Service": "/api/v1/namespaces/%s/services/%s",
                 "ConfigMap": "/api/v1/namespaces/%s/configmaps/%s",
                 "Ingress": "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s"}
        status, body = cluster.request("GET", paths[kind] % (self.ns, name))
        self.assertEqual(status, 200, body)
        return body

    def live_versions(self):
        """{kind/name: resourceVersion} of what the workspace holds."""
        out = {}
        for path in ("/apis/apps/v1/namespaces/%s/deployments", "/api/v1/namespaces/%s/services",
                     "/api/v1/namespaces/%s/configmaps", "/api/v1/namespaces/%s/secrets",
                     "/apis/networking.k8s.io/v1/namespaces/%s/ingresses"):
            status, body = cluster.request("GET", path % self.ns)
            self.assertEqual(status, 200, body)
            for o in body["items"]:
                out["%s/%s" % (path.rsplit("/", 1)[1], o["metadata"]["name"])] = o["metadata"]["resourceVersion"]
        return out

    def mark_requests(self):
        """From here on wb must not ask the cluster anything: the fake's request log starts empty; a
        real server keeps no such log, so what the workspace holds is noted instead."""
        if cluster.real:
            self.marked = self.live_versions()
        else:
            cluster.request("DELETE", "/fake/v1/requests")

    def requests_seen(self):
        """What reached the cluster since mark_requests(): the fake's logged requests; on a real
        cluster the objects that changed (a read leaves no trace there, but wb ran with no kubeconfig)."""
        if cluster.real:
            now = self.live_versions()
            return sorted(k for k in set(now) | set(self.marked) if now.get(k) != self.marked.get(k))
        status, body = cluster.request("GET", "/fake/v1/requests")
        self.assertEqual(status, 200, body)
        items = body.get("items", body) if isinstance(body, dict) else body
        return [r for r in items if not r.get("path", "").startswith("/fake/")]

    def registry_tags(self, repo):
        try:
            with urllib.request.urlopen("http://%s/v2/%s/tags/list" % (registry.host, repo), timeout=10) as r:
                return json.loads(r.read()).get("tags") or []
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return []
            raise

    def ci_env(self):
        return {"CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
                "CI_PIPELINE_URL": "https://gitlab.example.com/shop/orders/-/pipelines/42"}

    # ------------------------------------------------------------ tests
    def test_export_renders_the_app_unchanged_without_cluster_fields(self):
        self.make_app()
        r = self.export(commit=False)
        files = r.out.split()
        base = "%s/orders/" % self.ns
        for f in ("deployment.yaml", "service.yaml", "ingress.yaml", "routes-v1.yaml", "config-v1.yaml",
                  "kustomization.yaml"):
            self.assertIn(base + f, files, r)
        self.assertIn("kustomization.yaml", files)
        self.assertIn("%s/kustomization.yaml" % self.ns, files)

        written = {}
        for f in files:
            with open(os.path.join(self.checkout, f)) as fh:
                docs = load_all(fh.read())
            self.assertEqual(len(docs), 1, f)
            if docs[0]["kind"] != "Kustomization":
                written[key(docs[0])] = docs[0]
        rendered = {key(o): o for o in self.kustomize(self.checkout)}
        self.assertEqual(rendered, written)  # kustomize changes nothing
        # Also an Argo CD Application on the app folder alone renders the same.
        self.assertEqual({key(o): o for o in self.kustomize(os.path.join(self.checkout, self.ns, "orders"))}, written)

        for k, obj in written.items():
            self.assertNotIn("status", obj, k)
            for field in CLUSTER_OWNED:
                self.assertNotIn(field, obj["metadata"], k)
            self.assertNotIn("app.kubernetes.io/instance", json.dumps(obj), k)
            self.assertEqual(obj["metadata"]["namespace"], self.ns)
        # The same objects as in the cluster, minus what the cluster owns and the defaults it filled in.
        for (kind, _, name), obj in written.items():
            live = self.cluster_object(kind, name)
            live.pop("status", None)
            for field in CLUSTER_OWNED:
                live["metadata"].pop(field, None)
            live["metadata"].get("annotations", {}).pop("deployment.kubernetes.io/revision", None)
            if not live["metadata"].get("annotations"):
                live["metadata"].pop("annotations", None)
            for path, field, value in SERVER_DEFAULTS.get(kind, []):
                for n in nodes(obj, path):
                    self.assertNotIn(field, n, "%s %s: the export kept the server's %s" % (kind, name, field))
                for n in nodes(live, path):
                    if field in n and (value == "*" or n[field] == value):
                        del n[field]
            if kind == "ConfigMap" and name.endswith("-config-v1"):
                ann = obj["metadata"]["annotations"]
                self.assertEqual(ann.pop("argocd.argoproj.io/sync-options"), "Prune=false")
                self.assertEqual(ann.pop("argocd.argoproj.io/compare-options"), "IgnoreExtraneous")
            self.assertEqual(obj, live, kind)
        d = written[("Deployment", self.ns, "orders")]
        self.assertEqual(d["spec"]["selector"]["matchLabels"],
                         {"app": "orders", "app.kubernetes.io/name": "orders"})

        # Applied back onto the cluster as Argo CD would: it changes nothing but the Argo CD
        # annotations of the config version, and starts no rollout.
        def rollout():
            live = self.cluster_object("Deployment", "orders")
            return live["spec"]["template"], live["metadata"]["annotations"].get("deployment.kubernetes.io/revision")
        before = rollout()
        p = cluster.kubectl("diff", "-k", self.checkout)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)  # 1: differences found
        changed = [l for l in p.stdout.splitlines() if l[:1] in "+-" and not l.startswith(("+++", "---"))]
        self.assertEqual(sorted(l.split(":")[0].strip() for l in changed),
                         ["+    argocd.argoproj.io/compare-options", "+    argocd.argoproj.io/sync-options"],
                         p.stdout)
        p = cluster.kubectl("apply", "-k", self.checkout)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = cluster.kubectl("diff", "-k", self.checkout)
        self.assertEqual((p.returncode, p.stdout), (0, ""), p.stderr)
        # (A real server counts the annotation kubectl adds as a new generation of a Deployment; the
        # pod template and so the revision stay.)
        self.assertEqual(rollout(), before)

        # A second export of another app keeps the first in the workspace's kustomization.
        self.assertExit(self.on_cluster("app", "create", "payments"), 0)
        self.assertExit(self.on_cluster("export", "payments", "--to", self.checkout), 0)
        with open(os.path.join(self.checkout, self.ns, "kustomization.yaml")) as f:
            self.assertEqual(yaml.safe_load(f)["resources"], ["orders", "payments"])
        names = {key(o)[2] for o in self.kustomize(self.checkout)}
        self.assertIn("orders", names)
        self.assertIn("payments", names)

    def test_push_jar_gitops_commits_only_the_digest_and_never_asks_the_cluster(self):
        self.make_app()
        self.export()
        before = self.head(self.checkout)
        image_before = self.cluster_object("Deployment", "orders")["spec"]["template"]["spec"]["containers"][0]["image"]
        self.mark_requests()
        r = self.offline("push", "jar", os.path.join(jars, "boot.jar"), "--app", "orders", "--gitops", self.checkout,
                         "-o", "json", env=self.ci_env())
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        digest = doc["digest"]
        self.assertIsNone(doc["deployed"])
        self.assertEqual(doc["gitops"]["commit"], self.head(self.checkout))
        self.assertIsNone(doc["gitops"]["pushed"])
        self.assertEqual(git(self.checkout, "rev-list", "--count", "%s..HEAD" % before).strip(), "1")
        self.assertEqual(git(self.checkout, "status", "--porcelain"), "")
        changed = git(self.checkout, "diff", "--name-only", before, "HEAD").split()
        self.assertEqual(changed, ["%s/orders/deployment.yaml" % self.ns])
        diff = git(self.checkout, "diff", "-U0", before, "HEAD")
        minus = [l for l in diff.splitlines() if l.startswith("-") and not l.startswith("---")]
        plus = [l for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
        self.assertEqual(len(minus), 1, diff)
        self.assertEqual(len(plus), 1, diff)
        self.assertRegex(plus[0], r"^\+\s+image: %s/shop/orders@%s$" % (registry.host, digest))
        self.assertRegex(minus[0], r"^-\s+image: ")
        message = git(self.checkout, "log", "-1", "--format=%B")
        for fragment in ("boot.jar", digest, "0123456789abcdef0123456789abcdef01234567",
                         "https://gitlab.example.com/shop/orders/-/pipelines/42", "0.0.1-SNAPSHOT",
                         "Workspace: " + self.ns):
            self.assertIn(fragment, message)
        # The cluster was not asked anything and still runs the old image.
        self.assertEqual(self.requests_seen(), [])
        live = self.cluster_object("Deployment", "orders")["spec"]["template"]["spec"]["containers"][0]["image"]
        self.assertEqual(live, image_before)
        # What Argo CD would apply now names the digest.
        rendered = [o for o in self.kustomize(self.checkout) if o["kind"] == "Deployment"]
        self.assertEqual(rendered[0]["spec"]["template"]["spec"]["containers"][0]["image"],
                         "%s/shop/orders@%s" % (registry.host, digest))
        # The same image again: nothing to commit.
        again = self.offline("push", "jar", os.path.join(jars, "boot.jar"), "--app", "orders", "--gitops",
                             self.checkout, env=self.ci_env())
        self.assertExit(again, 0)
        self.assertIn("nothing to commit", again.err)
        self.assertEqual(git(self.checkout, "rev-list", "--count", "%s..HEAD" % before).strip(), "1")

    def test_config_set_gitops_adds_a_version_and_moves_the_reference(self):
        self.profile(configs=2)
        self.make_app()
        self.export()
        before = self.head(self.checkout)
        self.mark_requests()
        r = self.offline("config", "set", "orders", "MODE=fast", "-m", "speed it up", "--gitops", self.checkout,
                         env=self.ci_env())
        self.assertExit(r, 0)
        self.assertIn("Config v2 of orders", r.out)
        app_dir = "%s/orders" % self.ns
        changed = sorted(git(self.checkout, "diff", "--name-status", before, "HEAD").splitlines())
        self.assertEqual(changed, ["A\t%s/config-v2.yaml" % app_dir, "M\t%s/deployment.yaml" % app_dir,
                                   "M\t%s/kustomization.yaml" % app_dir])
        diff = git(self.checkout, "diff", "-U0", before, "HEAD", "--", app_dir + "/deployment.yaml")
        minus = [l for l in diff.splitlines() if l.startswith("-") and not l.startswith("---")]
        plus = [l for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
        self.assertEqual([l.replace("orders-config-v1", "orders-config-v2") for l in minus],
                         [l.replace("+", "-", 1) for l in plus], diff)
        self.assertTrue(minus, diff)
        with open(os.path.join(self.checkout, app_dir, "config-v2.yaml")) as f:
            cm = yaml.safe_load(f)
        self.assertEqual(cm["data"], {"GREETING": "hello", "MODE": "fast"})
        self.assertTrue(cm["immutable"])
        self.assertEqual(cm["metadata"]["annotations"]["argocd.argoproj.io/sync-options"], "Prune=false")
        self.assertEqual(cm["metadata"]["annotations"]["kubernetes.io/change-cause"], "speed it up")
        message = git(self.checkout, "log", "-1", "--format=%B")
        for fragment in ("config v2", "set MODE", "speed it up", "Pipeline: https://gitlab.example.com"):
            self.assertIn(fragment, message)
        rendered = {key(o): o for o in self.kustomize(self.checkout)}
        c = rendered[("Deployment", self.ns, "orders")]["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["envFrom"], [{"configMapRef": {"name": "orders-config-v2"}}])
        # retention.configs: 2 -> v3 drops v1 from the repository (Argo CD keeps it in the cluster).
        self.assertExit(self.offline("config", "set", "orders", "LEVEL=3", "--gitops", self.checkout), 0)
        files = sorted(os.listdir(os.path.join(self.checkout, app_dir)))
        self.assertIn("config-v2.yaml", files)
        self.assertIn("config-v3.yaml", files)
        self.assertNotIn("config-v1.yaml", files)
        rendered = {key(o) for o in self.kustomize(self.checkout)}
        self.assertNotIn(("ConfigMap", self.ns, "orders-config-v1"), rendered)
        self.assertIn(("ConfigMap", self.ns, "orders-config-v3"), rendered)
        self.assertEqual(self.requests_seen(), [])
        # Secret values never go into git.
        head = self.head(self.checkout)
        r = self.offline("config", "set", "orders", "PASSWORD=x", "--secret", "--gitops", self.checkout)
        self.assertOneLineError(r, 2, "secret")
        self.assertEqual(self.head(self.checkout), head)

    def test_config_rollback_gitops_makes_a_version_from_one_the_repository_holds(self):
        self.profile(configs=3)
        self.make_app()
        self.export()
        # A comment someone wrote in the Deployment survives config changes (only the name is edited).
        dep = os.path.join(self.checkout, self.ns, "orders", "deployment.yaml")
        with open(dep) as f:
            text = f.read()
        with open(dep, "w") as f:
            f.write("# owned by team orders: ask in #orders before changing\n" + text)
        git(self.checkout, "commit", "-qam", "a comment")
        for mode in ("fast", "slow"):
            self.assertExit(self.offline("config", "set", "orders", "MODE=" + mode, "--gitops", self.checkout), 0)
        before = self.head(self.checkout)
        self.mark_requests()
        r = self.offline("config", "rollback", "orders", "--to", "2", "--gitops", self.checkout, "-o", "json")
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertEqual((doc["version"], doc["base"], doc["cause"]), (4, 3, "rollback to v2"))
        app_dir = "%s/orders" % self.ns
        with open(os.path.join(self.checkout, app_dir, "config-v4.yaml")) as f:
            self.assertEqual(yaml.safe_load(f)["data"], {"GREETING": "hello", "MODE": "fast"})
        rendered = {key(o): o for o in self.kustomize(self.checkout)}
        c = rendered[("Deployment", self.ns, "orders")]["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["envFrom"], [{"configMapRef": {"name": "orders-config-v4"}}])
        self.assertEqual(git(self.checkout, "rev-list", "--count", before + "..HEAD").strip(), "1")
        self.assertIn("rollback to v2", git(self.checkout, "log", "-1", "--format=%B"))
        with open(dep) as f:
            self.assertTrue(f.read().startswith("# owned by team orders"), "the comment was lost")
        # v1 left the repository (retention.configs: 3): refused, nothing changed, said what is there
        head = self.head(self.checkout)
        r = self.offline("config", "rollback", "orders", "--to", "1", "--gitops", self.checkout)
        self.assertOneLineError(r, 3, "config v1 of orders is not in the config repository (it holds v2, v3, v4)")
        self.assertEqual(self.head(self.checkout), head)
        self.assertEqual(git(self.checkout, "status", "--porcelain"), "")
        self.assertEqual(self.requests_seen(), [])

    def test_git_push_rebases_once_and_concurrent_pushers_both_land(self):
        self.make_app("orders")
        self.make_app("payments")
        self.export("orders")
        self.export("payments")
        other = self.clone("other")  # up to date now, behind after the next push
        r = self.offline("config", "set", "orders", "A=1", "--gitops", self.checkout, "--git-push")
        self.assertExit(r, 0)
        self.assertIn("pushed to origin/main", r.err)
        r = self.offline("config", "set", "payments", "B=2", "--gitops", other, "--git-push", "-o", "json")
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertTrue(doc["gitops"]["rebased"], doc)
        self.assertEqual(doc["gitops"]["pushed"], "origin/main")
        log = git(self.remote, "log", "--format=%s", "main")
        self.assertIn("orders: config v2", log)
        self.assertIn("payments: config v2", log)
        self.assertEqual(git(other, "status", "--porcelain"), "")

        # Two at once (different apps): whoever comes second rebases onto the other and lands too.
        git(self.checkout, "pull", "-q", "--rebase")
        self.assertExit(self.offline("config", "set", "orders", "C=3", "--gitops", self.checkout, "--git-push"), 0)
        one, two = self.clone("one"), self.clone("two")
        env = self.env({"WB_PROFILE": "t", "KUBECONFIG": os.path.join(self.home, "none")})
        wb = os.environ.get("WB_BIN") or os.path.join(SOURCE_DIR, "build", "default", "cli", "wb")
        procs = [subprocess.Popen([wb, "config", "set", app, "D=4", "--gitops", path, "--git-push"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for app, path in (("orders", one), ("payments", two))]
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
        log = git(self.remote, "log", "--format=%s", "main")
        self.assertIn("orders: config v4", log)
        self.assertIn("payments: config v3", log)
        fresh = self.clone("fresh")
        with open(os.path.join(fresh, self.ns, "orders", "config-v4.yaml")) as f:
            self.assertEqual(yaml.safe_load(f)["data"], {"GREETING": "hello", "A": "1", "C": "3", "D": "4"})
        with open(os.path.join(fresh, self.ns, "payments", "config-v3.yaml")) as f:
            self.assertEqual(yaml.safe_load(f)["data"], {"GREETING": "hello", "B": "2", "D": "4"})

    def test_dirty_checkout_stops_before_anything_is_pushed(self):
        self.make_app()
        self.export()
        before = self.head(self.checkout)
        path = os.path.join(self.checkout, self.ns, "orders", "service.yaml")
        with open(path, "a") as f:
            f.write("# local edit\n")
        with open(path) as f:
            edited = f.read()
        with open(os.path.join(self.checkout, self.ns, "orders", "deployment.yaml")) as f:
            deployment = f.read()
        r = self.offline("push", "jar", os.path.join(jars, "boot.jar"), "--app", "orders", "--gitops", self.checkout)
        self.assertExit(r, 5)
        errors = [l for l in r.err.splitlines() if l.startswith("error:")]
        self.assertEqual(len(errors), 1, r)
        self.assertIn("uncommitted changes", errors[0])
        self.assertIn("service.yaml", errors[0])
        self.assertEqual(self.head(self.checkout), before)
        with open(path) as f:
            self.assertEqual(f.read(), edited)
        with open(os.path.join(self.checkout, self.ns, "orders", "deployment.yaml")) as f:
            self.assertEqual(f.read(), deployment)
        self.assertEqual(self.registry_tags("shop/orders"), [])  # nothing was uploaded
        r = self.offline("config", "set", "orders", "X=1", "--gitops", self.checkout)
        self.assertOneLineError(r, 5, "uncommitted changes")
        self.assertEqual(self.head(self.checkout), before)

    def test_rebase_conflict_leaves_the_checkout_clean(self):
        self.make_app()
        self.export()
        other = self.clone("other")
        self.assertExit(self.offline("push", "jar", os.path.join(jars, "boot.jar"), "--app", "orders",
                                     "--gitops", self.checkout, "--git-push"), 0)
        before = self.head(other)
        with open(os.path.join(other, self.ns, "orders", "deployment.yaml")) as f:
            deployment = f.read()
        r = self.offline("push", "jar", os.path.join(jars, "boot-v2.jar"), "--app", "orders", "--gitops", other,
                         "--git-push")
        self.assertExit(r, 5)
        errors = [l for l in r.err.splitlines() if l.startswith("error:")]
        self.assertEqual(len(errors), 1, r)
        self.assertIn("rebase", errors[0])
        self.assertIn("as it was", errors[0])
        self.assertEqual(self.head(other), before)
        self.assertEqual(git(other, "status", "--porcelain"), "")
        self.assertFalse(os.path.exists(os.path.join(other, ".git", "rebase-merge")))
        self.assertFalse(os.path.exists(os.path.join(other, ".git", "rebase-apply")))
        with open(os.path.join(other, self.ns, "orders", "deployment.yaml")) as f:
            self.assertEqual(f.read(), deployment)
        # The remote has only the first push.
        self.assertEqual(git(self.remote, "rev-parse", "main").strip(), self.head(self.checkout))

    def test_secrets_stay_in_the_cluster(self):
        self.make_app()
        self.assertExit(self.on_cluster("config", "set", "orders", "--secret", "PASSWORD=hunter2-do-not-commit",
                                        "--no-wait"), 0)
        r = self.export()
        self.assertIn("orders-secret-v2 stays in the cluster", r.err)
        for name in git(self.checkout, "ls-files").split():
            with open(os.path.join(self.checkout, name)) as f:
                text = f.read()
            self.assertNotIn("hunter2", text, name)
            self.assertNotIn("aHVudGVyMi", text, name)  # base64 of it
        self.assertNotIn("Secret", [o["kind"] for o in self.kustomize(self.checkout)])
        r = self.offline("config", "set", "orders", "MODE=x", "--gitops", self.checkout, "-o", "json")
        self.assertExit(r, 0)
        self.assertIn("orders-secret-v2", r.err)  # the warning: it keeps its secret values from there
        d = [o for o in self.kustomize(self.checkout) if o["kind"] == "Deployment"][0]
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["envFrom"],
                         [{"configMapRef": {"name": "orders-config-v3"}}, {"secretRef": {"name": "orders-secret-v2"}}])
        vols = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(vols["wb-config"]["configMap"]["name"], "orders-config-v3")

    def test_app_not_in_checkout_and_not_a_checkout(self):
        r = self.offline("config", "set", "orders", "X=1", "--gitops", self.checkout)
        self.assertOneLineError(r, 3, "not in the config checkout", "wb export orders")
        plain = os.path.join(self.home, "plain")
        os.makedirs(os.path.join(plain, "ws", "orders"))
        with open(os.path.join(plain, "ws", "orders", "kustomization.yaml"), "w") as f:
            f.write("resources: []\n")
        r = self.offline("config", "set", "orders", "X=1", "--gitops", plain)
        self.assertOneLineError(r, 2, "not a git checkout")
        r = self.offline("config", "set", "orders", "X=1", "--git-push")
        self.assertExit(r, 2)
        r = self.offline("config", "set", "../../etc", "X=1", "--gitops", self.checkout)
        self.assertExit(r, 2)


if __name__ == "__main__":
    unittest.main()
