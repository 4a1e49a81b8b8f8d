"""pods/exec over a WebSocket (channel.k8s.io v4/v5) or SPDY/3.1 (v4.channel.k8s.io, execspdy.py), running
real commands chrooted into the pod's directory tree."""
import asyncio
import fcntl
import json
import os
import struct
import subprocess
import termios

from aiohttp import WSMsgType, web

import execspdy
from kutil import ApiError, bad_request, jdump, not_found

PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
             "channel.k8s.io"]
PATH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
ENV_PATH = ":".join(PATH_DIRS)

SCRIPT = r'''R="$1"; shift
mount --bind /usr "$R/usr" || exit 126
mount -o remount,bind,ro "$R/usr" 2>/dev/null
for d in null zero random urandom; do [ -e "$R/dev/$d" ] && mount --bind "/dev/$d" "$R/dev/$d" 2>/dev/null; done
mount --rbind /proc "$R/proc" 2>/dev/null
exec chroot "$R" "$@"'''


def _host_path(root, p):
    """Map an absolute path inside the container to the host (usr is bind-mounted from the host)."""
    p = os.path.normpath(p)
    for link, target in (("/bin", "/usr/bin"), ("/sbin", "/usr/sbin"), ("/lib64", "/usr/lib64"),
                         ("/lib", "/usr/lib")):
        if p == link or p.startswith(link + "/"):
            p = target + p[len(link):]
            break
    if p == "/usr" or p.startswith("/usr/"):
        return p
    return os.path.join(root, p.lstrip("/"))


_busybox_applets = None


def busybox_applets():
    """The applets of the host's /usr/bin/busybox (busybox-static), or an empty set."""
    global _busybox_applets
    if _busybox_applets is None:
        try:
            out = subprocess.run(["/usr/bin/busybox", "--list"], capture_output=True, text=True, timeout=10).stdout
            _busybox_applets = set(out.split())
        except (OSError, subprocess.SubprocessError):
            _busybox_applets = set()
    return _busybox_applets


def resolve(root, cmd):
    if "/" in cmd:
        hp = _host_path(root, cmd)
        return cmd if os.path.isfile(hp) and os.access(hp, os.X_OK) else None
    for d in PATH_DIRS:
        hp = _host_path(root, os.path.join(d, cmd))
        if os.path.isfile(hp) and os.access(hp, os.X_OK):
            return os.path.join(d, cmd)
    return None


def _not_found_status(cmd):
    # As a 1.32 API server with containerd sends it (seen on the kit): "Internal error occurred" twice.
    inner = (f'Internal error occurred: error executing command in container: failed to exec in container: '
             f'failed to start exec '
             f'"{os.urandom(32).hex()}": OCI runtime exec failed: exec failed: unable to start container '
             f'process: exec: "{cmd}": executable file not found in $PATH: unknown')
    return {"metadata": {}, "status": "Failure", "message": "Internal error occurred: " + inner,
            "reason": "InternalError", "details": {"causes": [{"message": inner}]}, "code": 500}


def _exit_status(command, code):
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(command)}], exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def _is_tar_create(command):
    if os.path.basename(command[0]) != "tar":
        return False
    for a in command[1:]:
        if a == "--create":
            return True
        if not a.startswith("--") and "c" in a.lstrip("-") and a.lstrip("-").isalpha():
            return True
    return False


