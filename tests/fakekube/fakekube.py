#!/usr/bin/python3
"""A fake Kubernetes API server for wb's test suite.

    fakekube.py --dir DIR [--port 0] [--k8s-version 1.32|1.18] [--tokens FILE] [--kubesphere]
    fakekube.py issue-cert --dir DIR --user NAME [--group G]... --out PREFIX

See README.md next to this file.
"""
import argparse
import asyncio
import base64
import csv
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _run(args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _serial():
    return "0x" + secrets.token_hex(16)


def ensure_certs(d):
    os.makedirs(d, exist_ok=True)
    ca_crt, ca_key = os.path.join(d, "ca.crt"), os.path.join(d, "ca.key")
    if not (os.path.exists(ca_crt) and os.path.exists(ca_key)):
        _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "3650", "-subj", "/CN=fakekube-ca",
              "-set_serial", _serial(),
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"])
    srv_crt, srv_key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
    if not (os.path.exists(srv_crt) and os.path.exists(srv_key)):
        with tempfile.TemporaryDirectory() as td:
            csr = os.path.join(td, "s.csr")
            ext = os.path.join(td, "ext.cnf")
            with open(ext, "w") as f:
                f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                        "extendedKeyUsage=serverAuth\n"
                        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,"
                        "DNS:kubernetes.default,DNS:kubernetes.default.svc\n")
            _run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", srv_key, "-out", csr, "-subj", "/CN=kube-apiserver"])
            _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-set_serial",
                  _serial(), "-days", "3650", "-out", srv_crt, "-extfile", ext])
    client_ca = os.path.join(d, "client-ca.crt")
    if not os.path.exists(client_ca):
        with open(ca_crt) as src, open(client_ca, "w") as dst:
            dst.write(src.read())
    return ca_crt, ca_key, srv_crt, srv_key, client_ca


def issue_cert(d, user, groups, out):
    ca_crt, ca_key, _, _, _ = ensure_certs(d)
    subj = "/" + "/".join([f"O={g}" for g in groups] + [f"CN={user}"])
    with tempfile.TemporaryDirectory() as td:
        csr = os.path.join(td, "c.csr")
        ext = os.path.join(td, "ext.cnf")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=clientAuth\n")
        _run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-keyout", out + ".key", "-out", csr, "-subj", subj])
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-set_serial", _serial(),
              "-days", "3650", "-out", out + ".crt", "-extfile", ext])


def load_tokens(path):
    from rbac import User
    out = {}
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if not row or row[0].strip().startswith("#"):
                continue
            tok = row[0].strip()
            user = row[1].strip() if len(row) > 1 else ""
            uid = row[2].strip() if len(row) > 2 else ""
            groups = [g.strip() for g in row[3].split(",") if g.strip()] if len(row) > 3 else []
            if tok and user:
                out[tok] = User(user, groups, uid=uid)
    return out


def write_kubeconfig(d, port, ca_crt, token):
    ca = base64.b64encode(open(ca_crt, "rb").read()).decode()
    kc = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "fake", "cluster": {"server": f"https://127.0.0.1:{port}",
                                                  "certificate-authority-data": ca}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "admin", "namespace": "default"}}],
        "current-context": "fake",
    }
    import yaml
    path = os.path.join(d, "kubeconfig")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        yaml.safe_dump(kc, f, default_flow_style=False, sort_keys=False)
    os.replace(tmp, path)
    return path


async def serve(args):
    from aiohttp import web

    from api import Server
    from rbac import User

    d = os.path.abspath(args.dir)
    ca_crt, ca_key, srv_crt, srv_key, client_ca = ensure_certs(d)
    tokens = load_tokens(args.tokens) if args.tokens else {}
    tok_path = os.path.join(d, "admin.token")
    if os.path.exists(tok_path):
        admin_token = open(tok_path).read().strip()
    else:
        admin_token = "admin-" + secrets.token_hex(16)
        with open(tok_path, "w") as f:
            f.write(admin_token + "\n")
    tokens[admin_token] = User("admin", ["system:masters"], uid="admin-uid")
    os.makedirs(os.path.join(d, "pods"), exist_ok=True)
    server = Server(d, args.k8s_version, tokens, ca_path=ca_crt, kubesphere=args.kubesphere)
    server.admin_token = admin_token

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(srv_crt, srv_key)
    ctx.load_verify_locations(client_ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])

    app = web.Application(middlewares=[server.middleware], client_max_size=1 << 30)
    server.route(app)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, ssl_context=ctx, backlog=512)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    kc = write_kubeconfig(d, port, ca_crt, admin_token)
    ctl_task = asyncio.get_event_loop().create_task(server.ctl.run())
    print("READY " + json.dumps({"port": port, "ca": ca_crt, "kubeconfig": kc, "admin_token": admin_token}),
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    ctl_task.cancel()
    for rt in list(server.ctl.pods.values()):
        if rt.task:
            rt.task.cancel()
    await runner.cleanup()


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "issue-cert":
        p = argparse.ArgumentParser(prog="fakekube.py issue-cert")
        p.add_argument("--dir", required=True)
        p.add_argument("--user", required=True)
        p.add_argument("--group", action="append", default=[])
        p.add_argument("--out", required=True)
        a = p.parse_args(argv[1:])
        issue_cert(os.path.abspath(a.dir), a.user, a.group, a.out)
        return 0
    p = argparse.ArgumentParser(prog="fakekube.py")
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--k8s-version", default="1.32", choices=["1.32", "1.18"])
    p.add_argument("--tokens")
    p.add_argument("--kubesphere", action="store_true",
                   help="also serve KubeSphere's tenant.kubesphere.io/v1alpha2 workspacetemplates")
    a = p.parse_args(argv)
    try:
        asyncio.run(serve(a))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
