"""wb app create: the objects it prints with --dry-run (no cluster at all), checked field by field
and by an independent validator (tests/validate, kubernetes-models) and bad input; and an API server
takes them as they are (kubectl create --dry-run=server, strict field validation: a real 1.32
apiserver with WB_TEST_KUBECONFIG, else the fake). Creating on a cluster is in test_app_lifecycle.py.

The validator needs its packages once: `npm ci --prefix tests/validate`. Without them those checks
are skipped with a message.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import SOURCE_DIR, FakeCluster, WbTestCase  # noqa: E402

VALIDATE_DIR = os.path.join(SOURCE_DIR, "tests", "validate")


def env_of(container):
    return {e["name"]: e["value"] for e in container.get("env", [])}


class AppDryRun(WbTestCase):
    def setUp(self):
        super().setUp()
        r = self.wb("profile", "init", "acme", "--tenant", "shop", "-w", "shop-dev", "--registry",
                    "harbor.acme.test", "--base-image", "17=harbor.acme.test/base/java:17",
                    "--base-image", "21=harbor.acme.test/base/java:21")
        self.assertExit(r, 0)
        self.collector = {"WB_TRACING_COLLECTOR": "skywalking-oap.tracing:11800"}

    def validate(self, text):
        """Pipes wb's output through tests/validate/validate.js; skips when it is not installed."""
        node = shutil.which("node")
        if not node or not os.path.isdir(os.path.join(VALIDATE_DIR, "node_modules", "kubernetes-models")):
            self.skipTest("kubernetes-models not installed: run `npm ci --prefix tests/validate`")
        p = subprocess.run([node, os.path.join(VALIDATE_DIR, "validate.js")], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "validator:\n" + p.stdout + p.stderr)
        self.assertIn("ok: 2 objects", p.stdout)

    def create_json(self, *args, env=None):
        r = self.wb("app", "create", *args, "--dry-run", "-o", "json", env=env)
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertEqual(doc["apiVersion"], "v1")
        self.assertEqual(doc["kind"], "List")
        self.assertEqual([i["kind"] for i in doc["items"]], ["Deployment", "Service"])
        return doc, r

    def test_dry_run_json_fields(self):
        doc, r = self.create_json("orders", "--port", "8081", "--trace", env=self.collector)
        self.assertEqual(r.err, "")
        deploy, svc = doc["items"]
        meta = deploy["metadata"]
        self.assertEqual(meta["name"], "orders")
        self.assertEqual(meta["namespace"], "shop-dev")
        self.assertEqual(meta["labels"], {"app": "orders", "app.kubernetes.io/name": "orders",
                                          "app.kubernetes.io/managed-by": "wb"})
        self.assertNotIn("app.kubernetes.io/instance", r.out)
        spec = deploy["spec"]
        self.assertEqual(spec["replicas"], 0)
        self.assertEqual(spec["revisionHistoryLimit"], 10)
        self.assertEqual(spec["selector"], {"matchLabels": {"app": "orders", "app.kubernetes.io/name": "orders"}})
        self.assertEqual(spec["strategy"], {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}})
        pod = spec["template"]["spec"]
        self.assertEqual(pod["terminationGracePeriodSeconds"], 45)
        term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
        self.assertEqual(term["weight"], 100)
        self.assertEqual(term["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname")
        c = pod["containers"][0]
        self.assertEqual(c["image"], "harbor.acme.test/base/java:21")  # newest base image until `wb push`
        self.assertEqual(c["imagePullPolicy"], "IfNotPresent")
        self.assertEqual(c["ports"], [{"name": "http", "containerPort": 8081, "protocol": "TCP"}])
        self.assertEqual(c["securityContext"], {"allowPrivilegeEscalation": False,
                                                "capabilities": {"drop": ["ALL"]},
                                                "seccompProfile": {"type": "RuntimeDefault"}})
        self.assertEqual(c["readinessProbe"]["tcpSocket"], {"port": "http"})
        self.assertEqual(c["livenessProbe"]["tcpSocket"], {"port": "http"})
        self.assertEqual(c["lifecycle"]["preStop"]["exec"]["command"], ["sleep", "10"])
        self.assertEqual(c["resources"], {"limits": {"cpu": "500m", "memory": "1Gi"},
                                          "requests": {"cpu": "125m", "memory": "1Gi"}})
        env = env_of(c)
        self.assertEqual(env["JAVA_TOOL_OPTIONS"],
                         "-XX:MaxRAMPercentage=75.0 -javaagent:/skywalking/agent/skywalking-agent.jar")
        self.assertEqual(env["SW_AGENT_NAME"], "shop-dev::orders")
        self.assertEqual(env["SW_AGENT_COLLECTOR_BACKEND_SERVICES"], "skywalking-oap.tracing:11800")
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        self.assertTrue(mounts["/etc/localtime"]["readOnly"])
        self.assertIn("/tmp", mounts)
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(volumes["host-time"]["hostPath"]["path"], "/etc/localtime")
        self.assertEqual(volumes["tmp"], {"name": "tmp", "emptyDir": {}})
        self.assertEqual(svc["metadata"]["namespace"], "shop-dev")
        self.assertEqual(svc["spec"]["type"], "ClusterIP")
        self.assertEqual(svc["spec"]["selector"], spec["selector"]["matchLabels"])
        self.assertEqual(svc["spec"]["ports"], [{"name": "http", "appProtocol": "http", "protocol": "TCP",
                                                 "port": 8081, "targetPort": 8081}])
        self.validate(r.out)

    def test_dry_run_yaml_stream_is_the_default(self):
        r = self.wb("app", "create", "orders", "--dry-run")
        self.assertExit(r, 0)
        docs = r.out.split("\n---\n")
        self.assertEqual(len(docs), 2)
        self.assertTrue(docs[0].startswith("apiVersion: apps/v1\nkind: Deployment\n"))
        self.assertTrue(docs[1].startswith("apiVersion: v1\nkind: Service\n"))
        self.validate(r.out)
        r = self.wb("app", "create", "orders", "--dry-run", "-o", "name")
        self.assertEqual(r.out, "deployment.apps/orders\nservice/orders\n")

    def test_profile_defaults_and_env_settings(self):
        doc, r = self.create_json("orders", "--no-trace", env={
            "WB_DEFAULTS_TIMEZONE": "Asia/Shanghai", "WB_REGISTRY_PULL_SECRET": "harbor-pull",
            "WB_DEFAULTS_CPU": "2", "WB_DEFAULTS_MEMORY": "2Gi", "WB_RETENTION_REVISIONS": "3",
            "WB_TRACING_ENABLED": "true"})
        deploy = doc["items"][0]
        pod = deploy["spec"]["template"]["spec"]
        c = pod["containers"][0]
        self.assertEqual(env_of(c)["TZ"], "Asia/Shanghai")
        self.assertNotIn("SW_AGENT_NAME", env_of(c))
        self.assertEqual([v["name"] for v in pod["volumes"]], ["tmp"])
        self.assertEqual(pod["imagePullSecrets"], [{"name": "harbor-pull"}])
        self.assertEqual(c["resources"]["limits"], {"cpu": "2", "memory": "2Gi"})
        self.assertEqual(deploy["spec"]["revisionHistoryLimit"], 3)
        self.validate(r.out)

    def test_flags_win_over_wb_yaml(self):
        with open(os.path.join(self.workdir, "wb.yaml"), "w") as f:
            f.write("workspace: team-a\n"
                    "app:\n"
                    "  name: orders\n"
                    "  port: 9000\n"
                    "  memory: 768Mi\n"
                    "  springBoot: true\n"
                    "  description: Takes orders\n"
                    "  env:\n"
                    "    SPRING_PROFILES_ACTIVE: dev\n"
                    "    FEATURE_X: 'on'\n")
        doc, r = self.create_json("--port", "8081", "--env", "SPRING_PROFILES_ACTIVE=prod", "--env", "EXTRA=1",
                                  "--cpu", "1")
        deploy, svc = doc["items"]
        self.assertEqual(deploy["metadata"]["name"], "orders")
        self.assertEqual(deploy["metadata"]["namespace"], "team-a")
        # The description, the replicas `wb app start` will give it, and why this version exists.
        self.assertEqual(deploy["metadata"]["annotations"], {"kubesphere.io/description": "Takes orders",
                                                             "wb.dev/replicas": "1",
                                                             "kubernetes.io/change-cause": "create"})
        c = deploy["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["ports"][0]["containerPort"], 8081)
        self.assertEqual(c["resources"]["limits"], {"cpu": "1", "memory": "768Mi"})
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/actuator/health/readiness")
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/actuator/health/liveness")
        names = [e["name"] for e in c["env"]]
        self.assertEqual(names, ["JAVA_TOOL_OPTIONS", "SPRING_PROFILES_ACTIVE", "FEATURE_X", "EXTRA"])
        self.assertEqual(env_of(c)["SPRING_PROFILES_ACTIVE"], "prod")
        self.assertEqual(env_of(c)["FEATURE_X"], "on")
        # A name on the command line wins over app.name.
        doc, _ = self.create_json("payments", "--health", "/healthz")
        c = doc["items"][0]["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(doc["items"][0]["metadata"]["name"], "payments")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/healthz")
        self.validate(r.out)

    def test_no_workspace_anywhere_uses_default_with_a_note(self):
        os.remove(os.path.join(self.home, ".config", "wb", "profiles", "acme.yaml"))
        os.remove(os.path.join(self.home, ".config", "wb", "config.yaml"))
        r = self.wb("app", "create", "orders", "--dry-run", "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["items"][0]["metadata"]["namespace"], "default")
        self.assertIn("no workspace chosen", r.err)
        image = json.loads(r.out)["items"][0]["spec"]["template"]["spec"]["containers"][0]["image"]
        self.assertTrue(image.startswith("wb.invalid/"), image)

    def test_tracing_without_collector_warns(self):
        r = self.wb("app", "create", "orders", "--trace", "--dry-run", "-o", "json")
        self.assertExit(r, 0)
        self.assertIn("tracing.collector", r.err)
        self.assertNotIn("SW_AGENT_COLLECTOR_BACKEND_SERVICES", r.out)

    def test_bad_input_is_one_line_exit_2(self):
        self.assertOneLineError(self.wb("app", "create", "Orders", "--dry-run"), 2,
                                "'Orders' is not a valid app name: use lower-case letters, digits and '-', "
                                "starting with a letter")
        self.assertOneLineError(self.wb("app", "create", "a" * 48, "--dry-run"), 2, "at most 47")
        self.assertOneLineError(self.wb("app", "create", "orders", "--port", "0", "--dry-run"), 2, "port 0")
        self.assertOneLineError(self.wb("app", "create", "orders", "--port", "http", "--dry-run"), 2, "--port")
        self.assertOneLineError(self.wb("app", "create", "orders", "--memory", "1GB", "--dry-run"), 2,
                                "memory '1GB' is not a Kubernetes quantity")
        self.assertOneLineError(self.wb("app", "create", "orders", "--cpu", "fast", "--dry-run"), 2, "cpu 'fast'")
        self.assertOneLineError(self.wb("app", "create", "orders", "--env", "NOEQUALS", "--dry-run"), 2,
                                "must look like NAME=VALUE")
        self.assertOneLineError(self.wb("app", "create", "orders", "--env", "BAD-NAME=1", "--dry-run"), 2,
                                "'BAD-NAME' is not a valid environment variable name")
        self.assertOneLineError(self.wb("app", "create", "--dry-run"), 2, "the app needs a name")

    def test_bad_wb_yaml_names_file_line_col(self):
        path = os.path.join(self.workdir, "wb.yaml")
        with open(path, "w") as f:
            f.write("app:\n  name: orders\n  prot: 8081\n")
        self.assertOneLineError(self.wb("app", "create", "--dry-run"), 2,
                                path + ":3:3: unknown setting 'app.prot'", "did you mean 'app.port'")
        with open(path, "w") as f:
            f.write("app:\n  name: orders\n  memory: 512\n")
        self.assertOneLineError(self.wb("app", "create", "--dry-run"), 2, path + ":3:11: memory '512' is too little")



class TheServerTakesThem(WbTestCase):
    """What --dry-run prints, sent to the API server with dryRun=All: admission, validation and
    strict field validation (an unknown or misspelt field fails) pass, and nothing is stored."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = FakeCluster()
        try:
            cls.ns = cls.cluster.namespace("dryrun")
        except BaseException:
            cls.cluster.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_printed_objects_pass_a_server_side_dry_run(self):
        env = {"WB_TRACING_COLLECTOR": "skywalking-oap.tracing:11800", "WB_REGISTRY_PULL_SECRET": "harbor-pull",
               "WB_DEFAULTS_TIMEZONE": "Asia/Shanghai"}
        for args in ([], ["--port", "8081", "--trace", "--spring-boot", "--memory", "768Mi", "--cpu", "2",
                          "--env", "FEATURE_X=on", "--description", "Takes orders", "--replicas", "3"]):
            r = self.wb("app", "create", "orders", "-w", self.ns, *args, "--dry-run", "-o", "json", env=env)
            self.assertExit(r, 0)
            sent = json.loads(r.out)["items"]
            got = []
            for obj, path in zip(sent, ("/apis/apps/v1/namespaces/%s/deployments", "/api/v1/namespaces/%s/services")):
                status, body = self.cluster.request("POST", path % self.ns + "?dryRun=All&fieldValidation=Strict", obj)
                self.assertEqual(status, 201, "the server refused %s %s: %s" % (obj["kind"], args, body))
                self.assertEqual((body["kind"], body["metadata"]["name"], body["metadata"]["namespace"]),
                                 (obj["kind"], "orders", self.ns))
                got.append(body)
            # Kept as sent (the server adds its defaults around them, e.g. a probe's timeoutSeconds).
            c_sent = sent[0]["spec"]["template"]["spec"]["containers"][0]
            c_got = got[0]["spec"]["template"]["spec"]["containers"][0]
            for field in ("image", "env", "ports", "resources", "securityContext", "volumeMounts", "lifecycle"):
                self.assertEqual(c_got[field], c_sent[field], (field, args))
            self.assertEqual(got[1]["spec"]["ports"], sent[1]["spec"]["ports"], args)
        # A dry run stores nothing.
        for path in ("/apis/apps/v1/namespaces/%s/deployments/orders", "/api/v1/namespaces/%s/services/orders"):
            status, body = self.cluster.request("GET", path % self.ns)
            self.assertEqual(status, 404, body)


if __name__ == "__main__":
    import unittest
    unittest.main()
