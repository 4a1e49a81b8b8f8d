"""`wb push jar` end to end: test jars built from source by the JDK (tests/fixtures/jars) are pushed
to the real registry (Debian's docker-registry, plain and TLS + htpasswd) and to local targets
(oci:DIR, tar:FILE), and checked with skopeo, which shares no code with wb. Then the app rolls to
the pushed digest on the fake API server (wb app create -> push -> the Deployment's image is the
digest, the change cause is recorded; --no-deploy; a stopped app stays stopped; a crash-looping
release exits 6 with "keeps crashing").

With WB_TEST_KUBECONFIG (a real cluster) the deploy tests push to WB_TEST_REGISTRY, which the
cluster's node pulls from, on the real JRE base, and the app really runs: the test HTTP server jar
(its pods answer with the version pushed, by pod IP), rollouts wait for real readiness, and the
crashing release is a jar that exits 1. The registry-only tests keep their own local registries.

Running the pushed image for real (podman + a debootstrapped JRE base, minutes) is optional: set
WB_TEST_PODMAN=1 (root, with podman, runc and debootstrap; the JRE base is made once by
tests/fixtures/jre/make_jre_layout.sh, or taken from WB_TEST_JRE_LAYOUT); otherwise it is skipped.
"""
import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import (FakeCluster, Registry, WbTestCase, LEAN_APPS, REAL_KUBECONFIG, REAL_REGISTRY,  # noqa: E402
                    SOURCE_DIR, free_port, jre_layout, real_images)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_TAR_LAYER = "application/vnd.oci.image.layer.v1.tar"
SECTION = re.compile(r"section_start:\d+:wb_push_jar")

jars = None       # dir with the fixture jars
plain_reg = None  # Registry()
tls_reg = None    # Registry(tls=True)
base_layout = None


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_base_layout(path):
    """A tiny OCI base image (one layer: /etc/wb-base-release) tagged "17"."""
    os.makedirs(os.path.join(path, "blobs", "sha256"))

    def put(data):
        d = sha256(data)
        with open(os.path.join(path, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return {"digest": d, "size": len(data)}

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        d = tarfile.TarInfo("etc/")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 0
        t.addfile(d)
        body = b"wb test base\n"
        f = tarfile.TarInfo("etc/wb-base-release")
        f.size, f.mode, f.mtime = len(body), 0o644, 0
        t.addfile(f, io.BytesIO(body))
    tar = buf.getvalue()
    layer = put(gzip.compress(tar, mtime=0))
    config = put(json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Env": ["PATH=/usr/bin:/bin", "BASE=yes"]},
                             "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]}}).encode())
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
                           "layers": [dict(layer, mediaType=OCI_LAYER)]}).encode()
    m = put(manifest)
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(m, mediaType=OCI_MANIFEST, annotations={
            "org.opencontainers.image.ref.name": "17"})]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return layer["digest"]


