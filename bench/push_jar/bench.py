#!/usr/bin/env python3
"""Times `wb push jar` against its peers on one ~80 MB Spring-Boot-shaped jar, pushing to a local
docker-registry over loopback. Not a test: it prints a table (medians of --runs runs, ratios to the
local limit) and checks the issue's targets, exiting 0 either way.

  bench.py --wb WB --work DIR [--runs N] [--mb MB]

What is measured, each run into a fresh repository (the registry has none of its blobs):
  wb cold     wb push jar, empty layer cache
  wb warm     the same push again (cache filled, registry has every layer)
  wb 1-class  the jar with one class changed, pushed after the cold push
  gzip -1     `gzip -1 | sha256sum` of the uncompressed layer tars wb makes (the same bytes): the
              local limit of compressing and hashing them once
  skopeo      `skopeo copy oci:DIR docker://...` of the layout wb wrote for the same jar (push only:
              its layers are compressed already)
  buildah     from scratch, copy the jar, commit, push (when buildah is installed)
All images use an empty base (--base scratch), so only the jar's bytes move.
"""
import argparse
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, env=None, stdin=None, capture=True):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdin=stdin, capture_output=capture, text=True, shell=isinstance(cmd, str))
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit("failed (%d): %s\n%s" % (p.returncode, cmd, (p.stderr or "")[-2000:]))
    return dt, p.stdout


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


def median(xs):
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wb", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=80)
    args = ap.parse_args()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    jar, jar2 = os.path.join(work, "app.jar"), os.path.join(work, "app-v2.jar")
    if not (os.path.exists(jar) and os.path.exists(jar2)):
        run([sys.executable, os.path.join(here, "make_jar.py"), jar, jar2, str(args.mb)])
    jar_size = os.path.getsize(jar)

    reg = None
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.path.join(work, "home")}
    os.makedirs(base_env["HOME"], exist_ok=True)
    results = {k: [] for k in ("wb cold", "wb warm", "wb 1-class", "gzip -1, sha256sum", "skopeo copy", "buildah")}
    one_class_bytes = []
    notes = []
    buildah = shutil.which("buildah")
    if not buildah:
        notes.append("buildah: not installed (apt-get install buildah), column skipped")
    try:
        # The same uncompressed bytes wb compresses: its layers, from an OCI layout it writes.
        layout = os.path.join(work, "layout")
        shutil.rmtree(layout, ignore_errors=True)
        run([args.wb, "push", "jar", jar, "--to", "oci:%s:bench" % layout, "--base", "scratch", "-q"],
            env=dict(base_env, XDG_CACHE_HOME=os.path.join(work, "cache-layout")))
        with open(os.path.join(layout, "index.json")) as f:
            mdigest = json.load(f)["manifests"][0]["digest"]
        with open(os.path.join(layout, "blobs", "sha256", mdigest[7:])) as f:
            manifest = json.load(f)
        raw = os.path.join(work, "layers.tar")
        compressed = 0
        with open(raw, "wb") as out:
            for layer in manifest["layers"]:
                compressed += layer["size"]
                with gzip.open(os.path.join(layout, "blobs", "sha256", layer["digest"][7:])) as g:
                    shutil.copyfileobj(g, out, 1 << 20)
        raw_size = os.path.getsize(raw)

        for i in range(args.runs):
            # A fresh, empty registry per run (on a new port): no tool finds blobs from a
            # previous run, nor mounts them thanks to a blob-info cache (skopeo, buildah keep one).
            if reg:
                reg.stop()
            reg = LocalRegistry(work)
            tag = "r%d-%d" % (i, int(time.time() * 1000) % 100000)
            cache = os.path.join(work, "cache-" + tag)
            env = dict(base_env, XDG_CACHE_HOME=cache)
            repo = "%s/bench/wb-%s" % (reg.host, tag)
            push = [args.wb, "push", "jar", "--base", "scratch", "--no-deploy", "-o", "json", "--to", repo]
            dt, _ = run(push + [jar], env=env)
            results["wb cold"].append(dt)
            dt, _ = run(push + [jar], env=env)
            results["wb warm"].append(dt)
            dt, out = run(push + [jar2, "--tag", "v2"], env=env)
            results["wb 1-class"].append(dt)
            one_class_bytes.append(sum(l["size"] for l in json.loads(out)["layers"] if l["fate"] == "uploaded"))
            shutil.rmtree(cache, ignore_errors=True)

            with open(raw, "rb") as f:
                dt, _ = run("gzip -1 | sha256sum", stdin=f)
            results["gzip -1, sha256sum"].append(dt)

            dt, _ = run(["skopeo", "copy", "-q", "--dest-tls-verify=false", "oci:%s:bench" % layout,
                         "docker://%s/bench/skopeo-%s:bench" % (reg.host, tag)])
            results["skopeo copy"].append(dt)

            if buildah:
                root = os.path.join(work, "buildah-" + tag)
                b = [buildah, "--root", root + "/root", "--runroot", root + "/run", "--storage-driver", "vfs"]
                benv = dict(base_env, BUILDAH_ISOLATION="chroot", STORAGE_DRIVER="vfs")
                t0 = time.perf_counter()
                _, ctr = run(b + ["from", "scratch"], env=benv)
                ctr = ctr.strip()
                run(b + ["copy", ctr, jar, "/app/app.jar"], env=benv)
                run(b + ["config", "--entrypoint", '["java","-jar","/app/app.jar"]', "--workingdir", "/app", ctr],
                    env=benv)
                run(b + ["commit", "-q", ctr, "bench-" + tag], env=benv)
                run(b + ["push", "-q", "--tls-verify=false", "bench-" + tag,
                         "docker://%s/bench/buildah-%s:bench" % (reg.host, tag)], env=benv)
                results["buildah"].append(time.perf_counter() - t0)
                subprocess.run(["rm", "-rf", root])
    finally:
        if reg:
            reg.stop()

    limit = median(results["gzip -1, sha256sum"])
    print()
    print("jar: %.1f MB; layers: %.1f MB uncompressed, %.1f MB gzip -1; %d runs, medians" %
          (jar_size / 1e6, raw_size / 1e6, compressed / 1e6, args.runs))
    print()
    print("| step | median s | vs gzip -1 limit | runs (s) |")
    print("|---|---:|---:|---|")
    for name, xs in results.items():
        if not xs:
            continue
        m = median(xs)
        print("| %s | %.2f | %.2fx | %s |" % (name, m, m / limit, " ".join("%.2f" % x for x in xs)))
    print()
    cold, warm, one = median(results["wb cold"]), median(results["wb warm"]), median(results["wb 1-class"])
    ob = median(one_class_bytes)
    print("one-class change uploads %.1f KB = %.2f%% of the jar" % (ob / 1e3, 100.0 * ob / jar_size))
    checks = [
        ("cold push within 1.5x of the local limit", cold <= 1.5 * limit, "%.2fx" % (cold / limit)),
        ("cold push faster than buildah", not results["buildah"] or cold < median(results["buildah"]),
         "%.2fs vs %s" % (cold, "%.2fs" % median(results["buildah"]) if results["buildah"] else "n/a")),
        ("one-class change uploads < 5% of the jar", ob < 0.05 * jar_size, "%.2f%%" % (100.0 * ob / jar_size)),
        ("one-class change push < 0.5 s", one < 0.5, "%.2fs" % one),
    ]
    print()
    for what, ok, val in checks:
        print("%s %s (%s)" % ("PASS" if ok else "MISS", what, val))
    print("(warm push: %.2fs)" % warm)
    for n in notes:
        print("note:", n)


if __name__ == "__main__":
    main()
