#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): small inputs shaped
like the real thing, and for archives, hostile ones too (what kubectl cp's CVEs were made of).
Deterministic: running it again writes the same bytes. Files named crash-* (regression inputs a
fuzzer found) are left alone.

    python3 tests/fuzz/make_corpus.py
"""
import io
import json
import os
import pathlib
import struct
import tarfile
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
REPO = HERE.parent.parent


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


# ------------------------------------------------------------------ jars (zip)

def class_file(major):
    return b"\xca\xfe\xba\xbe" + struct.pack(">HH", 0, major) + b"\x00" * 8


def jar(entries, compression=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 6))
            info.external_attr = (0o100644 if not name.endswith("/") else 0o040755) << 16
            info.compress_type = compression
            z.writestr(info, data)
    return buf.getvalue()


PLAIN_MANIFEST = ("Manifest-Version: 1.0\r\nMain-Class: com.example.Main\r\n"
                  "Class-Path: lib/dep-1.0.jar lib/other.jar\r\nImplementation-Title: orders\r\n"
                  "Implementation-Version: 1.2.3\r\n\r\n")
BOOT_MANIFEST = ("Manifest-Version: 1.0\nMain-Class: org.springframework.boot.loader.launch.JarLauncher\n"
                 "Start-Class: com.example.OrdersApplication\nSpring-Boot-Version: 3.2.1\n"
                 "Spring-Boot-Classes: BOOT-INF/classes/\nSpring-Boot-Lib: BOOT-INF/lib/\n"
                 "Spring-Boot-Layers-Index: BOOT-INF/layers.idx\nSpring-Boot-Classpath-Index: "
                 "BOOT-INF/classpath.idx\n Continued\n\n")
LAYERS_IDX = ('- "dependencies":\n  - "BOOT-INF/lib/"\n- "spring-boot-loader":\n  - "org/"\n'
              '- "snapshot-dependencies":\n- "application":\n  - "BOOT-INF/classes/"\n'
              '  - "BOOT-INF/classpath.idx"\n  - "BOOT-INF/layers.idx"\n  - "META-INF/"\n')


def jars():
    put("jar", "plain.jar", jar([("META-INF/", b""), ("META-INF/MANIFEST.MF", PLAIN_MANIFEST),
                                 ("com/example/Main.class", class_file(61))]))
    put("jar", "stored.jar", jar([("META-INF/MANIFEST.MF", PLAIN_MANIFEST),
                                  ("com/example/Main.class", class_file(52))], zipfile.ZIP_STORED))
    put("jar", "boot.jar", jar([
        ("META-INF/MANIFEST.MF", BOOT_MANIFEST),
        ("org/springframework/boot/loader/launch/JarLauncher.class", class_file(61)),
        ("BOOT-INF/classes/com/example/OrdersApplication.class", class_file(65)),
        ("BOOT-INF/classes/application.yaml", "server:\n  port: 8080\n"),
        ("BOOT-INF/lib/dep-1.0.jar", jar([("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")])),
        ("BOOT-INF/lib/snap-1.0-SNAPSHOT.jar", b"PK\x05\x06" + b"\x00" * 18),
        ("BOOT-INF/layers.idx", LAYERS_IDX),
        ("BOOT-INF/classpath.idx", '- "BOOT-INF/lib/dep-1.0.jar"\n')]))
    put("jar", "unsafe-paths.jar", jar([("META-INF/MANIFEST.MF", PLAIN_MANIFEST), ("../evil.class", class_file(61)),
                                        ("/abs/x.class", class_file(61))]))
    put("jar", "empty-zip.jar", b"PK\x05\x06" + b"\x00" * 18)
    put("jar", "not-a-zip.jar", "hello, this is not a jar\n")


def manifests():
    put("manifest", "plain.txt", PLAIN_MANIFEST + "\n--entries--\ncom/example/Main.class\nlib/dep-1.0.jar\n")
    put("manifest", "boot-layers.txt", BOOT_MANIFEST + "\n--layers.idx--\n" + LAYERS_IDX + "\n--entries--\n"
        "org/springframework/boot/loader/launch/JarLauncher.class\nBOOT-INF/classes/com/example/A.class\n"
        "BOOT-INF/lib/dep-1.0.jar\nBOOT-INF/lib/snap-1.0-SNAPSHOT.jar\nBOOT-INF/layers.idx\n")
    put("manifest", "boot-nolayers.txt", BOOT_MANIFEST + "\n--entries--\nBOOT-INF/lib/a.jar\nBOOT-INF/lib/b.jar\n"
        "BOOT-INF/classes/x/Y.class\norg/springframework/boot/loader/Launcher.class\n")
    put("manifest", "cr-continuation.txt", "Manifest-Version: 1.0\rMain-Class: com.exa\r mple.Main\r\r")
    put("manifest", "custom-layers.txt", "Main-Class: L\nStart-Class: S\n\n--layers.idx--\n"
        '- "dependencies":\n  - "BOOT-INF/lib/"\n- "company-dependencies":\n  - "BOOT-INF/lib/acme-"\n'
        '- "application":\n')


# ------------------------------------------------------------------ tar streams

def tar_stream(members, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for m in members:
            info = tarfile.TarInfo(m["name"])
            info.mtime = 1700000000
            info.mode = m.get("mode", 0o644)
            kind = m.get("type", "file")
            data = m.get("data", b"")
            if isinstance(data, str):
                data = data.encode()
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = m.get("mode", 0o755)
                t.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = m["link"]
                t.addfile(info)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = m["link"]
                t.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                t.addfile(info)
            elif kind == "chr":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = 1, 3
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tars():
    # First byte: chunk size selector (bits 0-6) and keep_partial (bit 7).
    def put_tar(name, members, first=0x05, fmt=tarfile.GNU_FORMAT, cut=None, where="tar_extract"):
        data = tar_stream(members, fmt)
        if cut is not None:
            data = data[:cut]
        put(where, name, bytes([first]) + data)

    put_tar("plain.tar", [{"name": "logs", "type": "dir"}, {"name": "logs/app.log", "data": "line 1\nline 2\n"},
                          {"name": "logs/current", "type": "symlink", "link": "app.log"},
                          {"name": "logs/copy", "type": "hardlink", "link": "logs/app.log"}])
    put_tar("pax-long-names.tar", [{"name": "d/" + "x" * 150 + "/f.txt", "data": "long"},
                                   {"name": "d/l", "type": "symlink", "link": "y" * 120}], fmt=tarfile.PAX_FORMAT)
    put_tar("dotdot.tar", [{"name": "../escape.txt", "data": "out"}])
    put_tar("absolute.tar", [{"name": "/tmp/wb-fuzz-abs.txt", "data": "out"}])
    put_tar("symlink-out.tar", [{"name": "link", "type": "symlink", "link": "../.."},
                                {"name": "link/escape.txt", "data": "through the link"}])
    # A bug fuzzing found, fixed (see open/README.md): "b/.." is lexically inside, but b is ".", so
    # a led out.
    put_tar("crash-symlink-chain-escapes.tar", [{"name": "b", "type": "symlink", "link": "."},
                                                {"name": "a", "type": "symlink", "link": "b/.."}])
    put_tar("hardlink-out.tar", [{"name": "passwd", "type": "hardlink", "link": "/etc/passwd"},
                                 {"name": "up", "type": "hardlink", "link": "../outer-file"}])
    put_tar("replace-with-link.tar", [{"name": "f", "data": "first"}, {"name": "f", "type": "symlink", "link": "/etc"},
                                      {"name": "f/x", "data": "second"}])
    put_tar("devices.tar", [{"name": "null", "type": "chr"}, {"name": "pipe", "type": "fifo"}])
    put_tar("modes.tar", [{"name": "ro", "type": "dir", "mode": 0o500}, {"name": "ro/f", "data": "x", "mode": 0o4755}])
    put_tar("cut.tar", [{"name": "big.bin", "data": b"\x00" * 3000}], first=0x80 | 0x02, cut=1500)
    put_tar("sparse-ish.tar", [{"name": "z", "data": b"\x00" * 2048 + b"end"}], first=0x7f)


# ------------------------------------------------------------------ WebSocket frames

def ws(opcode, payload, fin=True, mask=None):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        head = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += bytes(mask)
    return head + payload


def spdy_data(stream, payload, fin=False):
    return struct.pack(">II", stream & 0x7FFFFFFF, (1 if fin else 0) << 24 | len(payload)) + payload


def spdy_control(typ, payload, version=3, flags=0):
    return struct.pack(">II", 0x80000000 | version << 16 | typ, flags << 24 | len(payload)) + payload


def spdy_exec():
    """What kube's exec server sends on a SPDY/3.1 connection (first byte: the chunk size)."""
    status_ok = b'{"metadata":{},"status":"Success"}'
    status_3 = (b'{"metadata":{},"status":"Failure","reason":"NonZeroExitCode",'
                b'"details":{"causes":[{"reason":"ExitCode","message":"3"}]}}')
    replies = b"".join(spdy_control(2, struct.pack(">I", i) + b"\x78\x01") for i in (1, 3, 5, 7))
    put("spdy_exec", "success.bin", bytes([0x0f]) + replies + spdy_data(5, b"hello\n") +
        spdy_data(5, b"", True) + spdy_data(7, b"", True) + spdy_data(1, status_ok, True) +
        spdy_control(3, struct.pack(">II", 3, 5)))
    put("spdy_exec", "exit3-split-status.bin", bytes([0x02]) + replies + spdy_data(7, b"oops\n") +
        spdy_data(1, status_3[:10]) + spdy_data(1, status_3[10:], True) + spdy_control(7, struct.pack(">II", 7, 0)))
    put("spdy_exec", "ping-settings-window.bin", bytes([0xff]) + spdy_control(6, struct.pack(">I", 2)) +
        spdy_control(4, struct.pack(">III", 1, 4, 65536)) + spdy_control(9, struct.pack(">II", 3, 65536)) +
        spdy_data(1, status_ok))
    put("spdy_exec", "wrong-version.bin", bytes([0x07]) + spdy_control(2, struct.pack(">I", 1), version=2))
    put("spdy_exec", "cut-mid-frame.bin", bytes([0x00]) + replies + struct.pack(">II", 5, 1000) + b"short")


def ws_frames():
    # First byte: bit 0 masked (server side), bits 1-7 chunk size - 1.
    put("ws_frame", "exec-v5.bin", bytes([0x0e]) + ws(2, b"\x01hello\n") + ws(2, b"\x02oops\n") +
        ws(2, b'\x03{"metadata":{},"status":"Success"}') + ws(8, struct.pack(">H", 1000)))
    put("ws_frame", "fragmented.bin", bytes([0x00]) + ws(1, b"hel", fin=False) + ws(9, b"ping") +
        ws(0, b"lo", fin=False) + ws(0, b"!", fin=True))
    put("ws_frame", "masked.bin", bytes([0x01]) + ws(2, b"\x00ls -la\n", mask=[1, 2, 3, 4]) +
        ws(8, struct.pack(">H", 1001) + b"bye", mask=[9, 9, 9, 9]))
    put("ws_frame", "len126.bin", bytes([0xfe]) + ws(2, b"\x01" + b"x" * 300))
    put("ws_frame", "len127.bin", bytes([0x20]) + bytes([0x82, 127]) + struct.pack(">Q", 1 << 40))
    put("ws_frame", "bad-close.bin", bytes([0x02]) + ws(8, b"\x03") + ws(8, struct.pack(">H", 1005)))


# ------------------------------------------------------------------ text formats

def texts():
    put("http_headers", "registry-401.txt",
        'HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n'
        'WWW-Authenticate: Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:shop/orders:pull,push"\r\nDocker-Distribution-Api-Version: registry/2.0\r\n\r\n'
        '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}')
    put("http_headers", "retry.txt", "Retry-After: 120\r\nretry-after: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        "Retry-After: Sunday, 06-Nov-94 08:49:37 GMT\r\nRetry-After: Sun Nov  6 08:49:37 1994\r\n"
        "Date: Wed, 21 Oct 2015 07:28:00 GMT\r\n")
    put("http_headers", "link-location.txt",
        'Link: </v2/shop/orders/tags/list?last=1.2&n=100>; rel="next"\r\n'
        "Location: /v2/shop/orders/blobs/uploads/6b6c?_state=abc\r\nLocation: https://other.example/up/1\r\n"
        "Location: relative/path\r\nAuthorization: Bearer secret-token\r\nCookie: a=b\r\n")
    put("http_headers", "basic-multi.txt",
        'WWW-Authenticate: Basic realm="Harbor", Bearer realm="x",error="insufficient_scope",'
        'scope="a\\"b,c"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-Token: ?token=abc&password=def\r\n")

    kubeconfig = """apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
    tls-server-name: kubernetes
- name: prod
  cluster:
    server: https://prod.example:6443
    insecure-skip-tls-verify: true
    proxy-url: http://proxy.example:3128
users:
- name: alice
  user:
    token: abc.def
- name: ci
  user:
    tokenFile: token
- name: certs
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: basic
  user:
    username: admin
    password: secret
- name: oidc
  user:
    auth-provider:
      name: oidc
contexts:
- name: dev
  context: {cluster: dev, user: alice, namespace: shop-dev}
- name: prod
  context: {cluster: prod, user: ci}
- name: certs
  context: {cluster: dev, user: certs}
- name: basic
  context: {cluster: prod, user: basic}
- name: oidc
  context: {cluster: prod, user: oidc}
"""
    put("kubeconfig", "contexts.yaml", kubeconfig)
    exec_config = """apiVersion: v1
kind: Config
current-context: eks
clusters:
- name: eks
  cluster: {server: "https://eks.example", certificate-authority: ca.crt}
users:
- name: aws
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, shop]
      env: [{name: AWS_PROFILE, value: shop}]
      interactiveMode: Never
      provideClusterInfo: true
contexts:
- name: eks
  context: {cluster: eks, user: aws}
"""
    put("kubeconfig", "exec-token.yaml", exec_config + "\n--exec--\n" + json.dumps({
        "kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1",
        "status": {"token": "k8s-aws-v1.abc", "expirationTimestamp": "2030-01-02T03:04:05Z"}}))
    put("kubeconfig", "exec-cert.yaml", exec_config.replace("v1beta1", "v1") + "\n--exec--\n" + json.dumps({
        "kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
        "status": {"clientCertificateData": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                   "clientKeyData": "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n"}}))
    put("kubeconfig", "bad-yaml.yaml", "clusters:\n- name: x\n  cluster: [unclosed\n")

    # First byte: bit 0 podman auth.json, bit 1 the helper fails.
    put("auth", "docker-auths.json", b"\x00" + json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
        "harbor.example.com": {"auth": "cm9ib3QkY2k6dG9rZW4="},
        "http://127.0.0.1:5000": {"username": "u", "password": "p"},
        "ghcr.io": {"identitytoken": "refresh"}}}, indent=1).encode())
    put("auth", "docker-helpers.json", b"\x00" + json.dumps({
        "credsStore": "desktop", "credHelpers": {"harbor.example.com": "pass", "ghcr.io": "nope!"}}).encode() +
        b"\n--helper--\n" + json.dumps({"ServerURL": "harbor.example.com", "Username": "ci",
                                        "Secret": "t0ken"}).encode())
    put("auth", "helper-not-found.json", b"\x02" + json.dumps({"credsStore": "secretservice"}).encode() +
        b"\n--helper--\ncredentials not found in native keychain\n")
    put("auth", "podman.json", b"\x01" + json.dumps({"auths": {
        "harbor.example.com/shop/orders": {"auth": "YTpi"}, "harbor.example.com": {"auth": "bm9jb2xvbg=="},
        "docker.io": {"auth": "!!!"}}}).encode())

    profile = (REPO / "examples" / "profile.yaml").read_text()
    wb_yaml = (REPO / "examples" / "wb.yaml").read_text()
    # First byte: bit 0 = wb.yaml.
    put("profile", "profile.yaml", "\x00" + profile)
    put("profile", "wb.yaml", "\x01" + wb_yaml)
    put("profile", "wb-forms.yaml", "\x01app:\n  name: orders\n  health: {path: /ready}\n  route: {host: o.example}\n"
        "  java: '21'\n  springBoot: true\n  cpu: 1.5\n  memory: 512M\ndefaults:\n  cpu: 250m\n"
        "baseImages:\n  '21': reg.example/java:21\n")
    put("profile", "typo.yaml", "\x00registry:\n  hots: x\nretention:\n  configs: 99999999999\n")

    put("yaml", "kubeconfig.yaml", kubeconfig)
    put("yaml", "profile.yaml", profile)
    put("yaml", "scalars.yaml", "a: yes\nb: 0x1f\nc: 1:30\nd: 2024-01-02\ne: .inf\nf: ~\ng: '0755'\nh: \"\\t\\u00e9\"\n"
        "i: 1e3\nj: -.5\nk: null\nl: [1, 2.5, true, Off]\nm: {x: [], y: {}}\n")
    put("yaml", "blocks.yaml", "a: |\n  line\n   indented\nb: >-\n  folded\n  text\nc: &x [1]\nd: *x\n---\n- 1\n---\n"
        "plain string\n")
    put("yaml", "bad.yaml", "a: [1, 2\nb: {\n")

    ns = "shop-prod"
    put("kube_status", "forbidden.json", b"\x07" + json.dumps({
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": f'deployments.apps "orders" is forbidden: User "alice" cannot create resource '
                   f'"deployments" in API group "apps" in the namespace "{ns}"',
        "details": {"name": "orders", "group": "apps", "kind": "deployments"}}).encode())
    put("kube_status", "admission.json", b"\x40" + json.dumps({
        "kind": "Status", "status": "Failure", "reason": "Invalid", "code": 422,
        "message": 'deployments.apps "orders" is forbidden: ValidatingAdmissionPolicy \'wb-quota\' with binding '
                   '\'wb-quota-binding\' denied request: replicas must be at most 5'}).encode())
    put("kube_status", "notfound.json", b"\x00" + json.dumps({
        "kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
        "message": 'deployments.apps "orders" not found',
        "details": {"name": "orders", "group": "apps", "kind": "deployments"}}).encode())
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orders-1", "namespace": "shop-dev",
                                                            "resourceVersion": "101"},
           "status": {"phase": "Running"}}
    events = [{"type": "ADDED", "object": pod}, {"type": "MODIFIED", "object": pod},
              {"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                              "metadata": {"resourceVersion": "205"}}},
              {"type": "DELETED", "object": pod},
              {"type": "ERROR", "object": {"kind": "Status", "status": "Failure", "reason": "Expired",
                                           "code": 410, "message": "too old resource version: 1 (205)"}}]
    put("kube_status", "watch.jsonl", b"\x10" + "".join(json.dumps(e) + "\n" for e in events).encode())
    put("kube_status", "watch-chunked.jsonl", b"\x00" + "".join(json.dumps(e) + "\n" for e in events[:2]).encode()
        + b'{"type":"MODIF')
    put("kube_status", "html.txt", b"\x03<html><body>502 Bad Gateway</body></html>")

    put("numbers", "durations.txt", "1h30m")
    for i, v in enumerate(["90s", "500ms", "1.5h", "2d", "0", "-1", "99999999999999999999", "1e3", ".5",
                           "500m", "1Gi", "512Mi", "2e3", "1.5", "+1", "0x10", "7Ei", "1n", "9223372036854775807"]):
        put("numbers", f"value-{i:02}.txt", v)

    # Documents separated by "\n--doc--\n", answered in order.
    sep = "\n--doc--\n"
    oci_manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": "sha256:" + "1" * 64, "size": 200},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": "sha256:" + "2" * 64, "size": 3000,
                                "annotations": {"org.opencontainers.image.title": "base"}}]}
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/usr/bin:/bin", "JAVA_HOME=/opt/java"], "User": "1000",
                         "Entrypoint": ["/bin/sh"], "Labels": {"a": "b"}, "ExposedPorts": {"80/tcp": {}}},
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "3" * 64]},
              "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "debootstrap"}]}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "4" * 64, "size": 500,
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "5" * 64, "size": 500,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "6" * 64, "size": 500,
         "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]}
    docker = json.loads(json.dumps(oci_manifest))
    docker["mediaType"] = "application/vnd.docker.distribution.manifest.v2+json"
    docker["config"]["mediaType"] = "application/vnd.docker.container.image.v1+json"
    docker["layers"][0]["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    put("image_manifest", "oci-single.txt", json.dumps(oci_manifest) + sep + json.dumps(config))
    put("image_manifest", "docker-single.txt", json.dumps(docker) + sep + json.dumps(config))
    arm = dict(config, architecture="arm64", variant="v8")
    put("image_manifest", "oci-index.txt", sep.join(json.dumps(d) for d in
                                                    [index, oci_manifest, config, oci_manifest, arm]))
    put("image_manifest", "refs.txt", "127.0.0.1:5000/shop/orders:1.2@sha256:" + "a" * 64 + sep + "linux/arm64/v8"
        + sep + "Orders:latest")
    put("image_manifest", "schema1.txt", json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}))


def main():
    jars()
    manifests()
    tars()
    ws_frames()
    spdy_exec()
    texts()


if __name__ == "__main__":
    main()
