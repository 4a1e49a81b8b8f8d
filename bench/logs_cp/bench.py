#!/usr/bin/python3
"""wb logs / wb cp-files against kubectl and the raw streams, on the fake API server or a real cluster.

  logs:  wb logs APP --replica POD  vs  kubectl logs POD  vs  curl of GET .../pods/POD/log  (lines/s)
  copy:  wb cp-files APP:/app/big.bin  vs  kubectl cp  vs  kubectl exec -- cat (the raw exec stream),
         and back in: wb cp-files vs kubectl cp vs kubectl exec -i -- sh -c 'cat > F'
         (MB/s and peak RSS from /usr/bin/time -v)

Usage: bench/logs_cp/run.sh [--real] [--lines N] [--mib N] [--runs N] [--only logs,out,in]
       (WB_BIN picks the binary)

--real: a real cluster instead of the fake: KUBECONFIG (admin) and K8S_REGISTRY (plain HTTP, which
the nodes pull from), as ../shared/k8s's up.sh exports them. The test images are pushed there
(tests/harness real_images()); logs come from a busybox app that prints the lines and sleeps, the
copies go to and from an app on the test server's image (Debian: GNU tar, coreutils). The namespace
is deleted at the end.

Each round runs every contender once, round after round, and the report gives the median (and
the best) of each with its speed relative to the raw stream and to kubectl measured in the same
rounds: on a shared machine the absolute numbers move, the ratios much less.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
REAL = "--real" in sys.argv
if REAL:
    # The harness reads its mode from the environment when it is imported.
    os.environ["WB_TEST_KUBECONFIG"] = os.environ.get("KUBECONFIG", "")
    os.environ["WB_TEST_REGISTRY"] = os.environ.get("K8S_REGISTRY", "")
    os.environ.setdefault("WB_TEST_RUN_ID", "bench")
    if not os.environ["WB_TEST_KUBECONFIG"] or not os.environ["WB_TEST_REGISTRY"]:
        raise SystemExit("--real needs KUBECONFIG (an admin kubeconfig) and K8S_REGISTRY (host:port, plain HTTP): "
                         "eval \"$(sudo ../shared/k8s/up.sh)\" exports both")
sys.path.insert(0, os.path.join(SRC, "tests", "harness"))
from wbtest import FakeCluster, file_sha256, real_images  # noqa: E402

WB = os.path.abspath(os.environ.get("WB_BIN") or os.path.join(SRC, "build", "default", "cli", "wb"))
IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64
LINE = "2024-05-01 10:00:00.000 INFO  [main] com.example.orders.OrderService - order %08d accepted\n"


def timed(cmd, stdout=subprocess.DEVNULL):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS in MiB)."""
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    secs = time.time() - t0
    if p.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(cmd), p.stderr[-2000:]))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return secs, int(m.group(1)) / 1024 if m else 0.0


def interleaved(runs, rows):
    """Runs every row once per round, round after round (so a busy moment of a shared machine
    hits all of them alike); returns {name: (median s, best s, peak RSS MiB)}."""
    times = {name: [] for name, *_ in rows}
    rss = {name: 0.0 for name, *_ in rows}
    for _ in range(runs):
        for name, cmd, stdout_path in rows:
            if stdout_path:
                with open(stdout_path, "wb") as so:
                    secs, r = timed(cmd, stdout=so)
            else:
                secs, r = timed(cmd)
            times[name].append(secs)
            rss[name] = max(rss[name], r)
    return {n: (statistics.median(t), min(t), rss[n]) for n, t in times.items()}


