"""examples/.gitlab-ci.yml runs for real: gitlab-ci-local (npm, installed into tests/gitlab-ci-local
by scripts/test.sh) runs its jobs in the shell, against the real registry (Debian's
docker-registry) and the fake API server. The build job compiles the sample service with the JDK,
the push job pushes it with wb and writes a dotenv report, the deploy job sets its config and
starts it, and the verify job checks the digest it got from the push job's dotenv report.

Checked as a user would: the pipeline exits 0; skopeo finds the image in the registry with the CI
variables in its labels; the Deployment in the fake cluster runs that digest, its replicas are
ready, and its change cause names the commit, the pipeline and the job; the verify job's log shows
the digest. The example is copied into a temp dir (a git repository), so nothing lands in the
checkout.

With WB_TEST_KUBECONFIG the cluster is a real one: the CI variable KUBECONFIG is a kubeconfig of a
CSR user (ci-deployer, edit in a namespace of the run's own), the test's registry is one the node
pulls from (plain HTTP on a loopback port) holding the real JRE as the base, and the deploy job's
rollout waits for the sample service to really answer its health check; its pod then greets with
the config from the repository.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, Registry, WbTestCase, LEAN_APPS, SOURCE_DIR, WB_BIN, real_images  # noqa: E402
import test_push_jar as push_fixtures  # noqa: E402  (make_base_layout only)

GCL = os.path.join(SOURCE_DIR, "tests", "gitlab-ci-local", "node_modules", ".bin", "gitlab-ci-local")
DEPLOYER = "ci-deployer-token-0123"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def skopeo(*args):
    p = subprocess.run(["skopeo"] + list(args), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("skopeo %s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


class PipelineRuns(WbTestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(GCL):
            raise unittest.SkipTest("gitlab-ci-local is not installed: run `npm ci --prefix tests/gitlab-ci-local` "
                                    "(scripts/test.sh does)")
        cls.cluster = FakeCluster(tokens=[(DEPLOYER, "ci-deployer", ["ci"])])
        cls.registry = Registry()
        cls.tmp = tempfile.mkdtemp(prefix="wb-gitlab-ci-")
        if cls.cluster.real:  # the service really runs: on the real JRE, from a registry the node pulls from
            skopeo("copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                   "docker://" + real_images()["jre"], "docker://%s/base/java:17" % cls.registry.host)
            return
        layout = os.path.join(cls.tmp, "base-layout")
        push_fixtures.make_base_layout(layout)
        skopeo("copy", "--dest-tls-verify=false", "oci:%s:17" % layout,
               "docker://%s/base/java:17" % cls.registry.host)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        cls.registry.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        super().setUp()
        c = self.cluster
        if not c.real:
            status, body = c.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
            self.assertEqual(status, 200, body)
        self.ns = c.namespace("shop-ci", {"kubesphere.io/workspace": "shop"})
        status, body = c.apply({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "ci-deployer-edit", "namespace": self.ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "User", "name": "ci-deployer", "apiGroup": "rbac.authorization.k8s.io"}]})
        self.assertEqual(status, 201, body)

        # The project: a copy of examples/ in a git repository with a GitLab-looking remote.
        self.project = os.path.join(self.home, "hello")
        shutil.copytree(os.path.join(SOURCE_DIR, "examples"), self.project,
                        ignore=shutil.ignore_patterns("build", ".gitlab-ci-local"))
        git_env = self.env({"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
                            "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"})
        for args in (["init", "-q", "-b", "main"], ["remote", "add", "origin", "git@gitlab.example.com:shop/hello.git"],
                     ["config", "user.name", "Dev"], ["config", "user.email", "dev@example.com"],
                     ["add", "-A"], ["commit", "-q", "-m", "hello service"]):
            subprocess.run(["git", "-C", self.project] + args, check=True, capture_output=True, env=git_env)
        self.sha = subprocess.run(["git", "-C", self.project, "rev-parse", "HEAD"], capture_output=True, text=True,
                                  check=True).stdout.strip()

        # What the platform team would put into the project's CI/CD variables (type File).
        self.kubeconfig = c.kubeconfig_for(os.path.join(self.home, "ci-kubeconfig"), token=DEPLOYER)
        self.profile = os.path.join(self.home, "ci-profile.yaml")
        with open(self.profile, "w") as f:
            f.write("tenant: shop\nworkspace: %s\nregistry:\n  host: %s\n  project: shop\n"
                    "baseImages:\n  \"17\": %s/base/java:17\n%s" % (self.ns, self.registry.host, self.registry.host,
                                                                   LEAN_APPS))
        # wb on PATH, as on a runner.
        self.bin = os.path.join(self.home, "bin")
        os.makedirs(self.bin)
        os.symlink(WB_BIN, os.path.join(self.bin, "wb"))

    def run_pipeline(self):
        env = self.env({"PATH": self.bin + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
                        "NO_COLOR": "1", "FORCE_COLOR": "0"})
        args = [GCL, "--home", os.path.join(self.home, "gcl-home"), "--color", "false",
                "--variable", "KUBECONFIG=" + self.kubeconfig,
                "--variable", "WB_PROFILE=" + self.profile,
                # gitlab-ci-local says GITLAB_CI=false (it is not GitLab); a real runner says true.
                "--variable", "GITLAB_CI=true", "--ignore-predefined-vars", "GITLAB_CI"]
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=540, cwd=self.project)
        return p.returncode, ANSI.sub("", p.stdout + p.stderr)

    def test_build_push_deploy_verify(self):
        code, log = self.run_pipeline()
        self.assertEqual(code, 0, log[-6000:])
        for job in ("build-jar", "push-image", "deploy", "verify"):
            self.assertRegex(log, r"%s\s.*(finished|PASS)" % re.escape(job), log[-6000:])

        # The push job's dotenv report (an artifact gitlab-ci-local keeps in its state dir).
        dotenv_path = None
        for root, _, files in os.walk(os.path.join(self.project, ".gitlab-ci-local")):
            if "push.env" in files:
                dotenv_path = os.path.join(root, "push.env")
        self.assertIsNotNone(dotenv_path, "no push.env artifact")
        with open(dotenv_path) as f:
            report = dict(line.split("=", 1) for line in f.read().splitlines() if line)
        digest = report["WB_IMAGE_DIGEST"]
        self.assertRegex(digest, r"^sha256:[0-9a-f]{64}$")
        repo = "%s/shop/hello" % self.registry.host
        self.assertEqual(report["WB_IMAGE"], "%s@%s" % (repo, digest))
        self.assertEqual(report["WB_IMAGE_TAG"], self.sha[:8])

        # The deploy job's report (wb app status --dotenv-out): the app ran that image, Running.
        app_env = None
        for root, _, files in os.walk(os.path.join(self.project, ".gitlab-ci-local")):
            if "app.env" in files:
                app_env = os.path.join(root, "app.env")
        self.assertIsNotNone(app_env, "no app.env artifact")
        with open(app_env) as f:
            app_report = dict(line.split("=", 1) for line in f.read().splitlines() if line)
        self.assertEqual(app_report["WB_APP"], "hello")
        self.assertEqual(app_report["WB_APP_WORKSPACE"], self.ns)
        self.assertEqual(app_report["WB_APP_PHASE"], "Running")
        self.assertEqual(app_report["WB_APP_STATUS"], "Running 1/1")
        self.assertEqual(app_report["WB_APP_IMAGE"], report["WB_IMAGE"])
        self.assertEqual(app_report["WB_APP_CONFIG"], "v1")

        # The verify job saw the digest through the dotenv report.
        self.assertIn("verified: hello runs %s" % digest, log)

        # The image is in the registry under the short SHA, with the CI variables in its labels.
        inspect = json.loads(skopeo("inspect", "--tls-verify=false", "docker://%s:%s" % (repo, self.sha[:8])))
        self.assertEqual(inspect["Digest"], digest)
        labels = inspect["Labels"]
        self.assertEqual(labels["org.opencontainers.image.revision"], self.sha)
        self.assertEqual(labels["dev.wb.ci.project"], "shop/hello")
        self.assertEqual(labels["dev.wb.ci.ref"], "main")
        self.assertIn("/shop/hello", labels["org.opencontainers.image.source"])
        pipeline_url = labels["dev.wb.ci.pipeline-url"]
        job_url = labels["dev.wb.ci.job-url"]
        self.assertRegex(pipeline_url, r"/shop/hello/(-/)?pipelines/\d+$")
        self.assertRegex(job_url, r"/shop/hello/(-/)?jobs/\d+$")

        # The app runs that digest in the cluster, ready, with the config from the repository.
        status, d = self.cluster.request("GET", "/apis/apps/v1/namespaces/%s/deployments/hello" % self.ns)
        self.assertEqual(status, 200, d)
        containers = d["spec"]["template"]["spec"]["containers"]
        self.assertEqual(containers[0]["image"], "%s@%s" % (repo, digest))
        self.assertEqual(d["spec"]["replicas"], 1)
        self.assertEqual(d["status"].get("readyReplicas"), 1, d["status"])
        status, pods = self.cluster.request("GET", "/api/v1/namespaces/%s/pods?labelSelector=app=hello" % self.ns)
        running = [p for p in pods["items"] if p["status"].get("phase") == "Running"]
        self.assertTrue(running, pods)
        self.assertTrue(all(p["spec"]["containers"][0]["image"] == "%s@%s" % (repo, digest) for p in running))
        status, cms = self.cluster.request("GET", "/api/v1/namespaces/%s/configmaps" % self.ns)
        config = [cm for cm in cms["items"] if cm["metadata"]["name"].startswith("hello-config-v")]
        files = [base64.b64decode(v).decode() for cm in config for v in (cm.get("binaryData") or {}).values()]
        files += [v for cm in config for v in (cm.get("data") or {}).values()]
        self.assertTrue(any("greeting=hello from GitLab CI" in f for f in files), cms)
        if self.cluster.real:  # and the service says so (by pod IP: no Service routes on every cluster)
            for p in running:
                with urllib.request.urlopen("http://%s:8080/" % p["status"]["podIP"], timeout=10) as resp:
                    self.assertEqual(resp.read().decode(), "hello from GitLab CI from %s\n" % self.sha[:8])

        # The revision that push made records why and where: commit, pipeline, job, who.
        status, rss = self.cluster.request("GET", "/apis/apps/v1/namespaces/%s/replicasets" % self.ns)
        pushed = [rs for rs in rss["items"]
                  if rs["spec"]["template"]["spec"]["containers"][0]["image"].endswith(digest)]
        self.assertTrue(pushed, rss)
        causes = [rs["metadata"]["annotations"].get("kubernetes.io/change-cause", "") for rs in pushed]
        push_cause = [c for c in causes if c.startswith("push hello.jar")] or causes
        cause = d["metadata"]["annotations"].get("kubernetes.io/change-cause", "")
        # The last change was `wb app start`/config; the push revision keeps its own cause.
        text = " | ".join(push_cause + [cause])
        self.assertIn("shop/hello@main", text)
        self.assertIn("commit %s" % self.sha[:8], text)
        self.assertIn(pipeline_url, text)
        self.assertIn("job " + job_url, text)
        # Who: the GitLab user (gitlab-ci-local takes it from git) via the cluster identity of the job.
        self.assertRegex(d["metadata"]["annotations"].get("wb.dev/changed-by", ""), r"^\S+ via ci-deployer$")

        # Collapsible sections for the long steps (gitlab-ci-local shows a section as NAME_started ...
        # NAME took), progress as lines, no redraws.
        self.assertRegex(log, r"push-image +wb_push_jar_started")
        self.assertRegex(log, r"push-image +wb_push_jar took")
        self.assertRegex(log, r"push-image +>\s+application\s+uploaded")
        self.assertRegex(log, r"deploy +wb_wait_hello_started")
        self.assertRegex(log, r"deploy +> hello: Running 1/1")
        self.assertNotIn("\r\x1b[K", log)
        # Nothing of gitlab-ci-local's state went into the checkout.
        self.assertFalse(os.path.exists(os.path.join(SOURCE_DIR, "examples", ".gitlab-ci-local")))


if __name__ == "__main__":
    unittest.main()
