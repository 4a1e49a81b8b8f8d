#!/usr/bin/python3
"""wb logs / wb cp-files against kubectl and the raw streams, on one fake API server.

  logs:  wb logs APP --replica POD  vs  kubectl logs POD  vs  curl of GET .../pods/POD/log  (lines/s)
  copy:  wb cp-files APP:/app/big.bin  vs  kubectl cp  vs  kubectl exec -- cat (the raw exec stream)
         (MB/s and peak RSS from /usr/bin/time -v)

Usage: bench/logs_cp/run.sh [--lines N] [--mib N] [--runs N]   (WB_BIN picks the binary)
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "harness"))
from wbtest import FakeCluster  # noqa: E402

WB = os.environ.get("WB_BIN") or os.path.join(SRC, "build", "default", "cli", "wb")
IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64


def timed(cmd, stdout=subprocess.DEVNULL):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS in MiB)."""
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    secs = time.time() - t0
    if p.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(cmd), p.stderr[-2000:]))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return secs, int(m.group(1)) / 1024 if m else 0.0


def best(runs, cmd, **kw):
    results = [timed(cmd, **kw) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200000)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    cluster = FakeCluster()
    home = tempfile.mkdtemp(prefix="wb-bench-")
    env = dict(os.environ, HOME=home)
    os.environ["HOME"] = home
    try:
        ns = "bench"
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        cluster.request("POST", "/fake/v1/settings", {"readinessDelay": 0.1})
        wb = [WB, "--kubeconfig", cluster.kubeconfig, "-w", ns]
        subprocess.run(wb + ["app", "create", "orders", "--replicas", "1"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        cluster.request("PATCH", "/apis/apps/v1/namespaces/%s/deployments/orders" % ns,
                        {"spec": {"template": {"spec": {"containers": [{"name": "orders", "image": IMAGE}]}}}},
                        content_type="application/strategic-merge-patch+json")
        subprocess.run(wb + ["app", "start", "orders"], check=True, env=env, stdout=subprocess.DEVNULL)
        _, pods = cluster.request("GET", "/api/v1/namespaces/%s/pods" % ns)
        pod = pods["items"][0]["metadata"]["name"]
        kubectl = ["kubectl", "--kubeconfig", cluster.kubeconfig, "-n", ns]

        # ---------------------------------------------------------------- logs
        line = "2024-05-01 10:00:00.000 INFO  [main] com.example.orders.OrderService - order %08d accepted\n"
        batch = 20000
        for start in range(0, a.lines, batch):
            cluster.request("POST", "/fake/v1/namespaces/%s/pods/%s/log" % (ns, pod),
                            "".join(line % i for i in range(start, min(a.lines, start + batch))),
                            content_type="text/plain")
        total = a.lines + 2  # the container's own start lines
        raw_url = "%s/api/v1/namespaces/%s/pods/%s/log" % (cluster.server, ns, pod)
        print("logs: %d lines of ~%d bytes, best of %d" % (total, len(line), a.runs))
        curl = ["curl", "-sS", "--fail", "--cacert", cluster.ca, "-H", "Authorization: Bearer " + cluster.admin_token]
        rows = [("curl (raw stream)", curl + [raw_url]),
                # wb asks for timestamps (to resume a broken stream); the server's cost of that:
                ("curl (timestamps)", curl + [raw_url + "?timestamps=true"]),
                ("kubectl logs", kubectl + ["logs", pod]),
                ("wb logs", wb + ["logs", "orders", "--replica", pod])]
        for name, cmd in rows:
            secs, rss = best(a.runs, cmd)
            print("  %-20s %8.2f s  %10.0f lines/s  peak RSS %6.1f MiB" % (name, secs, total / secs, rss))

        # ---------------------------------------------------------------- copy
        _, body = cluster.request("GET", "/fake/v1/namespaces/%s/pods/%s/root" % (ns, pod))
        big = os.path.join(body["path"], "app", "big.bin")
        block = os.urandom(1 << 20)
        with open(big, "wb") as f:
            for i in range(a.mib):
                f.write(block[i % 13:] + block[:i % 13])
        out = os.path.join(home, "out")
        os.makedirs(out)
        print("copy: one file of %d MiB out of the container, best of %d" % (a.mib, a.runs))
        with open(os.devnull, "wb") as devnull:
            rows = [("exec cat (raw)", kubectl + ["exec", pod, "--", "cat", "/app/big.bin"], devnull),
                    ("kubectl cp", kubectl + ["cp", "%s:/app/big.bin" % pod, os.path.join(out, "k.bin")], None),
                    ("wb cp-files", wb + ["cp-files", "orders:/app/big.bin", os.path.join(out, "w.bin")], None)]
            for name, cmd, so in rows:
                secs, rss = best(a.runs, cmd, stdout=so or subprocess.DEVNULL)
                print("  %-20s %8.2f s  %8.1f MB/s  peak RSS %6.1f MiB" % (name, secs, a.mib * 1.048576 / secs, rss))
        up = os.path.join(out, "w.bin")
        secs, rss = best(a.runs, wb + ["cp-files", up, "orders:/tmp/up.bin"])
        print("  %-20s %8.2f s  %8.1f MB/s  peak RSS %6.1f MiB" % ("wb cp-files (upload)", secs,
                                                                    a.mib * 1.048576 / secs, rss))
        secs, rss = best(a.runs, kubectl + ["cp", up, "%s:/tmp/k.bin" % pod])
        print("  %-20s %8.2f s  %8.1f MB/s  peak RSS %6.1f MiB" % ("kubectl cp (upload)", secs,
                                                                    a.mib * 1.048576 / secs, rss))
        sums = set()
        for p in (big, up, os.path.join(out, "k.bin"), os.path.join(body["path"], "tmp", "up.bin")):
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            sums.add(h.hexdigest())
        print("  checksums agree: %s" % (len(sums) == 1))
    finally:
        cluster.stop()
        subprocess.run(["rm", "-rf", home])


if __name__ == "__main__":
    main()
