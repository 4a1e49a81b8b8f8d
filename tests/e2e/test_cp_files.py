"""wb cp-files and wb files ls against the fake API server, whose exec runs real tar/cat/ls in the
pod's directory: a directory round trip keeps contents, modes and mtimes; single files; upload;
a corpus of hostile archives (served through the fake's exec-override) is refused entry by entry
with nothing landing outside the target; a container without tar gets a clear message and single
files still come with cat; kubectl cp against the same fake gives the same files.

On a real cluster (WB_TEST_KUBECONFIG) the same tests run in real containers of one namespace: the
test server (a debootstrapped Debian with GNU tar, coreutils) and busybox, both as root without
capabilities (wb's security context drops them all). Files are put in and checked through
`kubectl exec`; a hostile archive is written into the container and its `tar` is shadowed by a
script in /usr/local/bin that sends it; "no tar" is the Debian container with its tar moved away.
What only the fake can do is skipped there: cutting exec streams (resumed and restarted copies)
and an API server older than 1.30 (exec v4.channel.k8s.io only).

WB_TEST_BIG=1 also runs a 1 GiB round trip (same sha256, peak memory of wb reported and bounded);
it is off by default because CI machines are small.
"""
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import (SOURCE_DIR, WB_BIN, ConnectProxy, FakeCluster, WbTestCase, file_sha256,  # noqa: E402
                    kubeconfig_through_proxy, real_images)

IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64
KUBECTL = shutil.which("kubectl")
cluster = None


def setUpModule():
    global cluster
    cluster = FakeCluster()
    if cluster.real:
        return
    status, body = cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
    assert status == 200, body


