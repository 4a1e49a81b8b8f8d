#!/usr/bin/python3
"""wb logs / wb cp-files against kubectl and the raw streams, on one fake API server.

  logs:  wb logs APP --replica POD  vs  kubectl logs POD  vs  curl of GET .../pods/POD/log  (lines/s)
  copy:  wb cp-files APP:/app/big.bin  vs  kubectl cp  vs  kubectl exec -- cat (the raw exec stream)
         (MB/s and peak RSS from /usr/bin/time -v)

Usage: bench/logs_cp/run.sh [--lines N] [--mib N] [--runs N]   (WB_BIN picks the binary)

Each round runs every contender once, round after round, and the report gives the median (and
the best) of each with its speed relative to the raw stream and to kubectl measured in the same
rounds: on a shared machine the absolute numbers move, the ratios much less.
"""
import argparse
import hashlib
import json
import os
import re
import statistics
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
              % (name, med, best_s, unit_total / med, unit, rss, ratios))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=500000)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=7)
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
        print("logs: %d lines of ~%d bytes, %d interleaved rounds" % (total, len(line), a.runs))
        curl = ["curl", "-sS", "--fail", "--cacert", cluster.ca, "-H", "Authorization: Bearer " + cluster.admin_token]
        rows = [("curl (raw stream)", curl + [raw_url], None),
                ("kubectl logs", kubectl + ["logs", pod], None),
                ("wb logs", wb + ["logs", "orders", "--replica", pod], None),
                ("curl (timestamps)", curl + [raw_url + "?timestamps=true"], None),
                ("wb logs --timestamps", wb + ["logs", "orders", "--replica", pod, "--timestamps"], None)]
        report(interleaved(a.runs, rows), total, "lines/s", ["curl (raw stream)", "kubectl logs"])

        # ---------------------------------------------------------------- copy
        _, body = cluster.request("GET", "/fake/v1/namespaces/%s/pods/%s/root" % (ns, pod))
        big = os.path.join(body["path"], "app", "big.bin")
        block = os.urandom(1 << 20)
        with open(big, "wb") as f:
            for i in range(a.mib):
                f.write(block[i % 13:] + block[:i % 13])
        out = os.path.join(home, "out")
        os.makedirs(out)
        up = os.path.join(out, "up-src.bin")
        with open(up, "wb") as f:
            for i in range(a.mib):
                f.write(block[i % 13:] + block[:i % 13])
        mb = a.mib * 1.048576
        print("copy: one file of %d MiB out of the container, %d interleaved rounds" % (a.mib, a.runs))
        rows = [("exec cat (raw)", kubectl + ["exec", pod, "--", "cat", "/app/big.bin"], os.path.join(out, "r.bin")),
                ("kubectl cp", kubectl + ["cp", "%s:/app/big.bin" % pod, os.path.join(out, "k.bin")], None),
                ("wb cp-files", wb + ["cp-files", "orders:/app/big.bin", os.path.join(out, "w.bin")], None)]
        report(interleaved(a.runs, rows), mb, "MB/s", ["exec cat (raw)", "kubectl cp"])
        print("copy: the same file into the container, %d interleaved rounds" % a.runs)
        raw_in = "%s exec -i %s -- sh -c 'cat > /tmp/raw.bin' < %s" % (" ".join(kubectl), pod, up)
        rows = [("exec -i cat (raw)", ["sh", "-c", raw_in], None),
                ("kubectl cp (upload)", kubectl + ["cp", up, "%s:/tmp/k.bin" % pod], None),
                ("wb cp-files (upload)", wb + ["cp-files", up, "orders:/tmp/up.bin"], None)]
        report(interleaved(a.runs, rows), mb, "MB/s", ["exec -i cat (raw)", "kubectl cp (upload)"])
        sums = set()
        for p in (big, up, os.path.join(out, "k.bin"), os.path.join(out, "w.bin"), os.path.join(out, "r.bin"),
                  os.path.join(body["path"], "tmp", "up.bin"), os.path.join(body["path"], "tmp", "k.bin"),
                  os.path.join(body["path"], "tmp", "raw.bin")):
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