async def handle_exec(server, request, ns, name, sub):
    pr = server.reg.for_kind("Pod")
    pod = server.store.get(pr.storage, ns, name)
    if pod is None:
        raise not_found("pods", "", name)
    q = request.query
    container = server.ctl.pick_container(pod, q.get("container"))
    command = q.getall("command", [])
    if sub == "exec" and not command:
        raise bad_request("you must specify at least 1 command")
    upgrade = request.headers.get("Upgrade", "").lower()
    spdy = upgrade.startswith("spdy/")
    if spdy and not server.settings.get("execSpdy", 1):
        raise ApiError(400, "BadRequest", "Upgrade request required: SPDY is not supported by this server")
    if upgrade != "websocket" and not spdy:
        raise bad_request("Upgrade request required")
    rt = server.ctl.pod_rt(ns, name)
    c = rt.containers.get(container) if rt else None
    if rt is None or c is None or "running" not in c.state:
        raise bad_request(f'unable to upgrade connection: container not found ("{container}")')
    want_stdin = q.get("stdin") in ("1", "true")
    want_stdout = q.get("stdout") in ("1", "true")
    want_stderr = q.get("stderr") in ("1", "true")
    tty = q.get("tty") in ("1", "true")
    no_streams = "you must specify at least 1 of stdin, stdout, stderr"
    any_stream = want_stdin or want_stdout or want_stderr
    if spdy:
        if not any_stream:  # the kubelet's text, passed through
            return web.Response(status=400, text=no_streams, content_type="text/plain")
        refusal = execspdy.negotiate(request)
        if refusal is not None:
            return refusal
        chan = execspdy.SpdyChannels(request, want_stdin, want_stdout, want_stderr and not tty, tty)
    else:
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        supported = PROTOCOLS if server.settings.get("execV5", 1) else PROTOCOLS[1:]
        proto = next((p for p in supported if p in offered), None)
        if proto is None:
            raise bad_request("unable to upgrade connection: no supported subprotocol; supported: "
                              + ", ".join(supported[:2]))
        chan = _WsChannels(proto)
    transport = request.transport
    entry = request.get("log_entry")
    if entry is not None:
        entry["execBytesOut"] = 0
    if not await chan.start(request):
        return chan.response
    if not any_stream:
        # The API server has upgraded the WebSocket before the kubelet refuses (seen on the kit).
        msg = "unable to upgrade connection: " + no_streams
        await chan.finish({"metadata": {}, "status": "Failure", "message": "Internal error occurred: " + msg,
                           "reason": "InternalError", "details": {"causes": [{"message": msg}]}, "code": 500})
        return chan.response

    if sub == "attach":
        command = ["cat"] if want_stdin else ["sleep", "infinity"]
    root = server.ctl.pod_root(ns, name, container)
    behaviours = server.ctl.behaviours(pod)
    override = rt.exec_override.get(container)
    if override is not None and _is_tar_create(command):
        del rt.exec_override[container]
        reader = asyncio.ensure_future(_drain(chan))
        for i in range(0, len(override), 65536):
            await chan.send(1, override[i:i + 65536])
        reader.cancel()
        await chan.finish({"metadata": {}, "status": "Success"})
        return chan.response
    argv = list(command)
    if "busybox" in behaviours:
        # An Alpine-like userland: every command is a busybox applet (or is not there).
        applet = os.path.basename(command[0])
        exe = "/usr/bin/busybox" if applet in busybox_applets() else None
        argv = ["/usr/bin/busybox", applet] + argv[1:]
    else:
        exe = resolve(root, command[0])
    missing = {"notar": "tar", "nosh": "sh"}
    if exe is None or any(b in behaviours and os.path.basename(command[0]) == missing[b] for b in missing):
        await chan.finish(_not_found_status(command[0]))
        return chan.response
    spec_c = next((x for x in pod["spec"].get("containers") or [] if x.get("name") == container), {})
    env = {"PATH": ENV_PATH, "HOSTNAME": name, "HOME": "/root"}
    if tty:
        env["TERM"] = "xterm"
    for e in spec_c.get("env") or []:
        if "value" in e:
            env[e["name"]] = str(e["value"])
    if spec_c.get("workingDir"):
        sh = ["/usr/bin/busybox", "sh"] if "busybox" in behaviours else ["/bin/sh"]
        argv = sh + ["-c", 'cd "$0" && exec "$@"', spec_c["workingDir"]] + argv
    # No forked parent (unshare --fork) that would hold the pipes: the pumps see the command close them.
    script = SCRIPT
    if "notar" in behaviours:  # not for a shell's commands either
        script = script.replace('|| exit 126\n', '|| exit 126\nmount --bind /dev/null "$R/usr/bin/tar" || exit 126\n', 1)
    full = ["unshare", "--mount", "--", "/bin/sh", "-c", script, "sh", root] + argv
    term = None
    if tty:
        # As the kubelet does: the command's controlling terminal is a pty whose size channel 4 sets.
        term, slave = os.openpty()
        proc = await asyncio.create_subprocess_exec(
            *full, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        proc_out = _PtyReader(term)
    else:
        proc = await asyncio.create_subprocess_exec(
            *full, stdin=asyncio.subprocess.PIPE if want_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, limit=1 << 20, start_new_session=True)
        proc_out = proc.stdout

    cut = rt.exec_cut.get(container)
    sent = {"bytes": 0, "cut": False}

    async def pump(stream, ch, enabled):
        nonlocal stdin_closed
        wanted = enabled
        while True:
            data = await stream.read(65536)
            if not data:
                break
            if enabled and sent["cut"]:
                enabled = False
            if enabled and cut is not None and ch == 1 and sent["bytes"] + len(data) >= cut[0] and cut[1] > 0:
                # A dropped connection: the first afterBytes go out, then the TCP connection is
                # aborted (no close frame, no exit status), and the process is killed.
                cut[1] -= 1
                if cut[1] <= 0:
                    rt.exec_cut.pop(container, None)
                data = data[:max(0, cut[0] - sent["bytes"])]
                if data:
                    await chan.send(ch, data)
                    sent["bytes"] += len(data)
                    if entry is not None:
                        entry["execBytesOut"] = sent["bytes"]
                sent["cut"] = True
                if entry is not None:
                    entry["execCut"] = True
                if transport is not None:
                    transport.abort()
                try:
                    os.killpg(proc.pid, 9)
                except ProcessLookupError:
                    pass
                enabled = False
                continue
            if enabled:
                try:
                    await chan.send(ch, data)
                    sent["bytes"] += len(data)
                    if entry is not None:
                        entry["execBytesOut"] = sent["bytes"]
                except (ConnectionResetError, RuntimeError):
                    enabled = False
        if wanted and not sent["cut"]:
            await chan.end(ch)
        # As containerd's CRI exec does: once an output stream the client asked for ends (the
        # command closed its stdout or stderr, e.g. GNU and busybox `dd of=FILE` reopen fd 1 as the
        # file), the command's stdin is closed; what the client sends after that is dropped.
        if wanted and want_stdin and not stdin_closed:
            stdin_closed = True
            try:
                proc.stdin.transport.abort()  # close() would still deliver what is buffered
            except Exception:
                pass

    stdin_closed = False

    async def read_ws():
        nonlocal stdin_closed
        try:
            while True:
                kind, data = await chan.receive()
                if kind == "stdin" and want_stdin and term is not None:
                    await asyncio.get_running_loop().run_in_executor(None, _write_all, term, data)
                elif kind == "resize" and term is not None:
                    try:
                        size = json.loads(data)
                        fcntl.ioctl(term, termios.TIOCSWINSZ,
                                    struct.pack("HHHH", int(size["Height"]), int(size["Width"]), 0, 0))
                    except (ValueError, KeyError, TypeError, OSError):
                        pass
                elif kind == "stdin" and want_stdin and not stdin_closed:
                    try:
                        proc.stdin.write(data)
                        await proc.stdin.drain()
                    except (BrokenPipeError, ConnectionResetError):
                        stdin_closed = True
                elif kind == "stdin_eof" and want_stdin:
                    if not stdin_closed:
                        stdin_closed = True
                        try:
                            proc.stdin.close()
                        except Exception:
                            pass
                elif kind == "closed":
                    return "closed"
        except asyncio.CancelledError:
            return "cancelled"

    reader = asyncio.ensure_future(read_ws())
    pumps = [asyncio.ensure_future(pump(proc_out, 1, want_stdout))]
    if not tty:
        pumps.append(asyncio.ensure_future(pump(proc.stderr, 2, want_stderr)))
    done_all = asyncio.ensure_future(asyncio.gather(*pumps))
    done, _ = await asyncio.wait([done_all, reader], return_when=asyncio.FIRST_COMPLETED)
    if reader in done and not done_all.done():
        # client went away: stop the process
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        await proc.wait()
        done_all.cancel()
        if term is not None:
            os.close(term)
        return chan.response
    code = await proc.wait()
    if term is not None:
        os.close(term)
    reader.cancel()
    if sent["cut"]:
        try:
            await reader
        except BaseException:
            pass
        return chan.response
    try:
        await reader
    except BaseException:
        pass
    if want_stdin and not stdin_closed:
        try:
            proc.stdin.close()
        except Exception:
            pass
    if code == 0:
        status = {"metadata": {}, "status": "Success"}
    else:
        if code < 0:
            code = 128 - code
        status = _exit_status(command, code)
    try:
        await chan.finish(status)
    except (ConnectionResetError, RuntimeError):
        pass
    return chan.response


class _WsChannels:
    """The exec's channels on a WebSocket: one frame per write, the channel number first."""

    def __init__(self, proto):
        self.v5 = proto == "v5.channel.k8s.io"
        self.json_status = proto in ("v5.channel.k8s.io", "v4.channel.k8s.io")
        self.response = web.WebSocketResponse(protocols=[proto], max_msg_size=0, autoclose=False, autoping=True)

    async def start(self, request):
        await self.response.prepare(request)
        return True

    async def send(self, ch, data):
        if not self.response.closed:
            await self.response.send_bytes(bytes([ch]) + data)

    async def end(self, ch):
        pass  # a WebSocket has no end of one channel

    async def finish(self, status):
        if self.json_status:
            await self.send(3, jdump(status).encode())
        elif status.get("status") != "Success":
            await self.send(3, status.get("message", "").encode())
        await self.response.close(code=1000)

    async def receive(self):
        """("stdin", bytes), ("stdin_eof", b""), ("resize", bytes) or ("closed", b"")."""
        while True:
            msg = await self.response.receive()
            if msg.type == WSMsgType.BINARY:
                data = msg.data
                if not data:
                    continue
                if data[0] == 0:
                    return "stdin", data[1:]
                if data[0] == 4:
                    return "resize", data[1:]
                if data[0] == 255 and self.v5 and len(data) > 1 and data[1] == 0:
                    return "stdin_eof", b""
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return "closed", b""


class _PtyReader:
    """The pty's master side as a stream: read() returns b"" once the command and its children closed
    the terminal (EIO)."""

    def __init__(self, fd):
        self.fd = fd

    async def read(self, n):
        try:
            return await asyncio.get_running_loop().run_in_executor(None, os.read, self.fd, n)
        except OSError:
            return b""


def _write_all(fd, data):
    while data:
        try:
            data = data[os.write(fd, data):]
        except OSError:
            return


async def _drain(chan):
    try:
        while (await chan.receive())[0] != "closed":
            pass
    except asyncio.CancelledError:
        pass