def tearDownModule():
    if cluster:
        cluster.stop()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tar_bytes(members):
    """members: list of (TarInfo, data or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def entry(name, type=tarfile.REGTYPE, data=b"", linkname="", mode=0o644):
    info = tarfile.TarInfo(name)
    info.type = type
    info.mode = mode
    info.mtime = 1700000000
    info.linkname = linkname
    if type == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


def wb_as_admin(home, ns, *args):
    """Runs wb as the admin in NS with HOME (class fixtures have no test's HOME); asserts success."""
    p = subprocess.run([WB_BIN, "--kubeconfig", cluster.kubeconfig, "-w", ns] + list(args), capture_output=True,
                       text=True, timeout=300, cwd=home, env={"HOME": home, "PATH": os.environ.get("PATH", "")})
    assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p


class RealApps:
    """Real mode: one namespace whose apps run real containers for the whole module (a JVM takes
    seconds to start): orders (the test server on Debian: GNU tar, coreutils) and box (busybox).
    `reset()` puts a container back as it started, so each test begins from the same state."""

    def __init__(self):
        self.home = tempfile.mkdtemp(prefix="wb-cp-real-")
        self.ns = cluster.namespace("cp")
        images = real_images()
        for app, image in (("orders", images["server"]), ("box", images["busybox"])):
            wb_as_admin(self.home, self.ns, "app", "create", app, "--replicas", "1")
            status, body = cluster.set_app_image(self.ns, app, image)
            assert status == 200, body
            wb_as_admin(self.home, self.ns, "app", "start", app, "--no-wait")
        self.pods, self.keep = {}, {}
        for app in ("orders", "box"):
            self.pods[app] = cluster.wait_ready(self.ns, "app.kubernetes.io/name=" + app)[0]
            # What /app and /tmp hold once it runs (app.jar, the JVM's hsperfdata): kept by reset().
            p = cluster.sh(self.ns, self.pods[app], "for d in /app /tmp; do [ -d $d ] && ls -A $d | sed s@^@$d/@; done; "
                           ":", container=app)
            assert p.returncode == 0, p.stderr
            self.keep[app] = "|" + "|".join(p.stdout.decode().split("\n")) + "|"

    def reset(self, app):
        """Removes what tests put into /app and /tmp, and undoes a shadowed or moved-away tar."""
        script = ('rm -f /usr/local/bin/tar; [ -e /usr/bin/tar.wb-off ] && mv /usr/bin/tar.wb-off /usr/bin/tar; '
                  'mkdir -p /app/logs; for d in /app /tmp; do ls -A $d | while IFS= read -r f; do '
                  'case "$1" in *"|$d/$f|"*) ;; *) rm -rf -- "$d/$f" ;; esac; done; done; mkdir -p /app/logs')
        p = cluster.sh(self.ns, self.pods[app], script, self.keep[app], container=app)
        assert p.returncode == 0, p.stderr

    def stop(self):
        shutil.rmtree(self.home, ignore_errors=True)


class CpFiles(WbTestCase):
    real_apps = None

    @classmethod
    def setUpClass(cls):
        if cluster.real:
            cls.real_apps = RealApps()

    @classmethod
    def tearDownClass(cls):
        if cls.real_apps:
            cls.real_apps.stop()

    def setUp(self):
        super().setUp()
        self.local = os.path.join(self.home, "local")
        os.makedirs(self.local)
        self.kubeconfig = cluster.kubeconfig
        self.app = "orders"
        if cluster.real:
            self.ns = self.real_apps.ns
            self.pod = self.real_apps.pods[self.app]
            self.real_apps.reset(self.app)
            return
        self.ns = "cp-" + uuid.uuid4().hex[:8]
        status, body = cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}})
        self.assertIn(status, (200, 201), body)
        self.assertExit(self.run_wb("app", "create", self.app, "--replicas", "1"), 0)
        status, body = cluster.set_app_image(self.ns, self.app, IMAGE)
        self.assertEqual(status, 200, body)
        self.assertExit(self.run_wb("app", "start", self.app), 0)
        status, body = cluster.request("GET", "/api/v1/namespaces/%s/pods?labelSelector=app.kubernetes.io/name=%s"
                                       % (self.ns, self.app))
        self.pod = body["items"][0]["metadata"]["name"]
        status, body = cluster.request("GET", "/fake/v1/namespaces/%s/pods/%s/root" % (self.ns, self.pod))
        self.assertEqual(status, 200, body)
        self.root = body["path"]

    def run_wb(self, *args, **kw):
        return self.wb("--kubeconfig", self.kubeconfig, "-w", self.ns, *args, **kw)

    def in_pod(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    # ------------------------------------------------------------ the container's files, both modes
    # The fake: the pod's directory on this machine. A real cluster: kubectl exec into the container.
    def pod_sh(self, script, *args, input=b""):
        p = cluster.sh(self.ns, self.pod, script, *args, input=input, container=self.app)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p.stdout

    def pod_write(self, path, data, mode=None, mtime=None):
        if not cluster.real:
            p = self.in_pod(path)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            if mode is not None:
                os.chmod(p, mode)
            if mtime is not None:
                os.utime(p, (mtime, mtime))
            return
        script = 'mkdir -p "${1%/*}" && cat > "$1"'
        if mode is not None:
            script += ' && chmod %o "$1"' % mode
        if mtime is not None:
            script += ' && touch -d @%d "$1"' % mtime
        self.pod_sh(script + "; exit $?", path, input=data)  # see cluster.sh()

    def pod_read(self, path):
        if not cluster.real:
            return read(self.in_pod(path))
        return self.pod_sh('cat -- "$1"', path)

    def pod_stat(self, path):
        """(permission bits, mtime in whole seconds) of PATH in the container."""
        if not cluster.real:
            st = os.stat(self.in_pod(path))
            return stat.S_IMODE(st.st_mode), int(st.st_mtime)
        mode, mtime = self.pod_sh('stat -c "%a %Y" -- "$1"', path).split()
        return int(mode, 8), int(mtime)

    def pod_exists(self, path):
        if not cluster.real:
            return os.path.lexists(self.in_pod(path))
        return self.pod_sh('[ -e "$1" ] || [ -L "$1" ] && echo yes || :', path).strip() == b"yes"

    def pod_listdir(self, path):
        if not cluster.real:
            return os.listdir(self.in_pod(path))
        return self.pod_sh('ls -A -- "$1"', path).decode().split("\n")[:-1]

    def pod_tree(self, base):
        """make_tree at BASE in the container; returns its spec. A real container gets it as a tar from
        Python's tarfile (owner root), then its directories' mtimes by touch (busybox tar sets none)."""
        if not cluster.real:
            return self.make_tree(self.in_pod(base))
        staging = tempfile.mkdtemp(dir=self.home)
        name = os.path.basename(base)
        spec = self.make_tree(os.path.join(staging, name))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
            def root(info):
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                return info
            tf.add(os.path.join(staging, name), arcname=name, filter=root)
        shutil.rmtree(staging)
        self.pod_sh('mkdir -p "$1" && tar xof - -C "$1" && touch -d @1600000500 "$2/sub/deeper" && '
                    'touch -d @1600000600 "$2/sub"', os.path.dirname(base), base, input=buf.getvalue())
        return spec

    def pod_copy(self, path):
        """A local path holding PATH of the container as it is there: the fake's pod directory itself,
        or a real container's tar of it unpacked into a temp directory (modes, mtimes, symlinks kept)."""
        if not cluster.real:
            return self.in_pod(path)
        data = self.pod_sh('tar cf - -C "${1%/*}/" "${1##*/}"', path)
        into = tempfile.mkdtemp(dir=self.home)
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            if hasattr(tarfile, "fully_trusted_filter"):
                tf.extractall(into, filter="fully_trusted")
            else:
                tf.extractall(into)
        return os.path.join(into, os.path.basename(path))

    def serve_as_tar(self, payload):
        """The container's next `tar c...` writes PAYLOAD instead of an archive: the fake's exec-override,
        or in a real container a script that shadows tar in /usr/local/bin (ahead of /usr/bin in the
        image's PATH), sends a file written there beforehand and removes itself."""
        if not cluster.real:
            status, body = cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/exec-override"
                                           % (self.ns, self.pod), payload, content_type="application/octet-stream")
            self.assertEqual(status, 200, body)
            return
        self.pod_write("/tmp/wb-hostile.tar", payload)
        self.pod_write("/usr/local/bin/tar", b'#!/bin/sh\ncase "$1" in c*) rm -f "$0"; exec cat /tmp/wb-hostile.tar ;; '
                       b'esac\nexec /usr/bin/tar "$@"\n', mode=0o755)

    def without_tar(self):
        """The container has no tar: the fake's notar behaviour, or the real one's moved away."""
        if not cluster.real:
            status, body = cluster.request(
                "PATCH", "/api/v1/namespaces/%s/pods/%s" % (self.ns, self.pod),
                {"metadata": {"annotations": {"fake.wb.dev/behaviour": "notar"}}},
                content_type="application/merge-patch+json")
            self.assertEqual(status, 200, body)
            return
        self.pod_sh("mv /usr/bin/tar /usr/bin/tar.wb-off && ! command -v tar")

    def use_busybox(self):
        """The rest of the test runs in a busybox container: the fake's busybox behaviour (the host's
        busybox-static runs every command), or the real module's box app."""
        if not cluster.real:
            status, body = cluster.request(
                "PATCH", "/api/v1/namespaces/%s/pods/%s" % (self.ns, self.pod),
                {"metadata": {"annotations": {"fake.wb.dev/behaviour": "busybox"}}},
                content_type="application/merge-patch+json")
            self.assertEqual(status, 200, body)
            return
        self.app = "box"
        self.pod = self.real_apps.pods[self.app]
        self.real_apps.reset(self.app)

    def make_tree(self, base):
        """A small tree with modes and mtimes; returns {relpath: (mode, mtime, data|linktarget)}."""
        spec = {
            "a.txt": (0o644, 1600000000, b"alpha\n"),
            "run.sh": (0o755, 1600000100, b"#!/bin/sh\necho hi\n"),
            "secret.key": (0o600, 1600000200, b"k" * 5000),
            "sub/deeper/b.bin": (0o640, 1600000300, os.urandom(200000)),
            "name with spaces.txt": (0o644, 1600000400, b"spaces\n"),
        }
        for rel, (mode, mtime, data) in spec.items():
            p = os.path.join(base, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, mode)
            os.utime(p, (mtime, mtime))
        os.symlink("a.txt", os.path.join(base, "link-to-a"))
        os.chmod(os.path.join(base, "sub"), 0o750)
        os.utime(os.path.join(base, "sub/deeper"), (1600000500, 1600000500))
        os.utime(os.path.join(base, "sub"), (1600000600, 1600000600))
        return spec

    def assertSameTree(self, spec, base):
        for rel, (mode, mtime, data) in spec.items():
            p = os.path.join(base, rel)
            st = os.lstat(p)
            self.assertEqual(stat.S_IMODE(st.st_mode), mode, rel)
            self.assertEqual(int(st.st_mtime), mtime, rel)
            with open(p, "rb") as f:
                self.assertEqual(f.read(), data, rel)
        self.assertEqual(os.readlink(os.path.join(base, "link-to-a")), "a.txt")
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(base, "sub")).st_mode), 0o750)
        self.assertEqual(int(os.stat(os.path.join(base, "sub")).st_mtime), 1600000600)
        self.assertEqual(int(os.stat(os.path.join(base, "sub/deeper")).st_mtime), 1600000500)

    # ------------------------------------------------------------ round trips
    def test_directory_round_trip_keeps_modes_and_mtimes(self):
        spec = self.pod_tree("/app/data")
        r = self.run_wb("cp-files", self.app + ":/app/data", self.local)
        self.assertOneLineError(r, 2, "'/app/data' is a directory; add -r to copy it")
        # Into an existing directory: local/data
        r = self.run_wb("cp-files", "-r", self.app + ":/app/data", self.local)
        self.assertExit(r, 0)
        self.assertEqual(r.out, "")
        self.assertSameTree(spec, os.path.join(self.local, "data"))
        # As a new name
        r = self.run_wb("cp-files", "-r", self.app + ":/app/data/", os.path.join(self.local, "copy"), "-o", "json")
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertEqual((doc["method"], doc["files"], doc["links"]), ("tar", 5, 1))
        self.assertSameTree(spec, os.path.join(self.local, "copy"))
        # Upload it back under another name, then compare in the pod.
        r = self.run_wb("cp-files", "-r", os.path.join(self.local, "copy"), self.app + ":/app/uploaded")
        self.assertExit(r, 0)
        self.assertSameTree(spec, self.pod_copy("/app/uploaded"))
        # Upload into an existing directory.
        r = self.run_wb("cp-files", "-r", os.path.join(self.local, "copy"), self.app + ":/tmp")
        self.assertExit(r, 0)
        self.assertSameTree(spec, self.pod_copy("/tmp/copy"))

    def test_single_file_both_ways_and_listing(self):
        self.pod_write("/app/logs/app.log", b"line\n" * 1000, 0o640, 1650000000)
        r = self.run_wb("cp-files", self.app + ":/app/logs/app.log", self.local)
        self.assertExit(r, 0)
        got = os.path.join(self.local, "app.log")
        self.assertEqual(read(got), b"line\n" * 1000)
        self.assertEqual(stat.S_IMODE(os.stat(got).st_mode), 0o640)
        self.assertEqual(int(os.stat(got).st_mtime), 1650000000)
        r = self.run_wb("cp-files", self.app + ":/app/logs/app.log", os.path.join(self.local, "renamed.log"))
        self.assertExit(r, 0)
        # On a terminal: a progress line (bytes of the known size, rate; cleared) and a summary.
        r = self.run_wb("cp-files", self.app + ":/app/logs/app.log", os.path.join(self.local, "tty.log"), tty=True)
        self.assertExit(r, 0)
        self.assertRegex(r.out, r"\r\x1b\[2K[\d.]+ (B|KiB) of 4\.9 KiB \(\d+%\)  [\d.]+ (B|KiB|MiB|GiB)/s")
        self.assertIn("Copied 1 file (4.9 KiB) from replica %s" % self.app, r.out)
        self.assertTrue(os.path.exists(os.path.join(self.local, "renamed.log")))
        # Upload a single file as a new name.
        up = os.path.join(self.local, "conf.yaml")
        with open(up, "w") as f:
            f.write("a: 1\n")
        os.chmod(up, 0o600)
        r = self.run_wb("cp-files", up, self.app + ":/app/application.yaml")
        self.assertExit(r, 0)
        self.assertEqual(self.pod_read("/app/application.yaml"), b"a: 1\n")
        self.assertEqual(self.pod_stat("/app/application.yaml")[0], 0o600)
        # Listing
        r = self.run_wb("files", "ls", self.app + ":/app", "-o", "json")
        self.assertExit(r, 0)
        docs = {d["name"]: d for d in json.loads(r.out)}
        self.assertEqual(docs["logs"]["type"], "directory")
        self.assertEqual(docs["application.yaml"]["mode"], "0600")
        self.assertEqual(docs["application.yaml"]["size"], 5)
        r = self.run_wb("files", "ls", self.app + ":/app/logs")
        self.assertExit(r, 0)
        self.assertEqual(r.out.strip().split("\t"), ["app.log", "5000", "-rw-r-----", "2022-04-15T05:20:00Z"])
        # Errors
        r = self.run_wb("cp-files", self.app + ":/app/nope.txt", self.local)
        self.assertOneLineError(r, 3, "'/app/nope.txt' does not exist in replica %s" % self.app)
        r = self.run_wb("files", "ls", self.app + ":/nowhere")
        self.assertOneLineError(r, 3, "'/nowhere' does not exist")
        r = self.run_wb("cp-files", self.local, self.local)
        self.assertOneLineError(r, 2, "one side must be in a container")

    # ------------------------------------------------------------ hostile archives
    def hostile(self, members, bad_name, why):
        """Serves `members` as the container's tar of /app/logs and checks the refusal."""
        target = os.path.join(self.home, "t-" + uuid.uuid4().hex[:6])
        os.makedirs(target)
        outside_before = set(os.listdir(self.home))
        payload = tar_bytes([entry("logs", tarfile.DIRTYPE, mode=0o755), entry("logs/ok.txt", data=b"fine\n")]
                            + members + [entry("logs/after.txt", data=b"never\n")])
        self.serve_as_tar(payload)
        r = self.run_wb("cp-files", "-r", self.app + ":/app/logs", target)
        self.assertExit(r, 1)
        lines = [l for l in r.err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.err)
        self.assertIn("refused '%s' from replica" % bad_name, lines[0])
        self.assertIn(why, lines[0])
        self.assertIn("nothing after it was written", lines[0])
        self.assertTrue(os.path.exists(os.path.join(target, "logs", "ok.txt")))
        self.assertFalse(os.path.exists(os.path.join(target, "logs", "after.txt")))
        self.assertEqual(set(os.listdir(self.home)), outside_before)  # nothing new next to the target
        return target, lines[0]

    def test_hostile_archives_are_refused_by_name(self):
        sentinel = os.path.join(self.home, "pwned")
        cases = [
            ([entry(sentinel, data=b"x")], sentinel, "would be written outside"),
            ([entry("logs/../../pwned", data=b"x")], "logs/../../pwned", "would be written outside"),
            ([entry("logs/esc", tarfile.SYMTYPE, linkname="../../"), entry("logs/esc/pwned", data=b"x")],
             "logs/esc", "a symlink to '../../' would lead outside"),
            ([entry("logs/abs", tarfile.SYMTYPE, linkname=self.home), entry("logs/abs/pwned", data=b"x")],
             "logs/abs", "would lead outside"),
            ([entry("logs/hl", tarfile.LNKTYPE, linkname="../../etc/passwd")], "logs/hl",
             "a hard link to '../../etc/passwd' would lead outside"),
            ([entry("logs/hl2", tarfile.LNKTYPE, linkname="/etc/passwd")], "logs/hl2", "would lead outside"),
            ([entry("logs/null", tarfile.CHRTYPE)], "logs/null", "device node"),
            ([entry("logs/disk", tarfile.BLKTYPE)], "logs/disk", "device node"),
            ([entry("logs/pipe", tarfile.FIFOTYPE)], "logs/pipe", "FIFO"),
            ([entry("logs/" + "n" * 300, data=b"x")], "logs/" + "n" * 115 + "...", "longer than the 255 bytes"),
            ([entry("other/file", data=b"x")], "other/file", "not part of 'logs'"),
        ]
        for members, bad, why in cases:
            with self.subTest(bad=bad[:40]):
                self.hostile(members, bad, why)
                self.assertFalse(os.path.exists(sentinel))
        self.assertFalse(os.path.exists("/etc/pwned"))

    def test_symlink_first_then_file_through_it(self):
        # A symlink that stays inside is fine, but nothing is ever written through a symlink;
        # and a symlink already in the target is not followed either.
        outside = os.path.join(self.home, "outside")
        os.makedirs(outside)
        target, line = self.hostile([entry("logs/inner", tarfile.SYMTYPE, linkname="."),
                                     entry("logs/inner/x.txt", data=b"x")],
                                    "logs/inner/x.txt", "through the symlink 'logs/inner'")
        target2 = os.path.join(self.home, "t2")
        os.makedirs(os.path.join(target2, "logs"))
        os.symlink(outside, os.path.join(target2, "logs", "planted"))
        payload = tar_bytes([entry("logs", tarfile.DIRTYPE, mode=0o755),
                             entry("logs/planted/evil.txt", data=b"x")])
        self.serve_as_tar(payload)
        r = self.run_wb("cp-files", "-r", self.app + ":/app/logs", target2)
        self.assertOneLineError(r, 1, "refused 'logs/planted/evil.txt'", "through the symlink 'logs/planted'")
        self.assertEqual(os.listdir(outside), [])

    def test_huge_declared_size_with_truncated_data(self):
        info = tarfile.TarInfo("logs/huge.bin")
        info.size = 10 * 1024 ** 3
        info.mtime = 1700000000
        header = info.tobuf(format=tarfile.PAX_FORMAT)
        # The members without the end-of-archive blocks, then a header promising 10 GiB and 100 kB of data.
        buf = io.BytesIO()
        tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
        for i, d in [entry("logs", tarfile.DIRTYPE, mode=0o755), entry("logs/ok.txt", data=b"fine\n")]:
            tf.addfile(i, io.BytesIO(d) if d is not None else None)
        payload = buf.getvalue() + header + b"z" * 100000
        target = os.path.join(self.home, "huge")
        os.makedirs(target)
        self.serve_as_tar(payload)
        r = self.run_wb("cp-files", "-r", self.app + ":/app/logs", target)
        self.assertOneLineError(r, 1, "broke off in 'logs/huge.bin'", "declared 10737418240 bytes")
        self.assertTrue(os.path.exists(os.path.join(target, "logs", "ok.txt")))
        self.assertFalse(os.path.exists(os.path.join(target, "logs", "huge.bin")))

    # ------------------------------------------------------------ no tar
    def test_container_without_tar(self):
        self.without_tar()
        self.pod_write("/app/logs/app.log", b"via cat\n", 0o604, 1650000000)
        r = self.run_wb("cp-files", self.app + ":/app/logs/app.log", self.local, "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["method"], "cat")
        got = os.path.join(self.local, "app.log")
        self.assertEqual(read(got), b"via cat\n")
        self.assertEqual(stat.S_IMODE(os.stat(got).st_mode), 0o604)
        self.assertEqual(int(os.stat(got).st_mtime), 1650000000)
        r = self.run_wb("cp-files", "-r", self.app + ":/app/logs", self.local)
        self.assertOneLineError(r, 1, "has no `tar`, which copying a directory needs")
        # Upload: a single file goes with dd (v5 closes its stdin), into place whole, mode and mtime kept.
        up = os.path.join(self.local, "up.bin")
        data = os.urandom(300000)
        with open(up, "wb") as f:
            f.write(data)
        os.chmod(up, 0o640)
        os.utime(up, (1660000000, 1660000000))
        r = self.run_wb("cp-files", up, self.app + ":/app/x.bin", "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual((json.loads(r.out)["method"], json.loads(r.out)["bytes"]), ("dd", 300000))
        self.assertEqual(self.pod_read("/app/x.bin"), data)
        self.assertEqual(self.pod_stat("/app/x.bin"), (0o640, 1660000000))
        self.assertEqual([n for n in self.pod_listdir("/app") if "wb-part" in n], [])
        # Into an existing directory, keeping the name.
        r = self.run_wb("cp-files", up, self.app + ":/tmp")
        self.assertExit(r, 0)
        self.assertEqual(self.pod_read("/tmp/up.bin"), data)
        r = self.run_wb("cp-files", "-r", self.local, self.app + ":/app/x.log")
        self.assertOneLineError(r, 1, "has no `tar`, which copying a directory into it needs")

    def test_container_without_tar_before_1_30(self):
        """An API server before 1.30 offers exec v4.channel.k8s.io at most. Over SPDY the end of stdin
        is a stream's FIN, so dd ends and the file lands; over a v4 WebSocket (a proxy without SPDY)
        stdin cannot be closed, dd would never end: a clear error."""
        cluster.skip_unless_fake(self, "an API server before 1.30, which offers exec v4.channel.k8s.io at most")
        self.without_tar()
        up = os.path.join(self.local, "up.bin")
        data = os.urandom(300000)
        with open(up, "wb") as f:
            f.write(data)
        cluster.request("POST", "/fake/v1/settings", {"execV5": 0})
        try:
            r = self.run_wb("cp-files", up, self.app + ":/app/x.bin")
            self.assertExit(r, 0)
            self.assertEqual(read(self.in_pod("/app/x.bin")), data)
            cluster.request("POST", "/fake/v1/settings", {"execSpdy": 0})
            r = self.run_wb("cp-files", up, self.app + ":/app/y.bin")
            self.assertOneLineError(r, 1, "has no `tar`", "v4.channel.k8s.io", "cannot do")
            self.assertFalse(os.path.exists(self.in_pod("/app/y.bin")))
        finally:
            cluster.request("POST", "/fake/v1/settings", {"execV5": 1, "execSpdy": 1})

    # ------------------------------------------------------------ uploads over what is there
    def check_upload_over_existing(self):
        """A directory uploaded onto one that exists merges into it as tar would (files replaced,
        others kept); a file replaces a file and a symlink (not what it points to); no staging
        folder is left."""
        self.pod_write("/app/data/old.txt", b"old\n")
        self.pod_write("/app/data/keep.txt", b"kept\n")
        self.pod_write("/app/data/sub/deep.txt", b"deep\n")
        self.pod_write("/app/target.txt", b"pointed at\n")
        self.pod_sh('ln -s target.txt /app/link.txt')
        base = os.path.join(self.local, "data")
        os.makedirs(os.path.join(base, "sub"))
        for rel, data in (("old.txt", b"new\n"), ("new.txt", b"fresh\n"), ("sub/more.txt", b"more\n")):
            with open(os.path.join(base, rel), "wb") as f:
                f.write(data)
        os.chmod(os.path.join(base, "old.txt"), 0o600)
        os.utime(os.path.join(base, "old.txt"), (1610000000, 1610000000))
        r = self.run_wb("-o", "json", "cp-files", "-r", base, self.app + ":/app/")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["to"], "/app/data")
        for path, data in (("old.txt", b"new\n"), ("keep.txt", b"kept\n"), ("new.txt", b"fresh\n"),
                           ("sub/deep.txt", b"deep\n"), ("sub/more.txt", b"more\n")):
            self.assertEqual(self.pod_read("/app/data/" + path), data, path)
        self.assertEqual(self.pod_stat("/app/data/old.txt"), (0o600, 1610000000))
        one = os.path.join(self.local, "one.txt")
        with open(one, "wb") as f:
            f.write(b"one\n")
        r = self.run_wb("-o", "json", "cp-files", one, self.app + ":/app/data/keep.txt")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["to"], "/app/data/keep.txt")
        self.assertEqual(self.pod_read("/app/data/keep.txt"), b"one\n")
        r = self.run_wb("cp-files", one, self.app + ":/app/link.txt")
        self.assertExit(r, 0)
        self.assertEqual(self.pod_read("/app/link.txt"), b"one\n")
        self.assertEqual(self.pod_read("/app/target.txt"), b"pointed at\n")
        for d in ("/app", "/app/data", "/app/data/sub"):
            self.assertEqual([n for n in self.pod_listdir(d) if "wb-upload" in n], [], d)

    def test_upload_over_existing_files(self):
        self.check_upload_over_existing()

    def check_refused_replacements(self):
        """A directory onto a file is refused before anything is sent (exit 2); a file onto a
        directory of its name fails after the stream (exit 1). Either way what was there stays and
        no staging folder is left."""
        self.pod_write("/app/plain.txt", b"plain\n")
        self.pod_write("/app/box/one.txt/inner.txt", b"inner\n")
        tree = os.path.join(self.local, "tree")
        os.makedirs(tree)
        with open(os.path.join(tree, "a.txt"), "wb") as f:
            f.write(b"a\n")
        r = self.run_wb("cp-files", "-r", tree, self.app + ":/app/plain.txt")
        self.assertExit(r, 2)
        self.assertIn("'/app/plain.txt' is a file in replica", r.err)
        self.assertIn("a directory cannot replace it", r.err)
        self.assertEqual(self.pod_read("/app/plain.txt"), b"plain\n")
        one = os.path.join(self.local, "one.txt")
        with open(one, "wb") as f:
            f.write(b"one\n")
        r = self.run_wb("cp-files", one, self.app + ":/app/box")
        self.assertExit(r, 1)
        self.assertIn("cannot overwrite directory '/app/box/one.txt' with a file", r.err)
        self.assertEqual(self.pod_read("/app/box/one.txt/inner.txt"), b"inner\n")
        for d in ("/app", "/app/box"):
            self.assertEqual([n for n in self.pod_listdir(d) if "wb-upload" in n], [], d)
        if cluster.real:
            return  # the root of the module's shared container is left alone
        # Into the root: the staging folder is made there and removed.
        r = self.run_wb("-o", "json", "cp-files", one, self.app + ":/")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["to"], "/one.txt")
        self.assertEqual(self.pod_read("/one.txt"), b"one\n")
        self.assertEqual([n for n in self.pod_listdir("/") if "wb-upload" in n], [])

    def test_refused_replacements(self):
        self.check_refused_replacements()

    def test_busybox_refused_replacements(self):
        if not cluster.real and not os.path.exists("/usr/bin/busybox"):
            self.skipTest("busybox-static is not installed")
        self.use_busybox()
        self.check_refused_replacements()

    def test_busybox_upload_over_existing_files(self):
        if not cluster.real and not os.path.exists("/usr/bin/busybox"):
            self.skipTest("busybox-static is not installed")
        self.use_busybox()
        self.check_upload_over_existing()

    def test_upload_is_one_exec_and_works_without_a_shell(self):
        """An upload is one exec that looks at the destination, unpacks and puts the result in place
        (each exec costs the node a container runtime start); in an image without sh the same files
        arrive through a look at the destination and separate mkdir, tar and mv."""
        cluster.skip_unless_fake(self, "counting the execs, and an image without sh")
        spec = self.make_tree(os.path.join(self.local, "tree"))
        cluster.request("DELETE", "/fake/v1/requests")
        r = self.run_wb("cp-files", "-r", os.path.join(self.local, "tree"), self.app + ":/app/one")
        self.assertExit(r, 0)
        self.assertSameTree(spec, self.in_pod("/app/one"))
        # Over SPDY (a real API server passes it through to the kubelet untranslated).
        self.assertEqual(self.execs_by_transport(), [("POST", 101, "command=sh")])
        # Behind a proxy without SPDY: one refused ask, then the same exec over a WebSocket.
        cluster.request("POST", "/fake/v1/settings", {"execSpdy": 0})
        try:
            cluster.request("DELETE", "/fake/v1/requests")
            r = self.run_wb("cp-files", "-r", os.path.join(self.local, "tree"), self.app + ":/app/ws")
            self.assertExit(r, 0)
            self.assertSameTree(spec, self.in_pod("/app/ws"))
            self.assertEqual(self.execs_by_transport(), [("POST", 400, "command=sh"), ("GET", 101, "command=sh")])
        finally:
            cluster.request("POST", "/fake/v1/settings", {"execSpdy": 1})
        status, body = cluster.request(
            "PATCH", "/api/v1/namespaces/%s/pods/%s" % (self.ns, self.pod),
            {"metadata": {"annotations": {"fake.wb.dev/behaviour": "nosh"}}},
            content_type="application/merge-patch+json")
        self.assertEqual(status, 200, body)
        r = self.run_wb("cp-files", "-r", os.path.join(self.local, "tree"), self.app + ":/app/two")
        self.assertExit(r, 0)
        self.assertSameTree(spec, self.in_pod("/app/two"))
        self.assertEqual([n for n in self.pod_listdir("/app") if "wb-upload" in n], [])

    # ------------------------------------------------------------ v4 exec protocol
    def test_upload_and_download_over_v4(self):
        # An API server before 1.30 offers v4.channel.k8s.io at most: no stdin close signal, so
        # tar must stop at the archive's end on its own.
        cluster.skip_unless_fake(self, "an API server before 1.30, which offers exec v4.channel.k8s.io at most")
        spec = self.make_tree(os.path.join(self.local, "tree"))
        cluster.request("POST", "/fake/v1/settings", {"execV5": 0})
        try:
            cluster.request("DELETE", "/fake/v1/requests")
            r = self.run_wb("cp-files", "-r", os.path.join(self.local, "tree"), self.app + ":/app/v4tree", timeout=60)
            self.assertExit(r, 0)
            self.assertSameTree(spec, self.in_pod("/app/v4tree"))
            one = os.path.join(self.local, "one.bin")
            data = os.urandom(70000)  # not a multiple of the 10 KiB tar record
            with open(one, "wb") as f:
                f.write(data)
            r = self.run_wb("cp-files", one, self.app + ":/app/one.bin", timeout=60)
            self.assertExit(r, 0)
            self.assertEqual(read(self.in_pod("/app/one.bin")), data)
            r = self.run_wb("cp-files", "-r", self.app + ":/app/v4tree", os.path.join(self.local, "back"))
            self.assertExit(r, 0)
            self.assertSameTree(spec, os.path.join(self.local, "back"))
        finally:
            cluster.request("POST", "/fake/v1/settings", {"execV5": 1})

    # ------------------------------------------------------------ busybox
    def test_busybox_container_like_alpine(self):
        """Alpine-based images have busybox's ls, tar, cat and tail, not GNU's: listing and copies both
        ways (modes and mtimes kept) work the same."""
        if not cluster.real and not os.path.exists("/usr/bin/busybox"):
            self.skipTest("busybox-static is not installed")
        self.use_busybox()
        # The pod really runs busybox now: GNU-only options fail there.
        r = self.run_wb("files", "ls", self.app + ":/app")
        self.assertExit(r, 0)
        self.pod_write("/app/logs/app.log", b"line\n" * 1000, 0o640, 1650000000)
        r = self.run_wb("files", "ls", self.app + ":/app/logs")
        self.assertExit(r, 0)
        self.assertEqual(r.out.strip().split("\t"), ["app.log", "5000", "-rw-r-----", "2022-04-15T05:20:00Z"])
        r = self.run_wb("cp-files", self.app + ":/app/logs/app.log", self.local, "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["method"], "cat")
        got = os.path.join(self.local, "app.log")
        self.assertEqual(read(got), b"line\n" * 1000)
        self.assertEqual(stat.S_IMODE(os.stat(got).st_mode), 0o640)
        self.assertEqual(int(os.stat(got).st_mtime), 1650000000)
        # A directory both ways through busybox tar.
        spec = self.pod_tree("/app/data")
        r = self.run_wb("cp-files", "-r", self.app + ":/app/data", self.local)
        self.assertExit(r, 0)
        self.assertSameTree(spec, os.path.join(self.local, "data"))
        r = self.run_wb("cp-files", "-r", os.path.join(self.local, "data"), self.app + ":/tmp/back")
        self.assertExit(r, 0)
        # (busybox tar, unlike GNU tar, leaves a directory's mtime at the time its files landed.)
        back = self.pod_copy("/tmp/back")
        for rel, (mode, mtime, content) in spec.items():
            st = os.lstat(os.path.join(back, rel))
            self.assertEqual((stat.S_IMODE(st.st_mode), int(st.st_mtime)), (mode, mtime), rel)
            self.assertEqual(read(os.path.join(back, rel)), content, rel)
        self.assertEqual(os.readlink(os.path.join(back, "link-to-a")), "a.txt")

    # ------------------------------------------------------------ broken connections
    def test_busybox_download_resumes_with_tail(self):
        """A download that breaks resumes with busybox tail."""
        cluster.skip_unless_fake(self, "cutting an exec stream in the middle of a download")
        if not os.path.exists("/usr/bin/busybox"):
            self.skipTest("busybox-static is not installed")
        self.use_busybox()
        size = 8 * 1024 * 1024
        data = os.urandom(size)
        with open(self.in_pod("/app/big.bin"), "wb") as f:
            f.write(data)
        cluster.request("DELETE", "/fake/v1/requests")
        self.exec_cut(3 * 1024 * 1024, 1)
        r = self.run_wb("cp-files", self.app + ":/app/big.bin", self.local, "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual((json.loads(r.out)["resumed"], json.loads(r.out)["restarted"]), (1, 0))
        self.assertEqual(read(os.path.join(self.local, "big.bin")), data)
        self.assertEqual(sum(1 for q, n, cut in self.exec_bytes() if "command=tail" in q), 1)

    def exec_cut(self, after, count):
        status, body = cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/exec-cut?afterBytes=%d&count=%d"
                                       % (self.ns, self.pod, after, count))
        self.assertEqual(status, 200, body)

    def exec_bytes(self):
        """Bytes the fake sent on the execs of this test's pod (SPDY or WebSocket), by command."""
        return [(e["query"], e.get("execBytesOut", 0), e.get("execCut", False))
                for e in self.exec_requests() if e.get("status") == 101]

    def exec_requests(self):
        """The fake's log entries of exec requests for this test's pod: POST asks for SPDY, GET for a
        WebSocket; status 101 = the exec ran over it."""
        _, body = cluster.request("GET", "/fake/v1/requests")
        return [e for e in body["items"] if e["path"].endswith("/pods/%s/exec" % self.pod)]

    def execs_by_transport(self):
        return [(e["method"], e.get("status"), e["query"].split("&")[0]) for e in self.exec_requests()]

    def test_interrupted_download_resumes(self):
        cluster.skip_unless_fake(self, "cutting an exec stream in the middle of a download")
        self.check_interrupted_download_resumes()

    def test_interrupted_download_resumes_over_websocket(self):
        """The same behind a proxy without SPDY: the WebSocket that breaks (no close frame, no exit
        status) is resumed the same way."""
        cluster.skip_unless_fake(self, "cutting an exec stream in the middle of a download")
        cluster.request("POST", "/fake/v1/settings", {"execSpdy": 0})
        try:
            self.check_interrupted_download_resumes()
            self.assertEqual({(m, st) for m, st, _ in self.execs_by_transport()}, {("POST", 400), ("GET", 101)})
        finally:
            cluster.request("POST", "/fake/v1/settings", {"execSpdy": 1})

    def check_interrupted_download_resumes(self):
        size = 50 * 1024 * 1024
        p = self.in_pod("/app/big.bin")
        h = hashlib.sha256()
        block = os.urandom(1 << 20)
        with open(p, "wb") as f:
            for i in range(size // len(block)):
                chunk = block[i % 11:] + block[:i % 11]
                f.write(chunk)
                h.update(chunk)
        os.chmod(p, 0o640)
        os.utime(p, (1650000000, 1650000000))
        cluster.request("DELETE", "/fake/v1/requests")
        self.exec_cut(15 * 1024 * 1024, 2)  # the tar stream and the first resume both break
        r = self.run_wb("cp-files", self.app + ":/app/big.bin", self.local, "-o", "json")
        self.assertExit(r, 0)
        doc = json.loads(r.out)
        self.assertEqual((doc["resumed"], doc["restarted"], doc["bytes"]), (2, 0, size))
        got = os.path.join(self.local, "big.bin")
        with open(got, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), h.hexdigest())
        self.assertEqual(stat.S_IMODE(os.stat(got).st_mode), 0o640)
        self.assertEqual(int(os.stat(got).st_mtime), 1650000000)
        self.assertEqual(os.listdir(self.local), ["big.bin"])  # no part file left
        streams = self.exec_bytes()
        self.assertEqual(sum(1 for q, n, cut in streams if cut), 2, streams)
        self.assertEqual(sum(1 for q, n, cut in streams if "command=tail" in q), 2, streams)
        sent = sum(n for q, n, cut in streams)
        # Started over, it would have been at least 50 + 15 + 15 MiB.
        self.assertLess(sent, size + 1024 * 1024, streams)
        self.assertGreaterEqual(sent, size)

    def test_interrupted_directory_copy_starts_over_and_half_files_never_land(self):
        cluster.skip_unless_fake(self, "cutting an exec stream in the middle of a download")
        spec = self.make_tree(self.in_pod("/app/data"))
        self.exec_cut(100000, 1)  # in the middle of sub/deeper/b.bin
        r = self.run_wb("cp-files", "-r", self.app + ":/app/data", self.local, "-o", "json")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["restarted"], 1)
        self.assertSameTree(spec, os.path.join(self.local, "data"))
        # A connection that keeps breaking: after the retries, an error and no half file.
        with open(self.in_pod("/app/big.bin"), "wb") as f:
            f.write(os.urandom(3 * 1024 * 1024))
        self.exec_cut(256 * 1024, 20)
        r = self.run_wb("cp-files", self.app + ":/app/big.bin", self.local)
        self.assertOneLineError(r, 7, "kept breaking while copying '/app/big.bin'")
        self.assertEqual(sorted(os.listdir(self.local)), ["data"])
        self.exec_cut(0, 0)

    def cut_proxy(self, cut_after):
        """tests/servers/cutproxy.py --raw in front of the API server, cutting the first connection
        that sends `cut_after` bytes; returns (a kubeconfig through it, a function that stops it
        and returns the cuts it made)."""
        p = subprocess.Popen([sys.executable, os.path.join(SOURCE_DIR, "tests", "servers", "cutproxy.py"), "--raw",
                              "--target", "127.0.0.1:%d" % cluster.port, "--cut-after", str(cut_after)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = p.stdout.readline().split()
        self.assertEqual(ready[:1], ["READY"])

        def stop():
            if p.poll() is None:
                p.stdin.close()
                p.wait(timeout=10)
            cuts = [l for l in p.stderr.read().splitlines() if l.startswith("CUT ")]
            p.stdout.close()
            p.stderr.close()
            return cuts

        self.addCleanup(lambda: p.poll() is not None or stop())
        with open(cluster.kubeconfig) as f:
            text = f.read().replace(cluster.server, "https://127.0.0.1:" + ready[1])
        path = os.path.join(self.home, "kubeconfig-cut")
        with open(path, "w") as f:
            f.write(text)
        return path, stop

    # tar extracts into a staging folder beside the destination (/app/.wb-upload-*), and only a whole
    # archive is moved under its final name; a cut one is removed.
    def test_upload_cut_mid_file_leaves_no_partial_file_under_its_name(self):
        data = os.urandom(6 * 1024 * 1024)
        src = os.path.join(self.local, "big.bin")
        with open(src, "wb") as f:
            f.write(data)
        kubeconfig, stop = self.cut_proxy(2 * 1024 * 1024)
        r = self.wb("--kubeconfig", kubeconfig, "-w", self.ns, "cp-files", src, self.app + ":/app/big.bin")
        cuts = stop()
        self.assertEqual(len(cuts), 1, r.err)
        if r.code == 0:
            self.assertEqual(self.pod_read("/app/big.bin"), data)
        else:
            self.assertOneLineError(r, r.code, "")
            self.assertFalse(self.pod_exists("/app/big.bin"), "a partial file under the final name after: " + r.err)
        self.assertEqual([n for n in self.pod_listdir("/app") if "wb-part" in n or "wb-upload" in n], [])

    # ------------------------------------------------------------ through a corporate proxy
    def test_copies_through_the_kubeconfigs_proxy(self):
        """A kubeconfig's proxy-url (an HTTP proxy that only tunnels, CONNECT) carries the copies'
        upgraded connections (SPDY, or the WebSocket fallback) as well as the plain requests."""
        proxy = ConnectProxy()
        self.addCleanup(proxy.close)
        kubeconfig = kubeconfig_through_proxy(cluster.kubeconfig, os.path.join(self.home, "kubeconfig-proxy"),
                                              "http://127.0.0.1:%d" % proxy.port)
        data = os.urandom(3 * 1024 * 1024)
        src = os.path.join(self.local, "through.bin")
        with open(src, "wb") as f:
            f.write(data)
        r = self.wb("--kubeconfig", kubeconfig, "-w", self.ns, "cp-files", src, self.app + ":/app/through.bin")
        self.assertExit(r, 0)
        self.assertEqual(self.pod_read("/app/through.bin"), data)
        self.assertGreater(proxy.bytes_up, len(data))
        down = proxy.bytes_down
        back = os.path.join(self.local, "back.bin")
        r = self.wb("--kubeconfig", kubeconfig, "-w", self.ns, "-v", "cp-files", self.app + ":/app/through.bin", back)
        self.assertExit(r, 0)
        self.assertEqual(read(back), data)
        self.assertGreater(proxy.bytes_down - down, len(data))
        self.assertNotIn("using a WebSocket", r.err)  # the copy itself went over SPDY, through the tunnel
        self.assertEqual(set(proxy.targets), {cluster.server[len("https://"):]})

    # ------------------------------------------------------------ kubectl cp, same files
    def test_kubectl_cp_same_files(self):
        if not KUBECTL:
            self.skipTest("kubectl is not installed")
        spec = self.pod_tree("/app/data")
        k = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, "cp", "%s/%s:/app/data" % (self.ns, self.pod),
                            os.path.join(self.local, "by-kubectl")], capture_output=True, text=True, timeout=120)
        self.assertEqual(k.returncode, 0, k.stderr)
        r = self.run_wb("cp-files", "-r", self.app + ":/app/data", os.path.join(self.local, "by-wb"))
        self.assertExit(r, 0)
        for rel, (_, _, data) in spec.items():
            for who in ("by-kubectl", "by-wb"):
                with open(os.path.join(self.local, who, rel), "rb") as f:
                    self.assertEqual(f.read(), data, (who, rel))

    # ------------------------------------------------------------ big
    def test_big_file_round_trip(self):
        if os.environ.get("WB_TEST_BIG") != "1":
            self.skipTest("set WB_TEST_BIG=1 for the 1 GiB round trip")
        size = 1024 ** 3
        block = os.urandom(1 << 20)

        def write_big(path):
            h = hashlib.sha256()
            with open(path, "wb") as f:
                for i in range(size // len(block)):
                    chunk = block[i % 7:] + block[:i % 7]
                    f.write(chunk)
                    h.update(chunk)
            return h.hexdigest()

        def run(*args):
            proc = subprocess.Popen([WB_BIN, "--kubeconfig", self.kubeconfig, "-w", self.ns] + list(args),
                                    env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.workdir)
            t0 = time.time()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            _, err = proc.stdout.read(), proc.stderr.read()
            proc.stdout.close()
            proc.stderr.close()
            self.assertEqual(os.waitstatus_to_exitcode(status), 0, err)
            return time.time() - t0, usage.ru_maxrss  # KiB

        def report(what, secs, rss, base):
            print("\n1 GiB %s: %.1f s, %.0f MB/s, peak RSS %d MiB (1 MiB: %d MiB)"
                  % (what, secs, 1024 / secs, rss // 1024, base // 1024), file=sys.stderr)
            # Memory stays flat: a 1 GiB copy peaks where a 1 MiB one does, give or take buffers.
            self.assertLess(rss - base, 16 * 1024)
            self.assertLess(rss, 48 * 1024)

        got = os.path.join(self.local, "big.bin")
        if cluster.real:
            # In a real container, making 1 GiB and hashing it there run under the app's CPU limit
            # (500m; 9 s and 15 s on the kit): the file goes up first and comes back, and both ends
            # are hashed on this machine.
            orig = os.path.join(self.home, "orig.bin")
            want = write_big(orig)
            small = os.path.join(self.home, "small.bin")
            with open(small, "wb") as f:
                f.write(block)
            _, base_up = run("cp-files", small, self.app + ":/app/small.bin")
            _, base_down = run("cp-files", self.app + ":/app/small.bin", self.local)
            secs, rss = run("cp-files", orig, self.app + ":/app/big.bin")
            os.unlink(orig)
            report("upload", secs, rss, base_up)
            secs, rss = run("cp-files", self.app + ":/app/big.bin", self.local)
            self.assertEqual(file_sha256(got), want)
            report("download", secs, rss, base_down)
            os.unlink(got)
            self.pod_sh("rm -f /app/big.bin")
            return
        p = self.in_pod("/app/big.bin")
        want = write_big(p)
        with open(self.in_pod("/app/small.bin"), "wb") as f:
            f.write(block)
        _, base_down = run("cp-files", self.app + ":/app/small.bin", self.local)
        _, base_up = run("cp-files", os.path.join(self.local, "small.bin"), self.app + ":/app/small-up.bin")
        secs, rss = run("cp-files", self.app + ":/app/big.bin", self.local)
        self.assertEqual(file_sha256(got), want)
        report("download", secs, rss, base_down)
        os.unlink(p)
        secs, rss = run("cp-files", got, self.app + ":/app/big.bin")
        self.assertEqual(file_sha256(p), want)
        report("upload", secs, rss, base_up)
        os.unlink(p)
        os.unlink(got)