def report(results, unit_total, unit, ref_names):
    for name, (med, best_s, rss) in results.items():
        # speed relative to a reference = its time / this time (1.00x = as fast)
        ratios = "  ".join("%.2fx %s" % (results[r][0] / med, r) for r in ref_names if r != name)
        print("  %-22s median %6.2f s  best %6.2f s  %10.1f %s  peak RSS %6.1f MiB   speed vs: %s"
              % (name, med, best_s, unit_total / med, unit, rss, ratios), flush=True)


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Fake:
    """One fake API server (tests/fakekube, needs root for its exec), one replica of app orders;
    the pod's files are a directory on this machine."""

    def __init__(self, cluster, home):
        self.cluster = cluster
        self.home = home
        self.ns = "bench"
        self.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}})
        self.cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
        self.create_app("orders", IMAGE)
        self.copy_app, self.copy_pod = "orders", self.pod_of("orders")
        self.logs_app, self.logs_pod = self.copy_app, self.copy_pod
        _, body = self.cluster.request("GET", "/fake/v1/namespaces/%s/pods/%s/root" % (self.ns, self.copy_pod))
        self.root = body["path"]

    def wb(self):
        return [WB, "--kubeconfig", self.cluster.kubeconfig, "-w", self.ns]

    def kubectl(self):
        return ["kubectl", "--kubeconfig", self.cluster.kubeconfig, "-n", self.ns]

    def create_app(self, app, image, command=None):
        env = dict(os.environ, HOME=self.home)
        subprocess.run(self.wb() + ["app", "create", app, "--replicas", "1"], check=True, env=env, cwd=self.home,
                       stdout=subprocess.DEVNULL)
        container = {"name": app, "image": image}
        if command:
            container["command"] = command
        status, body = self.cluster.request(
            "PATCH", "/apis/apps/v1/namespaces/%s/deployments/%s" % (self.ns, app),
            {"spec": {"template": {"spec": {"containers": [container]}}}},
            content_type="application/strategic-merge-patch+json")
        assert status == 200, body
        subprocess.run(self.wb() + ["app", "start", app, "--no-wait"], check=True, env=env, cwd=self.home,
                       stdout=subprocess.DEVNULL)

    def pod_of(self, app):
        return self.cluster.wait_ready(self.ns, "app.kubernetes.io/name=" + app)[0]

    def fill_log(self, lines):
        batch = 20000
        for start in range(0, lines, batch):
            self.cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/log" % (self.ns, self.logs_pod),
                                 "".join(LINE % i for i in range(start, min(lines, start + batch))),
                                 content_type="text/plain")
        return lines + 2  # the container's own start lines

    def put(self, local, remote):
        subprocess.run(["cp", local, os.path.join(self.root, remote.lstrip("/"))], check=True)

    def sha256(self, remote):
        return file_sha256(os.path.join(self.root, remote.lstrip("/")))


class Real(Fake):
    """A real cluster (KUBECONFIG): logs from a busybox app that prints them and sleeps, copies
    with an app on the test server's image (Debian). Files go in and are checked with kubectl exec."""

    def __init__(self, cluster, home, lines):
        self.cluster = cluster
        self.home = home
        self.ns = self.cluster.namespace("bench")
        images = real_images()
        self.copy_app, self.logs_app = "orders", "talker"
        self.create_app(self.copy_app, images["server"])
        # httpd answers the readiness probe (as the image's own command does).
        script = ("httpd -p 8080 -h /www; seq %d | sed 's/^/%s/; s/$/ accepted/'; exec sleep 100000"
                  % (lines, LINE.split("%")[0]))
        self.create_app(self.logs_app, images["busybox"], ["sh", "-c", script])
        self.copy_pod, self.logs_pod = self.pod_of(self.copy_app), self.pod_of(self.logs_app)

    def fill_log(self, lines):
        deadline = time.time() + 120
        while time.time() < deadline:  # the lines are printed by the container as it starts
            p = subprocess.run(self.kubectl() + ["logs", "--tail=1", self.logs_pod], capture_output=True, text=True)
            if p.stdout.startswith(LINE.split("%")[0]) and p.stdout.split()[-2] == str(lines):
                return lines
            time.sleep(0.5)
        raise SystemExit("%s did not print %d lines in 2 minutes" % (self.logs_pod, lines))

    def sh(self, script, stdin=subprocess.DEVNULL):
        p = subprocess.run(self.kubectl() + ["exec", "-i", self.copy_pod, "-c", self.copy_app, "--", "sh", "-c",
                                             script + "; exit $?"], stdin=stdin, capture_output=True)
        if p.returncode != 0:
            raise SystemExit("kubectl exec failed: %s" % p.stderr.decode(errors="replace"))
        return p.stdout.decode()

    def put(self, local, remote):
        with open(local, "rb") as f:
            self.sh("cat > %s" % remote, stdin=f)

    def sha256(self, remote):
        return self.sh("sha256sum %s" % remote).split()[0]


