"""wb shell against the fake API server (whose exec runs real commands in the pod's directory, with a
pty for a terminal) and, with WB_TEST_KUBECONFIG, a real cluster (the test server's Debian image):
exit statuses pass through and wb's own failures are one line; in a pipe stdin and stdout are
binary-clean both ways (a 100 MiB round trip through `cat` keeps its sha256 with flat memory), the
end of stdin ends the command's stdin, a tar stream comes out whole; on a terminal the remote one
has the local window's size and follows a resize, Ctrl-C reaches the remote process and not wb, and
the local terminal is as it was afterwards. Only the fake can speak the older v4 exec protocol.
"""
import fcntl
import io
import os
import select
import signal
import struct
import subprocess
import sys
import tarfile
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import WB_BIN, WbTestCase, cluster_with_app, file_sha256  # noqa: E402

IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64
APP = "orders"
cluster = None
ns = None


def setUpModule():
    global cluster, ns
    cluster, ns = cluster_with_app("shell", APP, IMAGE)


def tearDownModule():
    if cluster:
        cluster.stop()


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Terminal:
    """wb shell on a pseudo-terminal of its own (its controlling terminal, as in a terminal window)."""

    def __init__(self, test, rows, cols, *args):
        self.master, self.slave = os.openpty()
        set_size(self.slave, rows, cols)
        self.before = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen(
            [WB_BIN, "--kubeconfig", cluster.kubeconfig, "-w", ns, "shell", APP] + list(args),
            stdin=self.slave, stdout=self.slave, stderr=self.slave, cwd=test.workdir,
            env=test.env({"TERM": "xterm"}), start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        self.seen = b""

    def prompt(self):
        """Waits for the remote shell's prompt (as root: "# "): bash drops what is typed before it
        sets up the line editor."""
        return self.expect(b"# ")

    def type(self, text):
        os.write(self.master, text.encode())

    def expect(self, pattern, timeout=30):
        """Reads the terminal until PATTERN (bytes) appears after what earlier calls consumed; returns
        what it read up to the end of PATTERN."""
        deadline = time.time() + timeout
        while pattern not in self.seen:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("%r not seen on the terminal; it shows:\n%r" % (pattern, self.seen[-2000:]))
            r, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if r:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    data = b""
                if not data and self.proc.poll() is not None:
                    raise AssertionError("wb ended (exit %s) before %r; the terminal shows:\n%r"
                                         % (self.proc.returncode, pattern, self.seen[-2000:]))
                self.seen += data
        end = self.seen.index(pattern) + len(pattern)
        consumed, self.seen = self.seen[:end], self.seen[end:]
        return consumed

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class Shell(WbTestCase):
    def run_wb(self, *args, **kw):
        kw.setdefault("input", "")
        return self.wb("--kubeconfig", cluster.kubeconfig, "-w", ns, *args, **kw)

    def shell(self, *args, **kw):
        return self.run_wb("shell", APP, *args, **kw)

    # ------------------------------------------------------------------ exit statuses and words
    def test_exit_status_is_the_commands(self):
        r = self.shell("--", "sh", "-c", "echo to-out; echo to-err >&2; exit 7")
        self.assertExit(r, 7)
        self.assertEqual(r.out, "to-out\n")
        self.assertEqual(r.err, "to-err\n")
        r = self.shell("--", "sh", "-c", "exit 0")
        self.assertExit(r, 0)
        self.assertEqual(r.err, "")

    def test_wb_failures_are_one_line(self):
        r = self.shell("--", "no-such-command-here")
        self.assertOneLineError(r, 3, "error:", "has no command 'no-such-command-here'")
        r = self.run_wb("shell", "nosuchapp", "--", "true")
        self.assertOneLineError(r, 3, "error:", "nosuchapp")
        r = self.shell("--replica", "zzzzz", "--", "true")
        self.assertOneLineError(r, 3, "error:", "no replica 'zzzzz'")
        r = self.run_wb("shell")
        self.assertOneLineError(r, 2, "error:", "app")

    # ------------------------------------------------------------------ pipes
    def test_stdin_end_ends_the_commands_stdin(self):
        r = self.shell("--", "sh", "-c", "wc -l; echo done", input="one\ntwo\nthree\n")
        self.assertExit(r, 0)
        self.assertEqual(r.out.split(), ["3", "done"])

    def test_tar_out_of_the_container(self):
        r = self.shell("--", "sh", "-c", "mkdir -p /tmp/wbsh && printf 'hello\\000world' > /tmp/wbsh/a.bin")
        self.assertExit(r, 0)
        p = subprocess.run([WB_BIN, "--kubeconfig", cluster.kubeconfig, "-w", ns, "shell", APP, "--", "tar", "cf", "-",
                            "-C", "/tmp", "wbsh"], stdin=subprocess.DEVNULL, capture_output=True, env=self.env(),
                           cwd=self.workdir, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
            self.assertEqual(tf.extractfile("wbsh/a.bin").read(), b"hello\0world")

    def test_ctrl_c_in_a_pipe_stops_wb(self):
        proc = subprocess.Popen([WB_BIN, "--kubeconfig", cluster.kubeconfig, "-w", ns, "shell", APP, "--", "sh", "-c",
                                 "echo started; sleep 60"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env(), cwd=self.workdir)
        try:
            self.assertEqual(proc.stdout.readline(), b"started\n")
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(timeout=10), 130)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for f in (proc.stdin, proc.stdout, proc.stderr):
                f.close()

    def run_cat(self, src, dst):
        """`wb shell APP -- cat < SRC > DST`; returns (seconds, peak RSS in KiB)."""
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            proc = subprocess.Popen([WB_BIN, "--kubeconfig", cluster.kubeconfig, "-w", ns, "shell", APP, "--", "cat"],
                                    stdin=fin, stdout=fout, stderr=subprocess.PIPE, env=self.env(), cwd=self.workdir)
            t0 = time.time()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            err = proc.stderr.read()
            proc.stderr.close()
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, err)
        return time.time() - t0, usage.ru_maxrss

    def test_binary_round_trip_100mib(self):
        block = os.urandom(1 << 20)
        small, big = os.path.join(self.home, "small.bin"), os.path.join(self.home, "big.bin")
        with open(small, "wb") as f:
            f.write(block)
        with open(big, "wb") as f:
            for i in range(100):
                f.write(block[i:] + block[:i])  # every byte value, no run the network could squeeze
        back = os.path.join(self.home, "back.bin")
        _, base = self.run_cat(small, back)
        self.assertEqual(file_sha256(back), file_sha256(small))
        secs, rss = self.run_cat(big, back)
        self.assertEqual(os.path.getsize(back), 100 << 20)
        self.assertEqual(file_sha256(back), file_sha256(big))
        print("\n100 MiB through `wb shell -- cat`: %.1f s, peak RSS %d MiB (1 MiB: %d MiB)"
              % (secs, rss // 1024, base // 1024), file=sys.stderr)
        # Memory stays flat; under AddressSanitizer (the asan preset sets ASAN_OPTIONS) freed memory
        # sits in its quarantine (256 MiB), so RSS says nothing there.
        if "ASAN_OPTIONS" not in os.environ:
            self.assertLess(rss - base, 16 * 1024)

    # ------------------------------------------------------------------ a terminal
    def test_terminal_size_follows_the_window(self):
        t = Terminal(self, 33, 101)
        try:
            t.prompt()
            t.type("stty size; echo size-$((6*7))\r")
            t.expect(b"33 101")
            t.expect(b"size-42")
            set_size(t.master, 44, 120)  # the kernel tells wb with SIGWINCH
            deadline = time.time() + 20
            while True:
                t.prompt()
                t.type("echo now-$(stty size | tr ' ' x)-$((1+1))\r")
                line = t.expect(b"-2\r\n")
                if b"now-44x120" in line or time.time() > deadline:
                    break
                time.sleep(0.3)
            self.assertIn(b"now-44x120-2", line)
            t.prompt()
            t.type("exit 5\r")
            self.assertEqual(t.proc.wait(timeout=30), 5)
            self.assertEqual(termios.tcgetattr(t.slave), t.before)
        finally:
            t.close()

    def test_ctrl_c_goes_to_the_remote_and_terminal_is_restored(self):
        t = Terminal(self, 24, 80)
        try:
            t.prompt()
            t.type("sleep 60; echo slept-$((2+3))\r")
            time.sleep(1.5)
            t.type("\x03")  # raw mode: a byte for the remote terminal, not SIGINT for wb
            shown = t.prompt()
            t.type("echo alive-$((3*3))\r")
            shown += t.expect(b"alive-9", timeout=20)
            self.assertNotIn(b"slept-5", shown)
            self.assertIsNone(t.proc.poll())
            t.prompt()
            t.type("exit 3\r")
            self.assertEqual(t.proc.wait(timeout=30), 3)
            self.assertEqual(termios.tcgetattr(t.slave), t.before)
        finally:
            t.close()

    # ------------------------------------------------------------------ the older protocol
    def test_v4_server(self):
        cluster.skip_unless_fake(self, "an API server that speaks only exec v4 (Kubernetes before 1.30)")
        cluster.request("POST", "/fake/v1/settings", {"execV5": 0})
        try:
            r = self.shell("--", "sh", "-c", "echo four; exit 9")
            self.assertExit(r, 9)
            self.assertEqual(r.out, "four\n")
        finally:
            cluster.request("POST", "/fake/v1/settings", {"execV5": 1})