def skopeo(*args):
    p = subprocess.run(["skopeo"] + list(args), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("skopeo %s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


def jars_and_registry(prefix):
    """For other test modules: the fixture jars, built into a new temp dir (PREFIX...), and a plain
    registry holding base/java:17. Returns (jars_dir, registry); the caller stops and removes them."""
    jars_dir = tempfile.mkdtemp(prefix=prefix)
    subprocess.run([os.path.join(SOURCE_DIR, "tests", "fixtures", "jars", "build.sh"), jars_dir], check=True,
                   capture_output=True, timeout=300)
    reg = Registry()
    layout = os.path.join(jars_dir, "base-layout")
    make_base_layout(layout)
    skopeo("copy", "--dest-tls-verify=false", "oci:%s:17" % layout, "docker://%s/base/java:17" % reg.host)
    return jars_dir, reg


def setUpModule():
    global jars, plain_reg, tls_reg, base_layout
    jars = tempfile.mkdtemp(prefix="wb-push-jars-")
    subprocess.run([os.path.join(SOURCE_DIR, "tests", "fixtures", "jars", "build.sh"), jars], check=True,
                   capture_output=True, timeout=300)
    plain_reg = Registry()
    tls_reg = Registry(tls=True)
    base_layout = os.path.join(jars, "base-layout")
    make_base_layout(base_layout)
    skopeo("copy", "--dest-tls-verify=false", "oci:%s:17" % base_layout, "docker://%s/base/java:17" % plain_reg.host)
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "%s:%s" % (tls_reg.user, tls_reg.password),
           "oci:%s:17" % base_layout, "docker://%s/base/java:17" % tls_reg.host)


def tearDownModule():
    for r in (plain_reg, tls_reg):
        if r:
            r.stop()
    if jars:
        shutil.rmtree(jars, ignore_errors=True)


class PushCase(WbTestCase):
    """Helpers: profiles, pushes, skopeo checks."""

    def assertOneLineError(self, result, code, *fragments):
        """One error line; warnings (e.g. plain.jar's missing Class-Path entry) and notes may precede it."""
        self.assertExit(result, code)
        lines = [l for l in result.err.splitlines() if l.strip() and not l.startswith(("warning:", "note:"))]
        self.assertEqual(len(lines), 1, "expected one error line:\n" + result.err)
        self.assertTrue(lines[0].startswith("error: "), result.err)
        for frag in fragments:
            self.assertIn(frag, lines[0])

    def write_profile(self, name="t", registry=None, project="shop", bases=None, ca=None, credentials=None,
                      extra=""):
        lines = []
        if registry:
            lines += ["registry:", "  host: %s" % registry, "  project: %s" % project]
            if ca:
                lines.append("  ca: %s" % ca)
            if credentials:
                lines.append("  credentials: %s" % credentials)
        if bases:
            lines.append("baseImages:")
            lines += ['  "%s": %s' % (k, v) for k, v in bases.items()]
        path = os.path.join(self.home, ".config", "wb", "profiles", name + ".yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        return name

    def push(self, *args, env=None, profile="t", **kw):
        e = dict(env or {})
        if profile:
            e["WB_PROFILE"] = profile
        return self.wb("push", "jar", *args, env=e, **kw)

    def push_json(self, *args, **kw):
        r = self.push(*args, "-o", "json", **kw)
        self.assertExit(r, 0)
        return json.loads(r.out)

    def fates(self, doc):
        return {l["name"]: l["fate"] for l in doc["layers"]}

    def inspect(self, ref, *flags, tls_verify=False, creds=None):
        args = ["inspect"] + list(flags)
        if ref.startswith("docker://"):
            args.append("--tls-verify=%s" % ("true" if tls_verify else "false"))
            if creds:
                args += ["--creds", creds]
        out = skopeo(*(args + [ref]))
        return json.loads(out)


class PushToRegistry(PushCase):
    def setUp(self):
        super().setUp()
        self.base = "%s/base/java:17" % plain_reg.host
        self.write_profile(registry=plain_reg.host, bases={"11": "%s/base/java:11-missing" % plain_reg.host,
                                                          "17": self.base, "21": self.base})

    def test_spring_boot_jar_becomes_a_layered_image(self):
        app = "orders-" + uuid.uuid4().hex[:6]
        doc = self.push(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy", "-o", "json")
        self.assertExit(doc, 0)
        doc = json.loads(doc.out)
        repo = "%s/shop/%s" % (plain_reg.host, app)
        self.assertEqual(doc["reference"], repo + "@" + doc["digest"])
        self.assertEqual(doc["tags"], ["0.0.1-SNAPSHOT"])  # the jar's Implementation-Version
        self.assertIsNone(doc["deployed"])
        names = [l["name"] for l in doc["layers"]]
        self.assertEqual(names, ["base", "dependencies", "spring-boot-loader", "snapshot-dependencies", "config",
                                 "application"])
        fates = self.fates(doc)
        self.assertEqual(fates["base"], "mounted")  # same registry, another repository
        for n in names[1:]:
            self.assertEqual(fates[n], "uploaded", doc)
        for l in doc["layers"]:
            self.assertRegex(l["digest"], r"^sha256:[0-9a-f]{64}$")
            self.assertGreater(l["size"], 0)

        raw = self.inspect("docker://%s:0.0.1-SNAPSHOT" % repo, "--raw")
        self.assertEqual(raw["mediaType"], OCI_MANIFEST)  # follows the (OCI) base
        self.assertEqual(len(raw["layers"]), 6)
        self.assertEqual(raw["layers"][0]["mediaType"], OCI_LAYER)  # the base's, as it was
        self.assertEqual(raw["layers"][-1]["mediaType"], OCI_LAYER)  # auto: the classes shrink, so gzipped
        self.assertTrue(all(l["mediaType"] in (OCI_LAYER, OCI_TAR_LAYER) for l in raw["layers"]))
        self.assertEqual([l["digest"] for l in raw["layers"]], [l["digest"] for l in doc["layers"]])
        config = self.inspect("docker://%s@%s" % (repo, doc["digest"]), "--config")
        for l, diff_id in zip(raw["layers"], config["rootfs"]["diff_ids"]):
            if l["mediaType"] == OCI_TAR_LAYER:
                self.assertEqual(l["digest"], diff_id)  # a plain tar is its own diff_id
        c = config["config"]
        self.assertEqual(c["Entrypoint"], ["java", "-cp", "/app", "org.springframework.boot.loader.launch.JarLauncher"])
        self.assertEqual(c["WorkingDir"], "/app")
        self.assertIn("BASE=yes", c["Env"])  # the base's config is kept
        self.assertIn("8080/tcp", c["ExposedPorts"])
        labels = c["Labels"]
        self.assertEqual(labels["org.opencontainers.image.title"], app)
        self.assertEqual(labels["org.opencontainers.image.version"], "0.0.1-SNAPSHOT")
        self.assertEqual(labels["org.opencontainers.image.created"], "1980-01-01T00:00:01Z")
        self.assertEqual(len(config["rootfs"]["diff_ids"]), 6)

    def test_same_jar_same_digest_and_one_class_change_uploads_only_the_application(self):
        app = "orders-" + uuid.uuid4().hex[:6]
        first = self.push_json(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy")
        again = self.push_json(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy")
        self.assertEqual(first["digest"], again["digest"])
        self.assertEqual(set(self.fates(again).values()), {"skipped"}, again)
        changed = self.push_json(os.path.join(jars, "boot-v2.jar"), "--app", app, "--no-deploy", "--tag", "v2")
        self.assertNotEqual(changed["digest"], first["digest"])
        fates = self.fates(changed)
        self.assertEqual(fates.pop("application"), "uploaded", changed)
        self.assertEqual(set(fates.values()), {"skipped"}, changed)
        uploaded = sum(l["size"] for l in changed["layers"] if l["fate"] == "uploaded")
        self.assertLess(uploaded, os.path.getsize(os.path.join(jars, "boot-v2.jar")))
        # A fresh cache (another machine) still gives the same digest.
        other_home = self.push_json(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy",
                                    env={"XDG_CACHE_HOME": os.path.join(self.home, "other-cache")})
        self.assertEqual(other_home["digest"], first["digest"])

    def test_compression_from_the_flag_and_the_profile(self):
        app = "orders-" + uuid.uuid4().hex[:6]
        repo = "%s/shop/%s" % (plain_reg.host, app)
        doc = self.push_json(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy", "--compression", "none")
        raw = self.inspect("docker://%s@%s" % (repo, doc["digest"]), "--raw")
        config = self.inspect("docker://%s@%s" % (repo, doc["digest"]), "--config")
        self.assertEqual([l["mediaType"] for l in raw["layers"][1:]], [OCI_TAR_LAYER] * 5)
        self.assertEqual([l["digest"] for l in raw["layers"][1:]], config["rootfs"]["diff_ids"][1:])
        # skopeo copies it out as it is (dir:), checking every blob against its digest; the tars read back.
        out = os.path.join(self.home, "plain-layers")
        skopeo("copy", "--src-tls-verify=false", "docker://%s@%s" % (repo, doc["digest"]), "dir:" + out)
        with tarfile.open(os.path.join(out, raw["layers"][-1]["digest"][7:]), "r:") as t:
            self.assertIn("app/BOOT-INF/classes/com/example/App.class", t.getnames())

        self.write_profile(registry=plain_reg.host, bases={"17": self.base}, extra="push:\n  compression: gzip\n")
        doc_none = doc
        doc = self.push_json(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy", "--tag", "gz")
        raw = self.inspect("docker://%s:gz" % repo, "--raw")
        self.assertEqual([l["mediaType"] for l in raw["layers"]], [OCI_LAYER] * 6)
        # --compression wins over the profile; the same jar gives the same image again.
        again = self.push_json(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy", "--compression", "none")
        self.assertEqual(again["digest"], doc_none["digest"])
        self.assertEqual(set(self.fates(again).values()), {"skipped"}, again)

        self.write_profile(registry=plain_reg.host, bases={"17": self.base}, extra="push:\n  compression: zstd\n")
        r = self.push(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy")
        self.assertExit(r, 2)
        self.assertIn("push.compression 'zstd'", r.err)
        self.assertIn("is not auto, gzip or none", r.err)
        r = self.push(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy", "--compression", "xz")
        self.assertExit(r, 2)
        self.assertIn("--compression", r.err)

    def test_plain_jar_text_output_and_dotenv(self):
        dotenv = os.path.join(self.home, "push.env")
        r = self.push(os.path.join(jars, "plain.jar"), "--no-deploy", "--tag", "a1", "--tag", "a2",
                      "--dotenv-out", dotenv, "--jvm-flag", "-XX:+UseSerialGC", "--env", "GREETING=hi")
        self.assertExit(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 1, r)
        repo = "%s/shop/plain-app" % plain_reg.host  # the app name from Implementation-Title
        self.assertRegex(lines[0], "^" + re.escape(repo) + "@sha256:[0-9a-f]{64}$")
        digest = lines[0].split("@")[1]
        self.assertNotIn("uploaded", r.err)  # no progress in a pipe
        with open(dotenv) as f:
            self.assertEqual(f.read(), "WB_IMAGE=%s\nWB_IMAGE_DIGEST=%s\nWB_IMAGE_TAG=a1\n" % (lines[0], digest))
        for tag in ("a1", "a2"):
            raw = self.inspect("docker://%s:%s" % (repo, tag), "--raw")
            self.assertEqual(len(raw["layers"]), 3)  # base, dependencies (lib/helper.jar), application
        c = self.inspect("docker://%s:a1" % repo, "--config")["config"]
        self.assertEqual(c["Entrypoint"], ["java", "-XX:+UseSerialGC", "-jar", "/app/app.jar"])
        self.assertIn("GREETING=hi", c["Env"])
        self.assertIn("class-path", r.err.lower())  # the missing Class-Path entry is a warning

    def test_progress_on_a_terminal_and_sections_in_gitlab_ci(self):
        app = "orders-" + uuid.uuid4().hex[:6]
        r = self.push(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy", tty=True)
        self.assertExit(r, 0)
        self.assertRegex(r.out, r"application\s+\S*uploaded")
        self.assertIn("mounted", r.out)
        ci = {"GITLAB_CI": "true", "CI_COMMIT_SHORT_SHA": "abcd1234", "CI_COMMIT_SHA": "abcd1234" + "0" * 32,
              "CI_PROJECT_URL": "https://gitlab.example.com/shop/orders", "CI_COMMIT_REF_NAME": "main",
              "CI_PIPELINE_URL": "https://gitlab.example.com/shop/orders/-/pipelines/7"}
        r = self.push(os.path.join(jars, "boot-v2.jar"), "--app", app, "--no-deploy", env=ci)
        self.assertExit(r, 0)
        self.assertRegex(r.err, SECTION)
        self.assertIn("section_end:", r.err)
        self.assertRegex(r.err, r"application\s+uploaded")
        self.assertRegex(r.err, r"dependencies\s+skipped")
        self.assertNotIn("\r\x1b[K", r.err)  # no redraws in CI logs
        repo = "%s/shop/%s" % (plain_reg.host, app)
        self.assertEqual(r.out.strip().split("@")[0], repo)
        labels = self.inspect("docker://%s:abcd1234" % repo, "--config")["config"]["Labels"]
        self.assertEqual(labels["org.opencontainers.image.source"], ci["CI_PROJECT_URL"])
        self.assertEqual(labels["org.opencontainers.image.revision"], ci["CI_COMMIT_SHA"])

    def test_labels_from_git_and_source_date_epoch(self):
        repo_dir = os.path.join(self.workdir, "repo")
        os.makedirs(repo_dir)
        git = lambda *a: subprocess.run(["git", "-C", repo_dir] + list(a), check=True, capture_output=True,
                                        env=self.env({"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
                                                      "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}))
        git("init", "-q")
        git("remote", "add", "origin", "https://ci-token:s3cret@gitlab.example.com/shop/orders.git")
        git("commit", "-q", "--allow-empty", "-m", "x")
        head = subprocess.run(["git", "-C", repo_dir, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        app = "orders-" + uuid.uuid4().hex[:6]
        r = self.push(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy", "--tag", "g",
                      env={"SOURCE_DATE_EPOCH": "1700000000"}, cwd=repo_dir)
        self.assertExit(r, 0)
        c = self.inspect("docker://%s/shop/%s:g" % (plain_reg.host, app), "--config")
        labels = c["config"]["Labels"]
        self.assertEqual(labels["org.opencontainers.image.source"], "https://gitlab.example.com/shop/orders.git")
        self.assertEqual(labels["org.opencontainers.image.revision"], head)
        self.assertEqual(labels["org.opencontainers.image.created"], "2023-11-14T22:13:20Z")
        self.assertEqual(c["created"], "2023-11-14T22:13:20Z")
        self.assertNotIn("s3cret", r.out + r.err)

    def test_java_too_new_for_the_profile_fails_before_uploading(self):
        self.write_profile(registry=plain_reg.host, bases={"8": self.base, "11": self.base})
        app = "orders-" + uuid.uuid4().hex[:6]
        r = self.push(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy")
        self.assertOneLineError(r, 2, "boot.jar needs Java 17 but the profile only has base images for 8, 11")
        self.assertNotIn(app, catalog(plain_reg))

    def test_bad_jars(self):
        r = self.push(os.path.join(jars, "orders.txt"), "--no-deploy")
        self.assertOneLineError(r, 2, "orders.txt", "not a jar")
        r = self.push(os.path.join(jars, "nomain.jar"), "--no-deploy")
        self.assertOneLineError(r, 2, "Main-Class")
        r = self.push(os.path.join(jars, "missing.jar"), "--no-deploy")
        self.assertOneLineError(r, 3, "missing.jar")
        r = self.push(os.path.join(jars, "plain.jar"), "--no-deploy", "--tag", "-bad")
        self.assertExit(r, 2)
        r = self.push(os.path.join(jars, "plain.jar"), "--no-deploy", "--to", "oci:x", "--platform", "linux")
        self.assertOneLineError(r, 2, "'linux' is not a platform")
        self.assertEqual(catalog(plain_reg).count("plain-app"), 0)

    def test_unreachable_registry(self):
        port = free_port()
        r = self.push(os.path.join(jars, "plain.jar"), "--no-deploy", "--base", "scratch",
                      "--to", "127.0.0.1:%d/shop/orders" % port, timeout=120)
        self.assertOneLineError(r, 7, "127.0.0.1:%d" % port)

    def test_no_base_image_for_a_registry_target(self):
        self.write_profile(registry=plain_reg.host)
        r = self.push(os.path.join(jars, "plain.jar"), "--no-deploy")
        self.assertOneLineError(r, 2, "no base image", "--base")

    def test_base_from_a_local_layout(self):
        app = "orders-" + uuid.uuid4().hex[:6]
        doc = self.push_json(os.path.join(jars, "plain.jar"), "--app", app, "--no-deploy",
                             "--base", "oci:%s:17" % base_layout)
        self.assertEqual(self.fates(doc)["base"], "copied")
        c = self.inspect("docker://%s/shop/%s@%s" % (plain_reg.host, app, doc["digest"]), "--config")
        self.assertIn("BASE=yes", c["config"]["Env"])


def has_repository(repo):
    """Whether a plain-HTTP registry has REPO (host:port/name) with any tag."""
    host, name = repo.split("/", 1)
    try:
        with urllib.request.urlopen("http://%s/v2/%s/tags/list" % (host, name), timeout=10) as resp:
            return bool(json.loads(resp.read()).get("tags"))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return False
        raise


def catalog(reg):
    import ssl
    ctx = ssl._create_unverified_context()
    req = urllib.request.Request("%s://%s/v2/_catalog" % ("https" if reg.tls else "http", reg.host))
    if reg.tls:
        req.add_header("Authorization", "Basic " + base64.b64encode(
            ("%s:%s" % (reg.user, reg.password)).encode()).decode())
    with urllib.request.urlopen(req, context=ctx if reg.tls else None, timeout=10) as resp:
        return [r.split("/")[-1] for r in json.loads(resp.read())["repositories"]]


class PushToTlsRegistry(PushCase):
    def setUp(self):
        super().setUp()
        self.base = "%s/base/java:17" % tls_reg.host
        self.write_profile(registry=tls_reg.host, bases={"17": self.base}, ca=tls_reg.cert)
        self.creds = "%s:%s" % (tls_reg.user, tls_reg.password)

    def test_credentials_from_the_environment(self):
        doc = self.push_json(os.path.join(jars, "boot.jar"), "--app", "tls-env", "--no-deploy",
                             env={"WB_REGISTRY_USER": tls_reg.user, "WB_REGISTRY_PASSWORD": tls_reg.password})
        self.assertEqual(self.fates(doc)["base"], "mounted")
        raw = self.inspect("docker://%s/shop/tls-env@%s" % (tls_reg.host, doc["digest"]), "--raw",
                           creds=self.creds)
        self.assertEqual(len(raw["layers"]), 6)

    def test_credentials_from_docker_config(self):
        auth = base64.b64encode(self.creds.encode()).decode()
        os.makedirs(os.path.join(self.home, ".docker"))
        with open(os.path.join(self.home, ".docker", "config.json"), "w") as f:
            json.dump({"auths": {tls_reg.host: {"auth": auth}}}, f)
        r = self.push(os.path.join(jars, "plain.jar"), "--app", "tls-docker", "--no-deploy")
        self.assertExit(r, 0)
        self.assertTrue(r.out.startswith("%s/shop/tls-docker@sha256:" % tls_reg.host), r)

    def test_to_with_a_profile_for_the_ca(self):
        self.write_profile(extra="registry:\n  ca: %s\n" % tls_reg.cert)
        r = self.push(os.path.join(jars, "plain.jar"), "--no-deploy", "--base", "scratch",
                      "--to", "%s/other/plain:v1" % tls_reg.host,
                      env={"WB_REGISTRY_USER": tls_reg.user, "WB_REGISTRY_PASSWORD": tls_reg.password})
        self.assertExit(r, 0)
        raw = self.inspect("docker://%s/other/plain:v1" % tls_reg.host, "--raw", creds=self.creds)
        self.assertEqual(len(raw["layers"]), 2)  # scratch has none

    def test_wrong_password(self):
        r = self.push(os.path.join(jars, "plain.jar"), "--no-deploy",
                      env={"WB_REGISTRY_USER": tls_reg.user, "WB_REGISTRY_PASSWORD": "not-the-Pa55word"})
        self.assertOneLineError(r, 4, tls_reg.host)
        self.assertNotIn("not-the-Pa55word", r.out + r.err)
        r = self.push(os.path.join(jars, "plain.jar"), "--no-deploy")  # anonymous
        self.assertOneLineError(r, 4)

    def test_unknown_ca(self):
        self.write_profile(registry=tls_reg.host, bases={"17": self.base})
        r = self.push(os.path.join(jars, "plain.jar"), "--no-deploy",
                      env={"WB_REGISTRY_USER": tls_reg.user, "WB_REGISTRY_PASSWORD": tls_reg.password})
        self.assertOneLineError(r, 1, "not signed by a trusted CA", "registry.ca")


class PushToLocalTargets(PushCase):
    def test_default_is_an_oci_layout_in_build(self):
        r = self.push(os.path.join(jars, "boot.jar"), profile=None)
        self.assertExit(r, 0)
        layout = os.path.join(self.workdir, "build", "wb-image")
        self.assertEqual(r.out.strip(), "oci:%s:0.0.1-SNAPSHOT" % layout)
        self.assertIn("no registry configured", r.err)
        self.assertIn("no base image configured", r.err)
        info = self.inspect("oci:%s:0.0.1-SNAPSHOT" % layout)
        self.assertEqual(len(info["Layers"]), 5)  # scratch + five application layers
        self.assertEqual(info["Os"], "linux")
        self.assertEqual(info["Architecture"], "amd64")
        # A second push skips every layer, and keeps one index entry per tag.
        doc = self.push_json(os.path.join(jars, "boot.jar"), profile=None)
        self.assertEqual(set(self.fates(doc).values()), {"skipped"})
        with open(os.path.join(layout, "index.json")) as f:
            self.assertEqual(len(json.load(f)["manifests"]), 1)

    def test_oci_dir_and_tar(self):
        out = os.path.join(self.home, "img")
        doc = self.push_json(os.path.join(jars, "plain.jar"), "--to", "oci:" + out, "--tag", "v1",
                             "--base", "oci:%s:17" % base_layout, profile=None)
        self.assertEqual(doc["reference"], "oci:%s:v1" % out)
        info = self.inspect("oci:%s:v1" % out)
        self.assertEqual(info["Digest"], doc["digest"])
        self.assertEqual(len(info["Layers"]), 3)
        tar = os.path.join(self.home, "out", "plain.tar")
        r = self.push(os.path.join(jars, "plain.jar"), "--to", "tar:" + tar, "--tag", "v1",
                      "--base", "oci:%s:17" % base_layout, "--dotenv-out", os.path.join(self.home, "d.env"),
                      profile=None)
        self.assertExit(r, 0)
        self.assertEqual(r.out.strip(), "oci-archive:%s:v1" % tar)
        info = self.inspect("oci-archive:" + tar)
        self.assertEqual(info["Digest"], doc["digest"])  # same inputs, same image
        self.assertEqual(os.listdir(os.path.dirname(tar)), ["plain.tar"])  # the temporary layout is gone
        with open(os.path.join(self.home, "d.env")) as f:
            self.assertIn("WB_IMAGE_DIGEST=%s\n" % doc["digest"], f.read())
        self.assertEqual(skopeo("copy", "oci-archive:" + tar, "oci:" + os.path.join(self.home, "copy") + ":x")
                         .count("Writing manifest"), 1)


PODMAN = os.environ.get("WB_TEST_PODMAN") == "1" and shutil.which("podman") and os.geteuid() == 0


@unittest.skipUnless(PODMAN or REAL_KUBECONFIG,
                     "runs the image with podman on a JRE base made by debootstrap: set WB_TEST_PODMAN=1 (root, "
                     "podman, runc and debootstrap installed; scripts/test.sh does this in CI), or on a real "
                     "cluster (WB_TEST_KUBECONFIG)")
class RunsForReal(PushCase):
    """The image wb builds on a real JRE base runs and the jar prints what it should: under podman
    (WB_TEST_PODMAN=1), else as a pod on the real cluster, pushed to the registry its node pulls from."""

    def setUp(self):
        super().setUp()
        if not PODMAN:
            return
        self.layout = jre_layout()
        conf = os.path.join(self.home, "podman")
        os.makedirs(conf)
        # As shared/TESTING.md found: host network, no default ulimits, runc, cgroupfs, vfs storage.
        with open(os.path.join(conf, "containers.conf"), "w") as f:
            f.write('[containers]\nnetns="host"\ndefault_ulimits=[]\n'
                    '[engine]\nruntime="runc"\ncgroup_manager="cgroupfs"\nevents_logger="file"\n')
        with open(os.path.join(conf, "storage.conf"), "w") as f:
            f.write('[storage]\ndriver="vfs"\ngraphroot="%s/graph"\nrunroot="%s/run"\n' % (conf, conf))
        with open(os.path.join(conf, "registries.conf"), "w") as f:
            f.write("unqualified-search-registries=[]\n")
        self.podman_env = dict(os.environ, HOME=self.home,
                               CONTAINERS_CONF=os.path.join(conf, "containers.conf"),
                               CONTAINERS_STORAGE_CONF=os.path.join(conf, "storage.conf"),
                               CONTAINERS_REGISTRIES_CONF=os.path.join(conf, "registries.conf"))
        self.addCleanup(shutil.rmtree, conf, True)

    def run_image(self, jar, tag, *flags):
        if not PODMAN:
            return self.run_on_cluster(jar, tag, *flags)
        out = os.path.join(self.home, tag + ".tar")
        r = self.push(os.path.join(jars, jar), "--to", "tar:" + out, "--tag", tag,
                      "--base", "oci:%s:17" % self.layout, *flags, profile=None, timeout=600)
        self.assertExit(r, 0)
        load = subprocess.run(["podman", "load", "-i", out], capture_output=True, text=True, timeout=600,
                              env=self.podman_env)
        self.assertEqual(load.returncode, 0, load.stderr)
        image = load.stdout.strip().split()[-1]
        run = subprocess.run(["podman", "run", "--rm", image], capture_output=True, text=True, timeout=600,
                             env=self.podman_env)
        self.assertEqual(run.returncode, 0, run.stderr)
        return run.stdout

    def run_on_cluster(self, jar, tag, *flags):
        """Pushes JAR on the real JRE base into WB_TEST_REGISTRY and runs it once as a pod; its log."""
        c = get_cluster()
        r = self.push(os.path.join(jars, jar), "--no-deploy", "--base", real_images()["jre"],
                      "--to", "%s/wb-test/runs-%s" % (REAL_REGISTRY, tag), "--tag", tag, *flags, profile=None,
                      timeout=600)
        self.assertExit(r, 0)
        image = r.out.strip()
        ns = c.namespace("runs")
        status, body = c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": tag, "namespace": ns},
                                "spec": {"restartPolicy": "Never",
                                         "containers": [{"name": tag, "image": image}]}})
        self.assertEqual(status, 201, body)
        path = "/api/v1/namespaces/%s/pods/%s" % (ns, tag)
        deadline = time.time() + 120
        while True:
            status, pod = c.request("GET", path)
            phase = pod["status"].get("phase")
            if phase in ("Succeeded", "Failed"):
                break
            self.assertLess(time.time(), deadline, "pod %s did not finish: %s" % (tag, pod["status"]))
            time.sleep(0.5)
        status, log = c.request("GET", path + "/log")
        self.assertEqual(phase, "Succeeded", log)
        return log

    def test_plain_jar_says_its_word(self):
        self.assertIn("plain says hi", self.run_image("plain.jar", "plain"))

    def test_spring_boot_shaped_jar_runs_exploded_with_its_dependencies(self):
        self.assertIn("boot app v1: greetings from dep-1.0 and foo-2.0-SNAPSHOT", self.run_image("boot.jar", "boot"))

    def test_uncompressed_layers_run(self):
        self.assertIn("boot app v1: greetings from dep-1.0 and foo-2.0-SNAPSHOT",
                      self.run_image("boot.jar", "boot-plain", "--compression", "none"))


# ---------------------------------------------------------------- deploying

cluster = None


def get_cluster():
    global cluster
    if cluster is None:
        cluster = FakeCluster()
        if not cluster.real:
            status, body = cluster.request("POST", "/fake/v1/settings",
                                           {"readinessDelay": 0.1, "crashDelay": 0.2, "backoffDelay": 0.3})
            assert status == 200, body
    return cluster


def stop_cluster():
    if cluster:
        cluster.stop()


unittest.addModuleCleanup(stop_cluster)


class PushAndDeploy(PushCase):
    """Push, then deploy. On the fake API server pods "run" any image and *crashloop* names crash;
    on a real cluster (WB_TEST_KUBECONFIG) the pushes go to WB_TEST_REGISTRY, which its node pulls
    from, on the real JRE base, and the jars are the test HTTP server (server.jar, server-v2.jar,
    which answer with their version) and crash.jar, a release that really exits 1 at once."""

    def setUp(self):
        super().setUp()
        c = get_cluster()
        self.cluster = c
        self.app = "orders"
        if c.real:
            images = real_images()
            self.registry, self.project = REAL_REGISTRY, "wb-test"
            self.base = images["jre"]
            self.app = "orders-" + uuid.uuid4().hex[:6]
            self.jar1, self.jar2, self.version = "server.jar", "server-v2.jar", ""
        else:
            self.registry, self.project = plain_reg.host, "shop"
            self.base = "%s/base/java:17" % plain_reg.host
            self.jar1, self.jar2, self.version = "boot.jar", "boot-v2.jar", " 0.0.1-SNAPSHOT"
        self.write_profile(registry=self.registry, project=self.project, bases={"17": self.base}, extra=LEAN_APPS)
        self.ns = c.namespace("shop", {"kubesphere.io/workspace": "shop"})
        self.kubeconfig = c.kubeconfig

    def repo(self, app=None):
        return "%s/%s/%s" % (self.registry, self.project, app or self.app)

    def run_wb(self, *args, **kw):
        env = dict(kw.pop("env", {}) or {}, WB_PROFILE="t")
        return self.wb("--kubeconfig", self.kubeconfig, "-w", self.ns, *args, env=env, **kw)

    def create_app(self):
        r = self.run_wb("app", "create", self.app)
        self.assertExit(r, 0)

    def deployment(self):
        status, body = self.cluster.request("GET", "/apis/apps/v1/namespaces/%s/deployments/%s" % (self.ns, self.app))
        self.assertEqual(status, 200, body)
        return body

    def image(self):
        return self.deployment()["spec"]["template"]["spec"]["containers"][0]["image"]

    def answers(self):
        """What the app's running pods answer on GET / (real cluster: by pod IP, as no Service routes)."""
        status, body = self.cluster.request("GET", "/api/v1/namespaces/%s/pods?labelSelector=app.kubernetes.io/name=%s"
                                            % (self.ns, self.app))
        self.assertEqual(status, 200, body)
        out = set()
        for p in body["items"]:
            if p["metadata"].get("deletionTimestamp") or not any(
                    c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])):
                continue
            with urllib.request.urlopen("http://%s:8080/" % p["status"]["podIP"], timeout=10) as resp:
                out.add(resp.read().decode().split(" version ")[-1].strip())
        return out

    def test_app_not_found_fails_before_uploading(self):
        app = "ghost-" + uuid.uuid4().hex[:6]
        r = self.run_wb("push", "jar", os.path.join(jars, "plain.jar"), "--app", app)
        self.assertOneLineError(r, 3, app, "wb app create")
        self.assertFalse(has_repository(self.repo(app)))
        self.assertNotIn(app, catalog(plain_reg))

    def test_stopped_app_gets_the_image_and_stays_stopped(self):
        self.create_app()
        r = self.run_wb("push", "jar", os.path.join(jars, self.jar1), "--app", self.app, "-o", "json",
                        env={"CI_COMMIT_SHA": "feedbeef" * 5, "CI_PIPELINE_URL": "https://ci.example/p/9"})
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertIn("is stopped; start it with `wb app start %s`" % self.app, r.err)
        d = self.deployment()
        self.assertEqual(d["spec"].get("replicas", 0), 0)
        self.assertEqual(self.image(), "%s@%s" % (self.repo(), doc["digest"]))
        a = d["metadata"]["annotations"]
        self.assertEqual(a["kubernetes.io/change-cause"],
                         "push %s%s (commit feedbeef, https://ci.example/p/9)" % (self.jar1, self.version))
        self.assertIn("wb.dev/changed-by", a)
        self.assertEqual(a["wb.dev/jar"], self.jar1)
        self.assertEqual(doc["deployed"]["state"], "Stopped")
        self.assertEqual(doc["deployed"]["app"], self.app)

    def test_no_deploy_leaves_the_app_alone(self):
        self.create_app()
        before = self.image()
        r = self.run_wb("push", "jar", os.path.join(jars, self.jar1), "--app", self.app, "--no-deploy")
        self.assertExit(r, 0)
        self.assertEqual(self.image(), before)

    def test_running_app_rolls_to_the_digest(self):
        self.create_app()
        self.assertExit(self.run_wb("push", "jar", os.path.join(jars, self.jar1), "--app", self.app), 0)
        self.assertExit(self.run_wb("app", "start", self.app, "--timeout", "180s"), 0)
        r = self.run_wb("push", "jar", os.path.join(jars, self.jar2), "--app", self.app, "-o", "json",
                        "--timeout", "180s")
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertEqual(self.image(), "%s@%s" % (self.repo(), doc["digest"]))
        self.assertTrue(doc["deployed"]["state"].startswith("Running"), doc)
        self.assertGreaterEqual(doc["deployed"]["revision"], 2)
        if self.cluster.real:
            self.assertEqual(self.answers(), {"2"})  # the pushed image really runs: server-v2 says so
        r = self.run_wb("app", "history", self.app, "-o", "json")
        self.assertExit(r, 0)
        self.assertIn("push %s%s" % (self.jar2, self.version), r.out)
        # text mode: one line on stdout, the image by digest
        r = self.run_wb("push", "jar", os.path.join(jars, self.jar1), "--app", self.app, "--timeout", "180s")
        self.assertExit(r, 0)
        self.assertEqual(r.out.strip(), self.image())
        if self.cluster.real:
            self.assertEqual(self.answers(), {"1"})

    def test_crash_looping_release_exits_6_in_words(self):
        self.create_app()
        self.assertExit(self.run_wb("push", "jar", os.path.join(jars, self.jar1), "--app", self.app), 0)
        self.assertExit(self.run_wb("app", "start", self.app, "--timeout", "180s"), 0)
        # The fake crash-loops an image named *crashloop*; on a real cluster crash.jar exits 1 at once
        # and the kubelet backs off restarting it (CrashLoopBackOff) within seconds.
        jar = "crash.jar" if self.cluster.real else self.jar2
        timeout = "12s" if self.cluster.real else "5s"
        r = self.run_wb("push", "jar", os.path.join(jars, jar), "--app", self.app, "--timeout", timeout,
                        "--to", self.repo("orders-crashloop"), timeout=120)
        self.assertExit(r, 6)
        err = [l for l in r.err.splitlines() if l.strip()]
        self.assertTrue(err[0].startswith("error:"), r)
        self.assertIn("keeps crashing", err[0])
        self.assertIn("orders-crashloop@sha256:", r.out)  # the image was pushed: its reference is printed
        if self.cluster.real:
            self.assertEqual(self.answers(), {"1"})  # the old version still serves


class PushOverCutConnections(PushCase):
    """Pushes through tests/servers/cutproxy.py --total: the connection is cut at offsets spread over
    the whole upload (inside PATCH and PUT bodies; once past it, GET and HEAD requests are dropped
    before their answer). A tag, if the registry has it, must name a complete image; pushing again
    without the cuts completes the image, which skopeo then pulls (checking every digest)."""

    METHODS = "PATCH,PUT,GET,HEAD"
    MANIFEST_ACCEPT = OCI_MANIFEST + ", application/vnd.docker.distribution.manifest.v2+json"

    def proxy(self, *args):
        p = subprocess.Popen([sys.executable, os.path.join(SOURCE_DIR, "tests", "servers", "cutproxy.py"),
                              "--target", plain_reg.host, "--total", "--methods", self.METHODS, *args],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        self.addCleanup(self.stop_proxy, p)
        ready = p.stdout.readline().split()
        self.assertEqual(ready[:1], ["READY"], p.stderr.read() if not ready else ready)
        return "127.0.0.1:" + ready[1], p

    @staticmethod
    def stop_proxy(p):
        """Stops the proxy; returns the cuts it logged."""
        if p.poll() is None:
            p.stdin.close()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p.stderr.closed:
            return []
        cuts = [l for l in p.stderr.read().splitlines() if l.startswith("CUT ")]
        p.stdout.close()
        p.stderr.close()
        return cuts

    def push_to(self, registry, app):
        self.write_profile(registry=registry, bases={"17": "%s/base/java:17" % plain_reg.host})
        return self.push(os.path.join(jars, "boot.jar"), "--app", app, "--no-deploy", "-o", "json", timeout=180)

    def complete_image(self, repo, tag):
        """None when the registry has no such tag; else the manifest's digest, after checking that
        every blob it names is there with its size."""
        base = "http://%s/v2/%s" % (plain_reg.host, repo)
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    "%s/manifests/%s" % (base, tag), headers={"Accept": self.MANIFEST_ACCEPT}), timeout=30) as r:
                body = r.read()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise
        m = json.loads(body)
        for d in [m["config"]] + m["layers"]:
            try:
                with urllib.request.urlopen(urllib.request.Request(
                        "%s/blobs/%s" % (base, d["digest"]), method="HEAD"), timeout=30) as r:
                    self.assertEqual(int(r.headers["Content-Length"]), d["size"], d)
            except urllib.error.HTTPError as e:
                self.fail("%s:%s names blob %s, which the registry answers %d" % (repo, tag, d["digest"], e.code))
        return sha256(body)

    def test_a_push_cut_anywhere_never_tags_a_partial_image_and_a_rerun_completes_it(self):
        tag = "0.0.1-SNAPSHOT"  # boot.jar's Implementation-Version
        host, _ = self.proxy("--cut-after", str(1 << 40))
        whole = self.push_to(host, "whole-" + uuid.uuid4().hex[:6])
        self.assertExit(whole, 0)
        total = sum(l["size"] for l in json.loads(whole.out)["layers"])
        for i, fraction in enumerate((0.02, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 0.995)):
            offset = int(total * fraction)
            # Even rounds: three cuts, which wb may ride out by resuming; odd rounds: every request
            # past the offset is cut, so the push must fail.
            cuts = "3" if i % 2 == 0 else "-1"
            app = "cut%d-%s" % (i, uuid.uuid4().hex[:6])
            repo = "shop/" + app
            host, proxy = self.proxy("--cut-after", str(offset), "--cuts", cuts)
            r = self.push_to(host, app)
            made = self.stop_proxy(proxy)
            what = "cut at byte %d of %d, %s cuts %s: %s" % (offset, total, cuts, made, r.err)
            self.assertTrue(made, what)
            state = self.complete_image(repo, tag)
            if r.code == 0:
                self.assertEqual(state, json.loads(r.out)["digest"], what)
            else:
                self.assertEqual(len([l for l in r.err.splitlines() if l.startswith("error:")]), 1, what)
            if cuts == "-1":
                self.assertNotEqual(r.code, 0, what)
                self.assertIsNone(state, what)
            again = self.push_to(plain_reg.host, app)
            self.assertExit(again, 0)
            digest = json.loads(again.out)["digest"]
            self.assertEqual(self.complete_image(repo, tag), digest, what)
            pulled = os.path.join(self.workdir, "pulled-%d" % i)
            skopeo("copy", "--src-tls-verify=false", "docker://%s/%s:%s" % (plain_reg.host, repo, tag),
                   "oci:%s:%s" % (pulled, tag))


if __name__ == "__main__":
    unittest.main()