def bench_logs(c, a):
    total = c.fill_log(a.lines)
    raw_url = "%s/api/v1/namespaces/%s/pods/%s/log" % (c.cluster.server, c.ns, c.logs_pod)
    print("logs: %d lines of ~%d bytes, %d interleaved rounds (load %s)" % (total, len(LINE), a.runs, load()))
    curl = ["curl", "-sS", "--fail", "--cacert", c.cluster.ca, "-H", "Authorization: Bearer " + c.cluster.admin_token]
    wb_logs = c.wb() + ["logs", c.logs_app, "--replica", c.logs_pod]
    rows = [("curl (raw stream)", curl + [raw_url], None),
            ("kubectl logs", c.kubectl() + ["logs", c.logs_pod], None),
            ("wb logs", wb_logs, None),
            ("curl (timestamps)", curl + [raw_url + "?timestamps=true"], None),
            ("wb logs --timestamps", wb_logs + ["--timestamps"], None)]
    report(interleaved(a.runs, rows), total, "lines/s", ["curl (raw stream)", "kubectl logs"])


def bench_copy(c, a, out, src, sections):
    mb = a.mib * 1.048576
    kubectl, wb, pod = c.kubectl(), c.wb(), c.copy_pod
    in_pod = ["-c", c.copy_app] if REAL else []
    sums = {"local": file_sha256(src)}
    if "out" in sections:
        c.put(src, "/app/big.bin")
        print("copy: one file of %d MiB out of the container, %d interleaved rounds (load %s)"
              % (a.mib, a.runs, load()))
        rows = [("exec cat (raw)", kubectl + ["exec", pod] + in_pod + ["--", "cat", "/app/big.bin"],
                 os.path.join(out, "r.bin")),
                ("kubectl cp", kubectl + ["cp"] + in_pod + ["%s:/app/big.bin" % pod, os.path.join(out, "k.bin")], None),
                ("wb cp-files", wb + ["cp-files", "%s:/app/big.bin" % c.copy_app, os.path.join(out, "w.bin")], None)]
        report(interleaved(a.runs, rows), mb, "MB/s", ["exec cat (raw)", "kubectl cp"])
        for name in ("r.bin", "k.bin", "w.bin"):
            sums["out " + name] = file_sha256(os.path.join(out, name))
    if "in" in sections:
        print("copy: the same file into the container, %d interleaved rounds (load %s)" % (a.runs, load()))
        raw_in = "%s exec -i %s %s -- sh -c 'cat > /tmp/raw.bin; exit $?' < %s" % (
            " ".join(kubectl), pod, " ".join(in_pod), src)
        rows = [("exec -i cat (raw)", ["sh", "-c", raw_in], None),
                ("kubectl cp (upload)", kubectl + ["cp"] + in_pod + [src, "%s:/tmp/k.bin" % pod], None),
                ("wb cp-files (upload)", wb + ["cp-files", src, "%s:/tmp/up.bin" % c.copy_app], None)]
        report(interleaved(a.runs, rows), mb, "MB/s", ["exec -i cat (raw)", "kubectl cp (upload)"])
        for name in ("raw.bin", "k.bin", "up.bin"):
            sums["in " + name] = c.sha256("/tmp/" + name)
    print("  checksums agree: %s (load %s)" % (len(set(sums.values())) == 1, load()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", action="store_true", help="a real cluster: KUBECONFIG and K8S_REGISTRY")
    ap.add_argument("--lines", type=int, help="log lines (default 500000; 100000 on a real cluster, whose "
                    "kubelet rotates a container's log at 10 MiB)")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", default="logs,out,in", help="sections to run, of logs,out,in")
    a = ap.parse_args()
    a.lines = a.lines or (100000 if a.real else 500000)
    sections = set(a.only.split(","))
    home = tempfile.mkdtemp(prefix="wb-bench-")
    os.environ["HOME"] = home
    cluster = FakeCluster()
    try:
        c = Real(cluster, home, a.lines) if a.real else Fake(cluster, home)
        print("%s, wb %s, kubectl %s" % ("real cluster " + c.cluster.server if a.real else "fake API server", WB,
                                         subprocess.run(["kubectl", "version", "--client", "-o", "yaml"],
                                                        capture_output=True, text=True).stdout.split(
                                             "gitVersion: ")[-1].split()[0]))
        if "logs" in sections:
            bench_logs(c, a)
        if sections & {"out", "in"}:
            out = os.path.join(home, "out")
            os.makedirs(out)
            src = os.path.join(out, "up-src.bin")
            block = os.urandom(1 << 20)
            with open(src, "wb") as f:
                for i in range(a.mib):
                    f.write(block[i % 13:] + block[:i % 13])
            bench_copy(c, a, out, src, sections)
    finally:
        cluster.stop()
        subprocess.run(["rm", "-rf", home])


if __name__ == "__main__":
    main()
