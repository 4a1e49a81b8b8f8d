"""wb logs: every replica at once with a prefix, --tail, --since, --previous after a crash, -o json,
--grep, --events, and -f picking up a replica that appears after a scale-up, letting go of one that
goes away and ending on Ctrl-C. kubectl logs against the same cluster gives the same lines.

With WB_TEST_KUBECONFIG the logs come from a real kubelet: the app runs the test server image,
lines are written into its JVM's standard output, and a crash is the JVM ending on SIGTERM. Streams
cut on purpose and a clock ten minutes off need the fake API server (those tests skip, saying so).
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import WB_BIN, FakeCluster, WbTestCase, LEAN_APPS, real_images  # noqa: E402

IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64  # the fake's; real mode: the test server image
KUBECTL = shutil.which("kubectl")
cluster = None


def setUpModule():
    global cluster
    global IMAGE
    cluster = FakeCluster()
    if cluster.real:
        IMAGE = real_images()["server"]
        return
    status, body = cluster.request("POST", "/fake/v1/settings",
                                   {"readinessDelay": 0.1, "crashDelay": 0.2, "backoffDelay": 0.5})
    assert status == 200, body


def tearDownModule():
    if cluster:
        cluster.stop()


FAKETIME_LIB = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))), None)


class Follower:
    """`wb logs APP -f ARGS...` running in the background; its stdout lines collected as they come."""

    def __init__(self, test, *args, faketime=None):
        """faketime: run wb under libfaketime with that offset ("+10m"), its clock off the server's."""
        self.test = test
        cmd = [WB_BIN, "--kubeconfig", test.kubeconfig, "-w", test.ns, "logs", test.app, "-f", *args]
        env = test.env()
        if faketime:
            # Preloaded into wb itself (the `faketime` command would run it as a child, out of
            # reach of interrupt()); the MT flavour for wb's threads. Under the asan preset it comes
            # ahead of the ASan runtime, which is harmless here.
            env.update(LD_PRELOAD=FAKETIME_LIB, FAKETIME=faketime)
            env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS"), "verify_asan_link_order=0") if x)
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=test.workdir)
        self.lines = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")),
                                       daemon=True)
        self.reader.start()

    def has(self, text):
        return any(text in line for line in self.lines)

    def wait_for(self, text, timeout=15, required=True):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.has(text):
                return
            time.sleep(0.05)
        if required:
            self.test.fail("no line with %r in:\n%s" % (text, "".join(self.lines)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.interrupt()
        return False

    def messages(self):
        """The lines so far without their replica prefix."""
        return [line.rstrip("\n").split(" ", 1)[1] for line in self.lines]

    def interrupt(self):
        """Ctrl-C, as a user would (or leave the `with Follower(...)` block)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.test.fail("wb logs -f did not stop on Ctrl-C")

    def finish(self):
        """After interrupt(): asserts the Ctrl-C exit status (130) and returns stderr."""
        self.reader.join(timeout=5)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.test.assertEqual(self.proc.returncode, 130, err)
        return err


def crash(ns, pod, text, exit_code=None):
    """The pod's container writes TEXT and dies: the fake's crash control (with EXIT_CODE), or on a
    real cluster the JVM (PID 1) gets SIGTERM right after TEXT went into its standard output and
    ends (exit 143); the kubelet then starts it again."""
    if cluster.real:
        def restarts():
            status, body = cluster.request("GET", "/api/v1/namespaces/%s/pods/%s" % (ns, pod))
            assert status == 200, body
            st = body["status"]["containerStatuses"][0]
            return st["restartCount"] + (0 if "running" in st["state"] else 1)

        before = restarts()
        p = cluster.kubectl("exec", "-i", "-n", ns, pod, "--", "sh", "-c",
                            "cat > /proc/1/fd/1; (sleep 0.2; kill 1) >/dev/null 2>&1 &", input=text, timeout=60)
        assert p.returncode == 0, p.stderr
        # Seen once in CI: the backgrounded kill never ran (the exec's leftovers went with it) and
        # the container lived on. Then the kill is sent again, in the exec itself.
        for wait in (10, 60):
            deadline = time.time() + wait
            while time.time() < deadline:
                if restarts() != before:
                    return
                time.sleep(0.2)
            if wait == 10:
                cluster.kubectl("exec", "-n", ns, pod, "--", "kill", "1", timeout=60)
        raise AssertionError("%s did not stop after kill 1" % pod)
    query = "?exitCode=%d" % exit_code if exit_code is not None else ""
    status, body = cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/crash%s" % (ns, pod, query), text,
                                   content_type="text/plain")
    assert status == 200, body


class AppLogs(WbTestCase):
    """An app of 2 replicas in a namespace of its own (admin's kubeconfig)."""

    def start_app(self):
        self.app = "orders"
        self.ns = cluster.namespace("logs")
        self.kubeconfig = cluster.kubeconfig
        self.assertExit(self.run_wb("app", "create", self.app, "--replicas", "2"), 0)
        status, body = cluster.set_app_image(self.ns, self.app, IMAGE)
        self.assertEqual(status, 200, body)
        self.assertExit(self.run_wb("app", "start", self.app), 0)

    def env(self, extra=None):
        """Real mode: wb runs with a profile of LEAN_APPS (apps ask for little CPU) unless a test names
        another."""
        env = super().env()
        if LEAN_APPS:
            path = os.path.join(self.home, "lean-profile.yaml")
            if not os.path.exists(path):
                with open(path, "w") as f:
                    f.write(LEAN_APPS)
            env["WB_PROFILE"] = path
        env.update(extra or {})
        return env

    def run_wb(self, *args, **kw):
        return self.wb("--kubeconfig", self.kubeconfig, "-w", self.ns, *args, **kw)

    def pods(self):
        return cluster.running_pods(self.ns, self.app)

    def say(self, pod, text):
        cluster.say(self.ns, pod, text)

    def short(self, pod):
        return self.app + pod[pod.rfind("-"):]

    def started_line(self, pod):
        """The line a replica's log starts with: the fake's, or what the test server prints when it serves."""
        return "serving version 1 on port 8080" if cluster.real else "container %s of pod %s started" % (self.app, pod)

    def warm_up(self, follower, pods):
        """Writes into each pod's log until `follower` shows it: its streams are open (with --tail 0
        a line written before that is not shown)."""
        for i, pod in enumerate(pods):
            deadline = time.time() + 30
            n = 0
            while not follower.has("%s warm-up %d." % (self.short(pod), i)):
                if time.time() > deadline:
                    self.fail("wb logs -f did not show %s's log:\n%s" % (pod, "".join(follower.lines)))
                self.say(pod, "warm-up %d.%d\n" % (i, n))
                n += 1
                follower.wait_for("%s warm-up %d." % (self.short(pod), i), timeout=1, required=False)

    def cut_follow_stream(self, pod, timeout=15):
        """(The fake only.) Breaks wb's open follow stream of the pod's log (waits until one is open: on a busy
        machine wb may still be connecting or reconnecting)."""
        deadline = time.time() + timeout
        while True:
            status, body = cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/log-cut" % (self.ns, pod))
            self.assertEqual(status, 200, body)
            if body["streams"] >= 1:
                return
            if time.time() > deadline:
                self.fail("no follow stream of %s was open to cut" % pod)
            time.sleep(0.05)


class Logs(AppLogs):
    """Reading the logs of one app shared by the class (started once; these tests only write lines
    into its log and read them)."""

    shared = None

    def setUp(self):
        super().setUp()
        if Logs.shared is None:
            self.start_app()
            Logs.shared = (self.app, self.ns, self.kubeconfig)
        self.app, self.ns, self.kubeconfig = Logs.shared

    def test_all_replicas_prefixed(self):
        pods = self.pods()
        self.assertEqual(len(pods), 2)
        for i, p in enumerate(pods):
            self.say(p, "hello from %d\nsecond line %d\n" % (i, i))
        r = self.run_wb("logs", self.app)
        self.assertExit(r, 0)
        for i, p in enumerate(pods):
            self.assertIn("%s hello from %d\n" % (self.short(p), i), r.out)
            self.assertIn("%s second line %d\n" % (self.short(p), i), r.out)
            self.assertIn("%s %s\n" % (self.short(p), self.started_line(p)), r.out)
        self.assertNotIn("\x1b[", r.out)  # no color in a pipe
        # Lines of one replica keep their order.
        lines = [l for l in r.out.splitlines() if l.startswith(self.short(pods[0]) + " ")]
        self.assertLess(lines.index("%s hello from 0" % self.short(pods[0])),
                        lines.index("%s second line 0" % self.short(pods[0])))

        # --tail: the last N lines of each replica.
        r = self.run_wb("logs", self.app, "--tail", "1")
        self.assertExit(r, 0)
        self.assertEqual(sorted(r.out.splitlines()),
                         sorted("%s second line %d" % (self.short(p), i) for i, p in enumerate(pods)))

        # --replica, --timestamps, --grep
        r = self.run_wb("logs", self.app, "--replica", self.short(pods[1]), "--timestamps", "--grep", "^hello")
        self.assertExit(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 1, r.out)
        prefix, stamp, message = lines[0].split(" ", 2)
        self.assertEqual((prefix, message), (self.short(pods[1]), "hello from 1"))
        self.assertRegex(stamp, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")

        # -o json: one object a line.
        r = self.run_wb("logs", self.app, "-o", "json", "--replica", pods[0])
        self.assertExit(r, 0)
        docs = [json.loads(l) for l in r.out.splitlines()]
        self.assertIn({"replica": self.short(pods[0]), "container": self.app, "message": "hello from 0",
                       "time": docs[-2]["time"]}, docs)
        self.assertEqual(set(docs[0]), {"time", "replica", "container", "message"})

        # --since: nothing that old... and something recent.
        time.sleep(1.2)
        self.say(pods[0], "fresh\n")
        r = self.run_wb("logs", self.app, "--since", "1s")
        self.assertExit(r, 0)
        self.assertEqual(r.out, "%s fresh\n" % self.short(pods[0]))

        # A TTY: colored prefixes.
        r = self.run_wb("logs", self.app, "--tail", "1", tty=True)
        self.assertExit(r, 0)
        self.assertIn("\x1b[", r.out)

    def test_errors(self):
        r = self.run_wb("logs", "nope")
        self.assertOneLineError(r, 3, "app 'nope' not found")
        r = self.run_wb("logs", self.app, "--replica", "zzzzz")
        self.assertOneLineError(r, 3, "has no replica 'zzzzz'")
        r = self.run_wb("logs", self.app, "--since", "soon")
        self.assertOneLineError(r, 2, "--since 'soon'")
        r = self.run_wb("logs", self.app, "--previous")
        self.assertOneLineError(r, 3, "no replica of app 'orders' has restarted, so there is no previous log")

    def test_kubectl_logs_same_lines(self):
        if not KUBECTL:
            self.skipTest("kubectl is not installed")
        pod = self.pods()[0]
        self.say(pod, "one\ntwo\nthree\n")
        for args in ([], ["--tail", "2"], ["--timestamps"]):
            k = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, "-n", self.ns, "logs", pod] + args,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(k.returncode, 0, k.stderr)
            r = self.run_wb("logs", self.app, "--replica", pod, *args)
            self.assertExit(r, 0)
            prefix = self.short(pod) + " "
            self.assertEqual(r.out, "".join(prefix + l + "\n" for l in k.stdout.splitlines()), args)


class LogsOfItsOwnApp(AppLogs):
    """Crashes and scaling: an app of its own for each test."""

    def setUp(self):
        super().setUp()
        self.start_app()

    def test_previous_after_crash(self):
        pod = self.pods()[0]
        self.say(pod, "about to fall over\n")
        if not cluster.real:
            # As a real kubelet does for a second or two after a restart: the previous log is
            # answered (200) with the kubelet's own error text. wb waits that out; it never shows it.
            status, body = cluster.request("POST", "/fake/v1/settings", {"previousLogGap": 1.0})
            self.assertEqual(status, 200, body)
            self.addCleanup(cluster.request, "POST", "/fake/v1/settings", {"previousLogGap": 0})
        crash(self.ns, pod, "panic: out of cheese\n", exit_code=3)
        deadline = time.time() + (60 if cluster.real else 10)
        while time.time() < deadline:
            r = self.run_wb("logs", self.app, "--previous", "--replica", pod)
            if r.code == 0:
                break
            time.sleep(0.2)
        self.assertExit(r, 0)
        self.assertNotIn("unable to retrieve", r.out)
        self.assertIn("%s about to fall over\n" % self.short(pod), r.out)
        self.assertTrue(r.out.endswith("%s panic: out of cheese\n" % self.short(pod)), r.out)

    def restarted(self, pod):
        """Waits until POD's container runs again after a crash."""
        deadline = time.time() + (90 if cluster.real else 10)
        while time.time() < deadline:
            status, body = cluster.request("GET", "/api/v1/namespaces/%s/pods/%s" % (self.ns, pod))
            st = body["status"]["containerStatuses"][0]
            if st["restartCount"] >= 1 and "running" in st["state"]:
                return
            time.sleep(0.1)
        self.fail("%s did not run again after its crash" % pod)

    def test_follow_picks_up_new_replica_and_stops_on_ctrl_c(self):
        pods = self.pods()
        f = Follower(self, "--tail", "0", "--events")
        wait_for = f.wait_for
        try:
            self.warm_up(f, pods)
            self.say(pods[0], "live one\n")
            wait_for("%s live one" % self.short(pods[0]))
            # Scale up: the third replica's log is followed from its start.
            r = self.run_wb("app", "scale", self.app, "3")
            self.assertExit(r, 0)
            new = [p for p in self.pods() if p not in pods]
            self.assertEqual(len(new), 1)
            wait_for("%s %s" % (self.short(new[0]), self.started_line(new[0])))
            self.say(new[0], "newcomer speaks\n")
            wait_for("%s newcomer speaks" % self.short(new[0]))
            wait_for("* replica %s started" % self.short(new[0]))  # --events, in words
            # Scale down: the stream of the replica that goes away ends; the others go on.
            self.assertExit(self.run_wb("app", "scale", self.app, "2"), 0)
            left = self.pods()
            self.assertEqual(len(left), 2, left)
            gone = [p for p in pods + new if p not in left][0]
            # A restart of a replica: the stream resumes on the new run without repeating lines.
            victim = left[1]
            crash(self.ns, victim, "last words\n")
            wait_for("%s last words" % self.short(victim))
            self.restarted(victim)
            self.say(victim, "back again\n")
            wait_for("%s back again" % self.short(victim))
            # The replica that went away is gone for good (on a real node after its preStop wait):
            # its stream ended quietly, and wb does not ask for its log again.
            deadline = time.time() + (90 if cluster.real else 10)
            while cluster.request("GET", "/api/v1/namespaces/%s/pods/%s" % (self.ns, gone))[0] != 404:
                self.assertLess(time.time(), deadline, "%s was not removed" % gone)
                time.sleep(0.2)
            for i, p in enumerate(left):
                self.say(p, "still here %d\n" % i)
            for i, p in enumerate(left):
                wait_for("%s still here %d" % (self.short(p), i))
            time.sleep(0.5)
        finally:
            f.interrupt()
        err = f.finish()
        text = "".join(f.lines)
        for line in ("live one", "newcomer speaks", "last words", "back again", "still here 0", "still here 1"):
            self.assertEqual(sum(1 for l in f.lines if l.rstrip("\n").endswith(" " + line)), 1, text)
        self.assertIn("replica %s appeared" % self.short(new[0]), err)
        self.assertNotIn("replica %s:" % self.short(gone), err)  # no broken stream, no error about it
        self.assertNotIn("error", err)  # Ctrl-C is how a follow ends, not an error

    def test_follow_goes_by_the_servers_clock_not_this_machines(self):
        # This machine's clock is ten minutes ahead: a --tail 0 resume and the events still go by
        # the cluster's clock (asked "since" ten minutes ahead, they would show nothing).
        if not FAKETIME_LIB:
            self.skipTest("needs libfaketime (scripts/install-deps.sh --with-tests installs it)")
        pods = self.pods()
        with Follower(self, "--tail", "0", "--events", faketime="+10m") as f:
            if cluster.real:
                # No stream can be cut on demand here, so no resume: the events part runs.
                self.warm_up(f, pods[:1])
            else:
                self.cut_follow_stream(pods[0])
                self.say(pods[0], "said while the stream was down\n")
                f.wait_for("%s said while the stream was down" % self.short(pods[0]))
            self.assertExit(self.run_wb("app", "scale", self.app, "3"), 0)
            new = [p for p in self.pods() if p not in pods]
            self.assertEqual(len(new), 1)
            f.wait_for("* replica %s started" % self.short(new[0]))
        err = f.finish()
        if not cluster.real:
            self.assertIn("reconnecting", err)


class StreamCuts(AppLogs):
    """Streams that break (the fake cuts them on demand)."""

    def setUp(self):
        super().setUp()
        cluster.skip_unless_fake(self, "log streams cut on demand")
        self.start_app()

    def test_follow_resumes_a_broken_stream_without_loss_or_repeats(self):
        pod = self.pods()[0]
        self.say(pod, "\n".join("before %d" % i for i in range(50)) + "\n")
        with Follower(self, "--replica", pod) as f:
            f.wait_for("before 49", timeout=10, required=False)
            for round in range(3):
                self.cut_follow_stream(pod)
                # Lines written while the stream is down must still arrive, once.
                self.say(pod, "gap %d a\ngap %d b\n" % (round, round))
                time.sleep(0.3)
                self.say(pod, "after %d\n" % round)
            f.wait_for("after 2", timeout=10, required=False)
            time.sleep(0.7)
        err = f.finish()
        messages = f.messages()
        want = ["before %d" % i for i in range(50)]
        for round in range(3):
            want += ["gap %d a" % round, "gap %d b" % round, "after %d" % round]
        self.assertEqual([m for m in messages if not m.startswith(("Starting", "container"))], want, err)
        self.assertIn("reconnecting", err)

    def test_follow_over_many_cuts_loses_and_repeats_no_numbered_line(self):
        pod = self.pods()[0]
        numbered = []

        def say_numbered(count):
            lines = ["seq %05d" % (len(numbered) + i) for i in range(count)]
            numbered.extend(lines)
            self.say(pod, "".join(line + "\n" for line in lines))

        with Follower(self, "--replica", pod) as f:
            for round in range(12):
                say_numbered(20)
                f.wait_for(numbered[-1], timeout=10, required=False)
                if round % 3 == 2:
                    # The stream wb opens next breaks inside its second line, too.
                    status, body = cluster.request(
                        "POST", "/fake/v1/namespaces/%s/pods/%s/log-cut?afterBytes=50&count=1" % (self.ns, pod))
                    self.assertEqual(status, 200, body)
                self.cut_follow_stream(pod)
                say_numbered(5)  # while the stream is down
            say_numbered(3)
            f.wait_for(numbered[-1], timeout=15, required=False)
            time.sleep(0.5)
        err = f.finish()
        got = [m for m in f.messages() if m.startswith("seq ")]
        self.assertEqual(len(got), len(numbered), err)
        self.assertEqual(got, numbered, err)
        self.assertIn("reconnecting", err)

    def test_follow_tail_0_resumes_a_stream_that_broke_before_any_line(self):
        pod = self.pods()[0]
        self.say(pod, "old 1\nold 2\n")
        # The resume starts at the second the stream was asked for, as the server's Date of an
        # earlier answer tells it (whole seconds, so up to two seconds early).
        time.sleep(2.2)
        with Follower(self, "--tail", "0", "--replica", pod) as f:
            # Cut wb's follow stream as soon as it is open, before it carried a line (its status
            # and headers came at once, as kube-apiserver sends them).
            self.cut_follow_stream(pod)
            self.say(pod, "gap a\ngap b\n")  # while the stream is down
            time.sleep(0.8)
            self.say(pod, "after\n")
            f.wait_for("after", timeout=10, required=False)
            time.sleep(0.3)
        err = f.finish()
        messages = f.messages()
        self.assertEqual(messages, ["gap a", "gap b", "after"], err)
        self.assertIn("reconnecting", err)

    def test_follow_since_resumes_a_stream_that_broke_inside_its_first_line(self):
        pod = self.pods()[0]
        self.say(pod, "recent 1\nrecent 2\n")
        # The next stream of this log breaks after one byte: headers sent, no whole line.
        status, body = cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/log-cut?afterBytes=1&count=1"
                                       % (self.ns, pod))
        self.assertEqual(status, 200, body)
        with Follower(self, "--since", "10m", "--replica", pod) as f:
            f.wait_for("recent 2", timeout=10, required=False)
            self.say(pod, "later\n")
            f.wait_for("later", timeout=10, required=False)
            time.sleep(0.3)
        err = f.finish()
        messages = f.messages()
        # The window is the ten minutes before wb first asked, not before it asked again.
        self.assertEqual([m for m in messages if not m.startswith(("Starting", "container"))],
                         ["recent 1", "recent 2", "later"], err)
        self.assertIn("reconnecting", err)

    def test_a_line_over_a_mebibyte_comes_in_pieces_without_loss_or_repeats(self):
        # wb holds at most 1 MiB of a line that has not ended (a peer that never sends a newline
        # cannot make it hold more): a longer line is passed on in pieces of 1 MiB, in order.
        cluster.skip_unless_fake(self, "cutting a log stream in the middle of a line")
        pod = self.pods()[1]  # kubectl, not cutting lines, reads the first: test_kubectl_logs_same_lines
        long_line = "".join("%07d," % i for i in range(330000))  # 2.5 MiB
        self.say(pod, "before long\n" + long_line + "\nafter long\n")
        for extra in ([], ["-o", "json", "--tail", "3"]):  # resumed by counting lines, then by timestamps
            # The next read breaks 1.5 MiB in: inside the long line, after its first piece was shown.
            status, body = cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/log-cut?afterBytes=%d&count=1"
                                           % (self.ns, pod, 3 << 19))
            self.assertEqual(status, 200, body)
            r = self.run_wb("logs", self.app, "--replica", pod, *extra)
            self.assertExit(r, 0)
            if extra:
                messages = [json.loads(l)["message"] for l in r.out.splitlines()]
            else:
                messages = [l.split(" ", 1)[1] for l in r.out.splitlines()]
            i = messages.index("before long")
            # (The cap counts the server's timestamp, asked for with --tail: a piece is at most 1 MiB.)
            self.assertEqual([len(m) > (1 << 20) - 40 for m in messages[i + 1:i + 4]], [True, True, False], extra)
            self.assertEqual("".join(messages[i + 1:i + 4]), long_line, extra)
            self.assertEqual(messages[i + 4:], ["after long"], extra)
            self.assertEqual(r.err.count("reconnecting"), 1, r.err)

    def test_read_resumes_a_broken_stream_without_timestamps(self):
        pod = self.pods()[0]
        self.say(pod, "".join("line %04d of the log\n" % i for i in range(3000)))
        cluster.request("DELETE", "/fake/v1/requests")
        # The next two reads of this container's log break off mid-way (mid-line, too).
        status, body = cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/log-cut?afterBytes=20005&count=2"
                                       % (self.ns, pod))
        self.assertEqual(status, 200, body)
        r = self.run_wb("logs", self.app, "--replica", pod)
        self.assertExit(r, 0)
        messages = [l.split(" ", 1)[1] for l in r.out.splitlines()]
        self.assertEqual([m for m in messages if m.startswith("line ")],
                         ["line %04d of the log" % i for i in range(3000)])
        self.assertEqual(r.err.count("reconnecting"), 2, r.err)
        _, body = cluster.request("GET", "/fake/v1/requests")
        reads = [e["query"] for e in body["items"] if e["path"].endswith("/pods/%s/log" % pod)]
        self.assertEqual(len(reads), 3, reads)
        self.assertFalse(any("timestamps" in q for q in reads), reads)  # not needed to resume a whole read
        # A --tail window moves with the log's end: that read asks for timestamps and resumes by time.
        cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/log-cut?afterBytes=5000&count=1" % (self.ns, pod))
        r = self.run_wb("logs", self.app, "--replica", pod, "--tail", "500")
        self.assertExit(r, 0)
        messages = [l.split(" ", 1)[1] for l in r.out.splitlines()]
        self.assertEqual(messages, ["line %04d of the log" % i for i in range(2500, 3000)])
        # -o json keeps its time field.
        r = self.run_wb("logs", self.app, "--replica", pod, "--tail", "1", "-o", "json")
        self.assertExit(r, 0)
        self.assertRegex(json.loads(r.out)["time"], r"^\d{4}-\d\d-\d\dT")
