#!/usr/bin/env python3
"""Times `wb push jar` against buildah and the local limit on one ~80 MB Spring-Boot-shaped jar,
pushing to a local docker-registry over loopback, with each tool's peak RSS. Not a test: it prints
tables (medians of --runs runs) and checks the issue's targets, exiting 0 either way.

  bench.py --wb WB --work DIR [--runs N] [--mb MB] [--jre LAYOUT] [--rss-mb 10,300,1000]

Two cases, each run into a fresh, empty registry:
  scratch     an empty base (--base scratch, buildah from scratch): only the jar's bytes move
  jre         FROM a JRE base (an OCI layout, --jre; skipped without one) that is already in the
              registry, in another repository: wb mounts its layers, buildah pulls it first
Steps of a case:
  wb cold     wb push jar, empty layer cache, new repository
  wb warm     the same push again (cache filled, registry has every layer)
  wb 1-class  the jar with one class changed, pushed after the cold push
  buildah     from the base, copy the jar, config, commit, push (when buildah is installed)
  limit       sha256sum of the jar, plus a one-blob upload of the jar (curl: POST, then PUT with the
              digest): hashing and moving the jar's bytes once
--rss-mb pushes jars of those sizes cold (scratch base) and prints wb's time and peak RSS for each.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TIME = "/usr/bin/time"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, env=None, stdin=None):
    """Runs cmd; (seconds, stdout, peak RSS in KB)."""
    with tempfile.NamedTemporaryFile(mode="r") as rss:
        t0 = time.perf_counter()
        p = subprocess.run([TIME, "-f", "%M", "-o", rss.name] + cmd, env=env, stdin=stdin, capture_output=True,
                           text=True)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit("failed (%d): %s\n%s" % (p.returncode, cmd, (p.stderr or "")[-2000:]))
        lines = [l for l in rss.read().split("\n") if l.strip().isdigit()]
        return dt, p.stdout, int(lines[-1]) if lines else 0


class LocalRegistry:
    def __init__(self, work):
        self.dir = os.path.join(work, "registry")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s/data}}\n"
                    "http: {addr: %s}\n" % (self.dir, self.host))
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("docker-registry did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def limit(reg, jar, repo):
    """sha256sum of the jar, then a monolithic upload of it: (seconds of both)."""
    dt_hash, out, _ = run(["sha256sum", jar])
    digest = "sha256:" + out.split()[0]
    t0 = time.perf_counter()
    head = subprocess.run(["curl", "-sf", "-D", "-", "-o", "/dev/null", "-X", "POST",
                           "http://%s/v2/%s/blobs/uploads/" % (reg.host, repo)], capture_output=True, text=True)
    loc = [l.split(":", 1)[1].strip() for l in head.stdout.splitlines() if l.lower().startswith("location:")][0]
    url = loc if loc.startswith("http") else "http://%s%s" % (reg.host, loc)
    url += ("&" if "?" in url else "?") + "digest=" + digest
    put = subprocess.run(["curl", "-sf", "-o", "/dev/null", "-X", "PUT", "-H", "Content-Type: application/octet-stream",
                          "--data-binary", "@" + jar, url])
    if put.returncode != 0:
        raise SystemExit("the one-blob upload failed")
    return dt_hash + time.perf_counter() - t0


def buildah_push(buildah, work, base, jar, dest, tag, env):
    """FROM base, COPY the jar, commit, push: (seconds, peak RSS KB of its steps)."""
    root = os.path.join(work, "buildah-" + tag)
    b = [buildah, "--root", root + "/root", "--runroot", root + "/run", "--storage-driver", "vfs"]
    benv = dict(env, BUILDAH_ISOLATION="chroot", STORAGE_DRIVER="vfs")
    total, peak = 0.0, 0
    src = "scratch" if base == "scratch" else "docker://" + base
    dt, ctr, rss = run(b + ["from", "--tls-verify=false", "-q", src], env=benv)
    total, peak = total + dt, max(peak, rss)
    ctr = ctr.strip().splitlines()[-1]
    for step in (["copy", ctr, jar, "/app/app.jar"],
                 ["config", "--entrypoint", '["java","-jar","/app/app.jar"]', "--workingdir", "/app", ctr],
                 ["commit", "-q", ctr, "bench-" + tag],
                 ["push", "-q", "--tls-verify=false", "bench-" + tag, "docker://" + dest]):
        dt, _, rss = run(b + step, env=benv)
        total, peak = total + dt, max(peak, rss)
    subprocess.run(["rm", "-rf", root])
    return total, peak


def one_case(args, case, jar, jar2, jar_size, buildah):
    """Runs one case --runs times: {step: [(seconds, rss KB)]}, one-class bytes."""
    work = os.path.abspath(args.work)
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.path.join(work, "home")}
    os.makedirs(base_env["HOME"], exist_ok=True)
    results = {k: [] for k in ("wb cold", "wb warm", "wb 1-class", "buildah", "limit")}
    one_class_bytes = []
    for i in range(args.runs):
        reg = LocalRegistry(work)  # empty: no tool finds or mounts blobs of an earlier run
        try:
            base = "scratch"
            if case == "jre":
                base = "%s/base/jre:17" % reg.host
                subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", "oci:%s:17" % args.jre,
                                "docker://" + base], check=True)
            tag = "r%d-%d" % (i, int(time.time() * 1000) % 100000)
            cache = os.path.join(work, "cache-" + tag)
            env = dict(base_env, XDG_CACHE_HOME=cache)
            push = [args.wb, "push", "jar", "--base", base, "--no-deploy", "-o", "json",
                    "--to", "%s/bench/wb-%s" % (reg.host, tag)]
            dt, _, rss = run(push + [jar], env=env)
            results["wb cold"].append((dt, rss))
            dt, _, rss = run(push + [jar], env=env)
            results["wb warm"].append((dt, rss))
            dt, out, rss = run(push + [jar2, "--tag", "v2"], env=env)
            results["wb 1-class"].append((dt, rss))
            one_class_bytes.append(sum(l["size"] for l in json.loads(out)["layers"] if l["fate"] == "uploaded"))
            shutil.rmtree(cache, ignore_errors=True)
            results["limit"].append((limit(reg, jar, "bench/limit-" + tag), 0))
            if buildah:
                results["buildah"].append(buildah_push(buildah, work, base, jar,
                                                       "%s/bench/buildah-%s:bench" % (reg.host, tag), tag, base_env))
        finally:
            reg.stop()
    return results, one_class_bytes


def report(case, results, one_class_bytes, jar_size):
    med = lambda k: statistics.median(x[0] for x in results[k]) if results[k] else None
    lim = med("limit")
    print("\n### %s base\n" % case)
    print("| step | median s | vs limit | peak RSS MB | runs (s) |")
    print("|---|---:|---:|---:|---|")
    for name, xs in results.items():
        if not xs:
            continue
        rss = max(x[1] for x in xs) / 1024.0
        print("| %s | %.2f | %.2fx | %s | %s |" % (name, med(name), med(name) / lim, "%.0f" % rss if rss else "",
                                                 " ".join("%.2f" % x[0] for x in xs)))
    cold, one = med("wb cold"), med("wb 1-class")
    ob = statistics.median(one_class_bytes)
    print("\none-class change uploads %.1f KB = %.2f%% of the jar" % (ob / 1e3, 100.0 * ob / jar_size))
    b = med("buildah")
    checks = [
        ("cold push within 2x of the limit", cold <= 2 * lim, "%.2fx" % (cold / lim)),
        ("cold push at least 5x faster than buildah", b is None or cold * 5 <= b,
         "%.2fs vs %s" % (cold, "%.2fs" % b if b else "n/a")),
        ("peak RSS <= 48 MiB", max(x[1] for k in ("wb cold", "wb warm", "wb 1-class") for x in results[k]) <= 48 * 1024,
         "%.0f MB" % (max(x[1] for x in results["wb cold"]) / 1024.0)),
        ("one-class change uploads < 5% of the jar", ob < 0.05 * jar_size, "%.2f%%" % (100.0 * ob / jar_size)),
        ("one-class change push < 0.3 s", one < 0.3, "%.2fs" % one),
    ]
    for what, ok, val in checks:
        print("%s %s (%s)" % ("PASS" if ok else "MISS", what, val))


def rss_by_size(args, here):
    work = os.path.abspath(args.work)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.path.join(work, "home")}
    print("\n### peak RSS by jar size (cold push, scratch base)\n")
    print("| jar MB | cold push s | MB/s | peak RSS MB |")
    print("|---:|---:|---:|---:|")
    for mb in [int(x) for x in args.rss_mb.split(",") if x]:
        jar = os.path.join(work, "size-%d.jar" % mb)
        if not os.path.exists(jar):
            subprocess.run([sys.executable, os.path.join(here, "make_jar.py"), jar, jar + ".v2", str(mb)], check=True)
            os.remove(jar + ".v2")
        reg = LocalRegistry(work)
        try:
            cache = os.path.join(work, "cache-size-%d" % mb)
            dt, _, rss = run([args.wb, "push", "jar", "--base", "scratch", "--no-deploy", "-o", "json",
                              "--to", "%s/bench/size-%d" % (reg.host, mb), jar], env=dict(env, XDG_CACHE_HOME=cache))
            shutil.rmtree(cache, ignore_errors=True)
        finally:
            reg.stop()
        size = os.path.getsize(jar)
        print("| %.0f | %.2f | %.0f | %.0f |" % (size / 1e6, dt, size / 1e6 / dt, rss / 1024.0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wb", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=80)
    ap.add_argument("--jre", default="", help="OCI layout holding the JRE base under the tag 17")
    ap.add_argument("--rss-mb", default="", help="jar sizes in MB to push cold, for time and peak RSS")
    args = ap.parse_args()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    jar, jar2 = os.path.join(work, "app.jar"), os.path.join(work, "app-v2.jar")
    if not (os.path.exists(jar) and os.path.exists(jar2)):
        subprocess.run([sys.executable, os.path.join(here, "make_jar.py"), jar, jar2, str(args.mb)], check=True)
    jar_size = os.path.getsize(jar)
    buildah = shutil.which("buildah")
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print("jar: %.1f MB; %d runs, medians; load average before: %s; %d CPUs" %
          (jar_size / 1e6, args.runs, " ".join(load), os.cpu_count()))
    if not buildah:
        print("note: buildah not installed (apt-get install buildah), its row is skipped")
    cases = ["scratch"] + (["jre"] if args.jre else [])
    if not args.jre:
        print("note: no --jre layout, the JRE-base case is skipped")
    for case in cases:
        results, ob = one_case(args, case, jar, jar2, jar_size, buildah)
        report(case, results, ob, jar_size)
    if args.rss_mb:
        rss_by_size(args, here)
    with open("/proc/loadavg") as f:
        print("\nload average after: %s" % " ".join(f.read().split()[:3]))


if __name__ == "__main__":
    main()
