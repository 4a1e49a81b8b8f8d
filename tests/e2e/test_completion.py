"""Shell completion as a user meets it: the checked-in scripts (completions/) are loaded into real
bash, zsh and fish and asked to complete command lines; app names, workspaces and config versions
come from the cluster through `wb __complete`, which stays quiet and quick when it cannot reach one.

Against the fake API server by default; on a real cluster (WB_TEST_KUBECONFIG) the same completions
come from namespaces, apps, revisions (ReplicaSets of the real Deployment controller), config and
routes versions made there, and container paths from a replica that really runs (the test server
image; its working directory is /app and /app holds its app.jar).
"""
import contextlib
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "harness"))
from wbtest import FakeCluster, WbTestCase, WB_BIN, SOURCE_DIR, real_images  # noqa: E402

COMPLETIONS = os.path.join(SOURCE_DIR, "completions")
IMAGE = "registry.local/shop/orders@sha256:" + "a" * 64
cluster = None
shared_dir = None     # what outlives a test: the running app of app_with_files and its kubeconfig
files_app = None      # (ns, kubeconfig) of that app, made by the first test that needs it


def setUpModule():
    global cluster, shared_dir, IMAGE
    cluster = FakeCluster()
    shared_dir = tempfile.mkdtemp(prefix="wb-completion-")
    if cluster.real:
        IMAGE = real_images()["server"]


def tearDownModule():
    if cluster:
        cluster.stop()
    if shared_dir:
        shutil.rmtree(shared_dir, ignore_errors=True)


def admin_kubeconfig(path):
    """A kubeconfig for the admin (the fake's token; a real cluster's token or client certificate)."""
    if cluster.admin_token:
        return cluster.kubeconfig_for(path, token=cluster.admin_token)
    return cluster.kubeconfig_for(path, cert=cluster.admin_cert)


class Completion(WbTestCase):
    def setUp(self):
        super().setUp()
        # `wb` on PATH is the binary under test, as it would be once installed.
        self.bindir = os.path.join(self.home, "bin")
        os.makedirs(self.bindir)
        os.symlink(WB_BIN, os.path.join(self.bindir, "wb"))
        self.path = self.bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin")

    def shell_env(self):
        return self.env({"PATH": self.path})

    @contextlib.contextmanager
    def silent_server(self):
        """A kubeconfig for a server that accepts connections and never answers."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            yield cluster.kubeconfig_for(os.path.join(self.home, "silent"), token="t",
                                         server="https://127.0.0.1:%d" % s.getsockname()[1])

    def within(self, seconds, run):
        """run()'s result, asserting it came within `seconds`."""
        start = time.time()
        result = run()
        self.assertLess(time.time() - start, seconds)
        return result

    def bash(self, line):
        """Completes `line` (cursor at its end) with completions/wb.bash; returns the candidates.
        _wb gets readline's word as its $2, which for an unquoted last word starts after the last
        blank, ':' or '=' (COMP_WORDBREAKS); readline replaces just that with a candidate."""
        script = ('source "$1"; COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<<"$2"; '
                  'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); [[ $2 == *" " ]] && COMP_CWORD=${#COMP_WORDS[@]}; '
                  '_wb wb "$3"; printf "%s\\n" "${COMPREPLY[@]}"')
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", os.path.join(COMPLETIONS, "wb.bash"),
                            line, re.split(r"[\s:=]", line)[-1]],
                           capture_output=True, text=True, env=self.shell_env(), cwd=self.workdir, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        return [l for l in p.stdout.splitlines() if l]

    def fish(self, line):
        """`complete -C LINE` in fish with completions/wb.fish; returns the candidates (no descriptions)."""
        if not shutil.which("fish"):
            self.skipTest("fish is not installed (scripts/install-deps.sh --with-tests installs it)")
        p = subprocess.run(["fish", "--no-config", "-c", 'source $argv[1]; complete -C $argv[2]',
                            os.path.join(COMPLETIONS, "wb.fish"), line],
                           capture_output=True, text=True, env=self.shell_env(), cwd=self.workdir, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        return [l.split("\t")[0] for l in p.stdout.splitlines() if l]

    def zsh(self, *words):
        """Runs the zsh completion function on `words` (the last one is completed) with compadd,
        _describe and _files replaced by recorders; returns what it offered."""
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed (scripts/install-deps.sh --with-tests installs it)")
        script = r'''
autoload -U compinit && compinit -u -d "$HOME/.zcompdump"
source "$1"; shift
compadd() {
  local -a sfx; local arr="" a
  while (( $# )); do
    case $1 in
      -S) sfx=$2; shift 2 ;;
      -a) arr=$2; shift 2 ;;
      --) shift; break ;;
      -*) shift ;;
      *) break ;;
    esac
  done
  if [[ -n $arr ]]; then for a in ${(P)arr}; do print -r -- "$a$sfx"; done; fi
  for a in "$@"; do print -r -- "$a$sfx"; done
}
_describe() { local a; for a in ${(P)4}; do print -r -- "${a%%:*}"; done }
_files() { print -r -- "<files${*:+ $*}>" }
compset() { return 0 }
words=("$@"); CURRENT=$#
_wb
'''
        p = subprocess.run(["zsh", "-f", "-c", script, "zsh", os.path.join(COMPLETIONS, "_wb")] + list(words),
                           capture_output=True, text=True, env=self.shell_env(), cwd=self.workdir, timeout=60)
        self.assertEqual(p.stderr, "")
        return [l for l in p.stdout.splitlines() if l]

    def zsh_interactive(self, line, cwd=None):
        """Types `line` and TAB TAB into a real interactive zsh (on a pseudo-terminal, through zsh's
        zpty module) that finds _wb in its fpath, as the package installs it; returns what the
        terminal showed."""
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed")
        driver = r'''
zmodload zsh/zpty
zpty z "zsh -f -i"
zpty -w z 'PS1="%% "; fpath=('"$1"' $fpath); autoload -U compinit; compinit -u -d "$HOME/.zcompdump"'
zpty -w -n z "$2"$'\t\t'
sleep 3
while zpty -r -t z chunk; do print -rn -- "$chunk"; done
zpty -w -n z $'\x15'
zpty -d z
'''
        fpath_dir = os.path.join(self.home, "zfunc")
        os.makedirs(fpath_dir, exist_ok=True)
        shutil.copy(os.path.join(COMPLETIONS, "_wb"), fpath_dir)
        p = subprocess.run(["zsh", "-f", "-c", driver, "zsh", fpath_dir, line], cwd=cwd or self.workdir,
                           capture_output=True, text=True, env=dict(self.shell_env(), TERM="dumb"), timeout=60)
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", p.stdout.replace("\r", ""))

    def zsh_buffer(self, line):
        """Types `line` (TABs in it complete) into a real interactive zsh as zsh_interactive does,
        then returns the command line as it stands (zle's $BUFFER, written out by a key binding)."""
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed")
        driver = r'''
zmodload zsh/zpty
zpty z "zsh -f -i"
zpty -w z 'PS1="%% "; fpath=('"$1"' $fpath); autoload -U compinit; compinit -u -d "$HOME/.zcompdump"'
zpty -w z '_dump() { print -r -- "<$BUFFER>" >"$HOME/zsh-buffer" }; zle -N _dump; bindkey -M emacs "^X^D" _dump; bindkey -M viins "^X^D" _dump; : >"$HOME/zsh-ready"'
# typing on before that has run can be lost
for i in {1..150}; do
  while zpty -r -t z chunk; do :; done
  [[ -e $HOME/zsh-ready ]] && break
  sleep 0.1
done
zpty -w -n z "$2"$'\x18\x04'
for i in {1..150}; do
  while zpty -r -t z chunk; do :; done
  [[ -s $HOME/zsh-buffer ]] && break
  sleep 0.1
done
zpty -w -n z $'\x15'
zpty -d z
cat "$HOME/zsh-buffer"
'''
        fpath_dir = os.path.join(self.home, "zfunc")
        os.makedirs(fpath_dir, exist_ok=True)
        shutil.copy(os.path.join(COMPLETIONS, "_wb"), fpath_dir)
        for name in ("zsh-buffer", "zsh-ready"):
            if os.path.exists(os.path.join(self.home, name)):
                os.remove(os.path.join(self.home, name))
        p = subprocess.run(["zsh", "-f", "-c", driver, "zsh", fpath_dir, line], cwd=self.workdir,
                           capture_output=True, text=True, env=dict(self.shell_env(), TERM="dumb"), timeout=60)
        self.assertRegex(p.stdout, r"^<.*>\n$", p.stderr)
        return p.stdout[1:-2]

    def bash_interactive(self, line, expect, cwd=None, setup=""):
        """Types `line` and TAB TAB into a real interactive bash (readline on a pseudo-terminal) that
        has sourced completions/wb.bash (then run `setup`); returns what the terminal showed after
        the prompt, once it shows `expect` (or after 15 s)."""
        return self.pty_shell(["bash", "--norc", "--noprofile", "-i"],
                              "PS1='PROMPT> '; bind 'set bell-style none'; source '%s'; %s\n"
                              % (os.path.join(COMPLETIONS, "wb.bash"), setup or ":"), line, expect, cwd)

    def fish_interactive(self, line, expect, cwd=None):
        """Types `line` and TAB TAB into a real interactive fish that has sourced
        completions/wb.fish; returns what the terminal showed, once it shows `expect`."""
        if not shutil.which("fish"):
            self.skipTest("fish is not installed")
        return self.pty_shell(["fish", "--no-config", "-i"],
                              "function fish_prompt; echo -n 'PROMPT> '; end; source '%s'\n"
                              % os.path.join(COMPLETIONS, "wb.fish"), line, expect, cwd)

    def pty_shell(self, argv, setup, line, expect, cwd=None):
        """Runs the shell `argv` on a pseudo-terminal, sends `setup`, then types `line` and TAB TAB;
        returns the screen (escape sequences taken out) once it shows `expect` (or after 15 s)."""
        pid, fd = pty.fork()
        if pid == 0:  # the child: nothing but exec
            try:
                os.chdir(cwd or self.workdir)
                os.execvpe(argv[0], argv, dict(self.shell_env(), TERM="dumb"))
            finally:
                os._exit(127)
        out = b""

        def screen():
            return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace").replace("\r", ""))

        def read_for(seconds, until=None):
            nonlocal out
            end = time.time() + seconds
            while time.time() < end and not (until and until in screen()):
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:
                        return
        try:
            os.write(fd, setup.encode())
            read_for(1.0)
            out = b""
            os.write(fd, line.encode() + b"\t\t")
            read_for(15.0, until=expect)
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)
        return screen()

    def workspace_with_apps(self, *apps, kubeconfig=None):
        ns = "shop-" + uuid.uuid4().hex[:8]
        status, body = cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": ns, "labels": {"kubesphere.io/workspace": "shop"}}})
        self.assertIn(status, (200, 201), body)
        kubeconfig = admin_kubeconfig(kubeconfig or os.path.join(self.home, "kubeconfig"))
        for app in apps:
            self.assertExit(self.wb("--kubeconfig", kubeconfig, "-w", ns, "app", "create", app), 0)
        return ns, kubeconfig

    # ---------------------------------------------------------------------------------- static
    def test_bash_completes_commands_options_and_choices(self):
        self.assertIn("app", self.bash("wb "))
        self.assertIn("completion", self.bash("wb "))
        self.assertNotIn("__complete", self.bash("wb "))
        self.assertEqual(self.bash("wb app st"), ["status", "start", "stop"])
        self.assertEqual(self.bash("wb ws u"), ["use"])                 # an alias of workspace
        self.assertEqual(self.bash("wb -o "), ["table", "wide", "json", "yaml", "name"])
        self.assertEqual(self.bash("wb app list --output=ya"), ["yaml"])
        self.assertEqual(self.bash("wb app set orders --trace of"), ["off"])
        self.assertEqual(self.bash("wb completion "), ["bash", "zsh", "fish"])
        self.assertEqual(self.bash("wb app create --rep"), ["--replicas"])
        self.assertIn("--kubeconfig", self.bash("wb logs orders --"))   # global options everywhere
        self.assertIn("--since", self.bash("wb logs orders --"))
        self.assertEqual(self.bash("wb help ap"), ["app"])
        self.assertIn("exit-codes", self.bash("wb help "))
        self.assertIn("create", self.bash("wb help app "))
        self.assertEqual(self.bash("wb app create "), [])             # a new name: nothing to offer

    def test_bash_completes_files_where_a_file_is_wanted(self):
        with open(os.path.join(self.workdir, "orders.jar"), "w") as f:
            f.write("x")
        os.makedirs(os.path.join(self.workdir, "target"))
        self.assertEqual(sorted(self.bash("wb push jar ")), ["orders.jar", "target"])
        self.assertEqual(self.bash("wb config set orders --file ord"), ["orders.jar"])
        self.assertEqual(self.bash("wb --kubeconfig or"), ["orders.jar"])

    def test_zsh_script_loads_and_completes(self):
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed")
        p = subprocess.run(["zsh", "-f", "-c", 'autoload -U compinit && compinit -u -d "$HOME/.zcompdump"; '
                            'source "$1" && print -r -- ${_comps[wb]}', "zsh", os.path.join(COMPLETIONS, "_wb")],
                           capture_output=True, text=True, env=self.shell_env(), timeout=60)
        self.assertEqual((p.returncode, p.stderr, p.stdout.strip()), (0, "", "_wb"))
        self.assertIn("app", self.zsh("wb", ""))
        self.assertIn("rollback", self.zsh("wb", "app", ""))
        self.assertEqual(self.zsh("wb", "-o", ""), ["table", "wide", "json", "yaml", "name"])
        self.assertIn("--replicas", self.zsh("wb", "app", "create", "--"))
        self.assertEqual(self.zsh("wb", "push", "jar", ""), ["<files -g *.jar>"])
        self.assertEqual(self.zsh("wb", "completion", ""), ["bash", "zsh", "fish"])

    def test_zsh_completes_in_a_real_interactive_shell(self):
        screen = self.zsh_interactive("wb app st")
        self.assertIn("status", screen)
        self.assertIn("stop", screen)
        self.assertIn("An app's state in words", screen)   # descriptions in the menu
        screen = self.zsh_interactive("wb completion f")
        self.assertIn("wb completion fish", screen)

    def test_fish_completes_commands_and_options(self):
        self.assertEqual(self.fish("wb app st"), ["start", "status", "stop"])
        self.assertIn("--replicas", self.fish("wb app create --"))
        self.assertIn("--output=json", self.fish("wb app list --output="))
        self.assertEqual(self.fish("wb completion "), ["bash", "fish", "zsh"])
        self.assertIn("exit-codes", self.fish("wb help "))

    # --------------------------------------------------------------------------------- dynamic
    def test_app_names_come_from_the_cluster_in_every_shell(self):
        ns, kubeconfig = self.workspace_with_apps("orders", "billing", "ordermail")
        r = self.wb("--kubeconfig", kubeconfig, "-w", ns, "__complete", "apps")
        self.assertExit(r, 0)
        self.assertEqual(sorted(r.out.split()), ["billing", "ordermail", "orders"])
        line = "wb --kubeconfig %s -w %s " % (kubeconfig, ns)
        self.assertEqual(sorted(self.bash(line + "app status ord")), ["ordermail", "orders"])
        self.assertEqual(sorted(self.bash(line + "logs ")), ["billing", "ordermail", "orders"])
        self.assertEqual(self.bash(line + "config get bil"), ["billing"])
        self.assertEqual(self.bash(line + "push jar --app bi"), ["billing"])
        self.assertEqual(self.bash(line + "cp-files bil"), ["billing:"])
        self.assertEqual(sorted(self.fish(line + "app start ord")), ["ordermail", "orders"])
        self.assertEqual(sorted(self.zsh("wb", "--kubeconfig", kubeconfig, "-w", ns, "app", "stop", "")),
                         ["billing", "ordermail", "orders"])
        screen = self.zsh_interactive(line + "app stop ord")
        self.assertIn("ordermail", screen)
        self.assertIn("orders", screen)
        self.assertNotIn("billing", screen)
        # The workspace can also come from the profile's state: `wb workspace use`.
        self.assertExit(self.wb("--kubeconfig", kubeconfig, "workspace", "use", ns), 0)
        self.assertEqual(sorted(self.bash("wb --kubeconfig %s app history " % kubeconfig)),
                         ["billing", "ordermail", "orders"])

    def controller_caught_up(self, ns, app, timeout=60):
        """Waits until the Deployment controller has seen the app's newest spec (observedGeneration)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, d = cluster.request("GET", "/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, app))
            self.assertEqual(status, 200, d)
            if d.get("status", {}).get("observedGeneration", 0) >= d["metadata"]["generation"]:
                return
            time.sleep(0.1)
        self.fail("the Deployment controller did not get to %s in %d s" % (app, timeout))

    def config_versions(self, ns, count):
        """Config versions v1..vCOUNT of app orders in ns, as wb labels them."""
        for n in range(1, count + 1):
            status, body = cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "name": "orders-config-v%d" % n, "namespace": ns,
                "labels": {"app.kubernetes.io/name": "orders", "app.kubernetes.io/managed-by": "wb",
                           "wb.dev/config-version": str(n)}}, "data": {"N": str(n)}})
            self.assertEqual(status, 201, body)

    def test_workspaces_config_versions_profiles_and_contexts(self):
        ns, kubeconfig = self.workspace_with_apps("orders")
        self.config_versions(ns, 3)
        line = "wb --kubeconfig %s -w %s " % (kubeconfig, ns)
        self.assertEqual(self.bash(line + "config get orders --version "), ["1", "2", "3"])
        self.assertEqual(self.bash(line + "config diff orders 1 "), ["1", "2", "3"])
        self.assertEqual(self.bash(line + "config rollback orders --to=2"), ["2"])
        self.assertIn(ns, self.bash("wb --kubeconfig %s workspace use " % kubeconfig))
        self.assertIn(ns, self.bash("wb --kubeconfig %s workspace delete " % kubeconfig))
        self.assertIn(ns, self.bash("wb --kubeconfig %s -w " % kubeconfig))
        self.assertEqual(self.bash("wb --kubeconfig %s --context " % kubeconfig), ["fake"])
        for name in ("acme", "acme-test"):
            self.assertExit(self.wb("profile", "init", name, "--tenant", "shop"), 0)
        self.assertEqual(self.bash("wb --profile ac"), ["acme", "acme-test"])
        self.assertEqual(self.bash("wb profile use acme-"), ["acme-test"])
        self.assertEqual(sorted(self.fish("wb profile show ")), ["acme", "acme-test"])

    def test_dynamic_values_are_quiet_and_quick_without_a_cluster(self):
        # No kubeconfig at all.
        r = self.wb("__complete", "apps")
        self.assertEqual((r.code, r.out, r.err), (0, "", ""))
        r = self.wb("__complete", "no-such-kind")
        self.assertEqual((r.code, r.out, r.err), (0, "", ""))
        with self.silent_server() as kubeconfig:
            r = self.within(4.0, lambda: self.wb("--kubeconfig", kubeconfig, "-w", "shop", "__complete", "apps",
                                                 timeout=30))
            self.assertEqual((r.code, r.out, r.err), (0, "", ""))
            self.assertEqual(self.within(6.0, lambda: self.bash("wb --kubeconfig %s -w shop app status " % kubeconfig)),
                             [])
            for kind in ("revisions", "routes", "configs"):
                r = self.within(4.0, lambda: self.wb("--kubeconfig", kubeconfig, "-w", "shop", "__complete", kind,
                                                     "orders", timeout=30))
                self.assertEqual((r.code, r.out, r.err), (0, "", ""))
            self.assertEqual(self.within(6.0, lambda: self.fish(
                "wb --kubeconfig %s -w shop app rollback orders --to " % kubeconfig)), [])
        # Not allowed to list: nothing, no error text in the middle of the user's command line.
        ns, _ = self.workspace_with_apps("orders")
        stranger = cluster.kubeconfig_for(os.path.join(self.home, "stranger"), token="nobody-token")
        for args in (["apps"], ["revisions", "orders"], ["routes", "orders"]):
            r = self.wb("--kubeconfig", stranger, "-w", ns, "__complete", *args)
            self.assertEqual((r.code, r.out, r.err), (0, "", ""))


    def test_revisions_and_routes_versions_in_every_shell(self):
        ns, kubeconfig = self.workspace_with_apps("orders", "billing")
        for memory in ("600Mi", "700Mi", "800Mi"):
            self.assertExit(self.wb("--kubeconfig", kubeconfig, "-w", ns, "app", "set", "orders", "--memory", memory,
                                    "--no-wait"), 0)
            if cluster.real:
                # A real Deployment controller makes the revision's ReplicaSet when it gets to it; a
                # change before that would be folded into the next one.
                self.controller_caught_up(ns, "orders")
        r = self.wb("--kubeconfig", kubeconfig, "-w", ns, "app", "history", "orders", "-o", "json")
        self.assertExit(r, 0)
        revisions = json.loads(r.out)
        self.assertGreaterEqual(len(revisions), 3)
        current = [str(x["revision"]) for x in revisions if x["current"]]
        others = [str(x["revision"]) for x in revisions if not x["current"]]
        self.assertEqual(len(current), 1)
        # What rollback can go back to: every revision but the one that runs.
        r = self.wb("--kubeconfig", kubeconfig, "-w", ns, "__complete", "revisions", "orders")
        self.assertEqual((r.code, r.out.split(), r.err), (0, others, ""))
        line = "wb --kubeconfig %s -w %s " % (kubeconfig, ns)
        self.assertEqual(self.bash(line + "app rollback orders --to "), others)
        self.assertEqual(self.bash(line + "app rollback --no-wait orders --to=" + others[0]), [others[0]])
        self.assertEqual(self.bash(line + "app rollback --to "), [])        # no app yet: nothing
        self.assertEqual(self.zsh("wb", "--kubeconfig", kubeconfig, "-w", ns, "app", "rollback", "orders", "--to", ""),
                         others)
        self.assertEqual(sorted(self.fish(line + "app rollback orders --to ")), sorted(others))
        self.assertEqual(self.fish(line + "app rollback orders --to=" + others[-1]), ["--to=" + others[-1]])
        # An app that never ran has no revisions; one that does not exist, nothing and no noise.
        r = self.wb("--kubeconfig", kubeconfig, "-w", ns, "__complete", "revisions", "nope")
        self.assertEqual((r.code, r.out, r.err), (0, "", ""))

        # Routes versions (numbered ConfigMaps, as `wb route add` writes them).
        for n in (1, 2, 3):
            status, body = cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "name": "orders-routes-v%d" % n, "namespace": ns,
                "labels": {"app.kubernetes.io/name": "orders", "app.kubernetes.io/managed-by": "wb",
                           "wb.dev/routes-version": str(n)}}, "data": {"routes.json": "[]"}})
            self.assertEqual(status, 201, body)
        self.assertEqual(self.bash(line + "route rollback orders --to "), ["1", "2", "3"])
        self.assertEqual(self.bash(line + "route rollback -m why orders --to 2"), ["2"])
        self.assertEqual(self.bash(line + "route rollback billing --to "), [])   # another app's versions: none
        self.assertEqual(self.zsh("wb", "--kubeconfig", kubeconfig, "-w", ns, "route", "rollback", "orders", "--to", ""),
                         ["1", "2", "3"])
        self.assertEqual(self.fish(line + "route rollback orders --to "), ["1", "2", "3"])

    def test_files_and_directories_complete_natively(self):
        for name in ("orders.jar", "notes.txt", "app.env"):
            with open(os.path.join(self.workdir, name), "w") as f:
                f.write("x")
        os.makedirs(os.path.join(self.workdir, "target"))
        os.makedirs(os.path.join(self.workdir, "gitops repo"))
        with open(os.path.join(self.workdir, "target", "orders-1.0.jar"), "w") as f:
            f.write("x")
        # JAR: jars and directories to look in; DIR: directories only; FILE: any file.
        self.assertEqual(sorted(self.bash("wb push jar ")), ["gitops repo", "orders.jar", "target"])
        self.assertEqual(self.bash("wb push jar target/"), ["target/orders-1.0.jar"])
        self.assertEqual(sorted(self.bash("wb export orders --to ")), ["gitops repo", "target"])
        self.assertEqual(self.bash("wb push jar orders.jar --gitops g"), ["gitops repo"])
        self.assertEqual(self.bash("wb config set orders A=1 --gitops=t"), ["target"])
        self.assertEqual(self.bash("wb config set orders --env-file a"), ["app.env"])
        self.assertEqual(self.bash("wb push jar orders.jar --dotenv-out n"), ["notes.txt"])
        self.assertEqual(self.bash("wb config set orders --file no"), ["notes.txt"])
        # Not a local path: --path and --health are URL paths.
        self.assertEqual(self.bash("wb route add orders --path "), [])
        # readline quotes what it inserts: a directory with a space.
        want = "wb export orders --to gitops\\ repo/"
        self.assertIn(want, self.bash_interactive("wb export orders --to gi", want))
        want = "wb push jar target/orders-1.0.jar"
        self.assertIn(want, self.bash_interactive("wb push jar target/", want))

        self.assertEqual(self.zsh("wb", "export", "orders", "--to", ""), ["<files -/>"])
        self.assertEqual(self.zsh("wb", "config", "set", "orders", "--gitops", ""), ["<files -/>"])
        self.assertEqual(self.zsh("wb", "config", "set", "orders", "--env-file", ""), ["<files>"])
        self.assertEqual(self.zsh("wb", "--kubeconfig", ""), ["<files>"])
        screen = self.zsh_interactive("wb export orders --to ")
        self.assertIn("target/", screen)
        self.assertIn("gitops", screen)
        self.assertNotIn("notes.txt", screen)
        screen = self.zsh_interactive("wb push jar ")
        self.assertIn("orders.jar", screen)
        self.assertNotIn("notes.txt", screen)

        self.assertEqual(sorted(self.fish("wb push jar ")), ["gitops repo/", "orders.jar", "target/"])
        self.assertEqual(sorted(self.fish("wb export orders --to ")), ["gitops repo/", "target/"])
        self.assertEqual(self.fish("wb config set orders --gitops=t"), ["--gitops=target/"])
        self.assertEqual(self.fish("wb push jar orders.jar --dotenv-out n"), ["notes.txt"])
        self.assertEqual(self.fish("wb --kubeconfig ap"), ["app.env"])

    def test_quoted_words_before_the_cursor_count_as_one(self):
        ns, _ = self.workspace_with_apps("orders", "billing")
        # A kubeconfig in a directory with a space, given quoted or escaped.
        os.makedirs(os.path.join(self.home, "my kube"))
        kubeconfig = admin_kubeconfig(os.path.join(self.home, "my kube", "config"))
        self.config_versions(ns, 2)
        quoted = 'wb --kubeconfig "%s" -w %s ' % (kubeconfig, ns)
        escaped = "wb --kubeconfig %s -w '%s' " % (kubeconfig.replace(" ", "\\ "), ns)
        for line in (quoted, escaped):
            self.assertEqual(sorted(self.bash(line + "app stop ")), ["billing", "orders"])
            # "a b" is one argument: cp-files' second one is next (APP: or a local path).
            self.assertEqual(self.bash(line + 'cp-files "a b" bil'), ["billing:"])
            self.assertEqual(self.bash(line + "cp-files a\\ b bil"), ["billing:"])
            self.assertEqual(self.bash(line + "cp-files 'a b' x "), [])       # both given: nothing
            # A quoted message is one word: the app is still the first argument.
            self.assertEqual(self.bash(line + 'config rollback -m "back to two" orders --to '), ["1", "2"])
            self.assertEqual(self.bash(line + 'config diff orders "1" '), ["1", "2"])
        want = 'cp-files "a b" billing:'
        self.assertIn(want, self.bash_interactive(quoted + 'cp-files "a b" bil', want))
        self.assertEqual(self.zsh("wb", "--kubeconfig", '"%s"' % kubeconfig, "-w", ns, "config", "rollback", "-m",
                                  '"back to two"', "orders", "--to", ""), ["1", "2"])
        self.assertEqual(sorted(self.zsh("wb", "--kubeconfig", kubeconfig.replace(" ", "\\ "), "-w", ns, "cp-files",
                                         "a\\ b", "bil")), ["<files>", "billing:", "orders:"])
        screen = self.zsh_interactive(quoted + 'config rollback -m "back to two" orders --to ')
        self.assertIn("1", screen.split("--to", 1)[1])
        self.assertEqual(self.fish(quoted + 'config rollback -m "back to two" orders --to '), ["1", "2"])
        self.assertEqual(self.fish(escaped + 'cp-files "a b" bil'), ["billing:"])

    # ------------------------------------------------------------------------- container paths
    def app_with_files(self):
        """Workspace with app orders running one replica whose container holds /app/logs/app.log,
        /app/lib/, /app/launch.sh, /app/.cache/ and '/app/name with spaces.txt'; returns
        (ns, kubeconfig, line), line being `wb --kubeconfig K -w NS `. Made once for the module (the
        tests only read it): a real replica takes seconds to start."""
        global files_app
        if files_app is None:
            ns, kubeconfig = self.workspace_with_apps("orders", "billing",
                                                      kubeconfig=os.path.join(shared_dir, "kubeconfig"))
            status, body = cluster.set_app_image(ns, "orders", IMAGE)
            self.assertEqual(status, 200, body)
            self.assertExit(self.wb("--kubeconfig", kubeconfig, "-w", ns, "app", "start", "orders"), 0)
            pod = cluster.running_pods(ns, "orders")[0]
            if cluster.real:
                p = cluster.sh(ns, pod, 'cd /app && mkdir -p logs lib .cache && echo started > logs/app.log && '
                               'printf "#!/bin/sh\\n" > launch.sh && echo x > "name with spaces.txt"')
                self.assertEqual(p.returncode, 0, p.stderr)
            else:
                status, body = cluster.request("GET", "/fake/v1/namespaces/%s/pods/%s/root" % (ns, pod))
                self.assertEqual(status, 200, body)
                app = os.path.join(body["path"], "app")
                for d in ("logs", "lib", ".cache"):
                    os.makedirs(os.path.join(app, d), exist_ok=True)
                for f, text in (("logs/app.log", "started\n"), ("launch.sh", "#!/bin/sh\n"),
                                ("name with spaces.txt", "x\n")):
                    with open(os.path.join(app, f), "w") as fh:
                        fh.write(text)
            files_app = ns, kubeconfig
        ns, kubeconfig = files_app
        return ns, kubeconfig, "wb --kubeconfig %s -w %s " % (kubeconfig, ns)

    def test_container_paths_come_from_the_app_replica(self):
        ns, kubeconfig, _ = self.app_with_files()

        def paths(word, *opts):
            r = self.wb(*(opts or ("--kubeconfig", kubeconfig, "-w", ns)), "__complete", "paths", word)
            self.assertEqual((r.code, r.err), (0, ""))
            return r.out.splitlines()
        # Full words: directories end in '/', files do not; hidden entries only when asked for.
        self.assertEqual(paths("orders:/app/l"), ["orders:/app/launch.sh", "orders:/app/lib/", "orders:/app/logs/"])
        jar = ["orders:/app/app.jar"] if cluster.real else []  # the real image's /app holds its jar
        self.assertEqual(paths("orders:/app/"), jar + ["orders:/app/launch.sh", "orders:/app/lib/", "orders:/app/logs/",
                                                       "orders:/app/name with spaces.txt"])
        self.assertEqual(paths("orders:/app/."), ["orders:/app/.cache/"])
        self.assertEqual(paths("orders:/app/logs/"), ["orders:/app/logs/app.log"])
        # A bare APP: starts at the root; a path relative to the container's working directory
        # (the fake's is /, the real image's /app) completes as cp-files would read it.
        self.assertEqual(paths("orders:"), ["orders:/"])
        if cluster.real:
            self.assertEqual(paths("orders:lo"), ["orders:logs/"])
        else:
            self.assertEqual(paths("orders:app/lo"), ["orders:app/logs/"])
        # The only match, a symlink to a directory (/bin -> usr/bin, in the fake and in Debian), gets its '/'.
        self.assertEqual(paths("orders:/bi"), ["orders:/bin/"])
        # The same entries `wb files ls` shows.
        r = self.wb("--kubeconfig", kubeconfig, "-w", ns, "files", "ls", "orders:/app", "-o", "json")
        self.assertExit(r, 0)
        shown = sorted("orders:/app/" + e["name"] + ("/" if e["type"] == "directory" else "")
                       for e in json.loads(r.out) if not e["name"].startswith("."))
        self.assertEqual(paths("orders:/app/"), shown)
        # What it completes to is what cp-files copies.
        self.assertEqual(paths("orders:/app/logs/a"), ["orders:/app/logs/app.log"])
        r = self.wb("--kubeconfig", kubeconfig, "-w", ns, "cp-files", "orders:/app/logs/app.log", "got.log")
        self.assertExit(r, 0)
        with open(os.path.join(self.workdir, "got.log")) as f:
            self.assertEqual(f.read(), "started\n")
        # Nothing, quietly: no such directory, a file taken for one, no such app, an app that runs
        # no replica, not an app name, another workspace (-w is honoured), a stranger's token.
        for word in ("orders:/nope/", "orders:/app/launch.sh/x", "nope:/", "billing:/app/", "Orders:/", "/app/"):
            self.assertEqual(paths(word), [], word)
        self.assertEqual(paths("orders:/app/l", "--kubeconfig", kubeconfig, "--workspace=default"), [])
        stranger = cluster.kubeconfig_for(os.path.join(self.home, "stranger"), token="nobody-token")
        r = self.wb("--kubeconfig", stranger, "-w", ns, "__complete", "paths", "orders:/app/")
        self.assertEqual((r.code, r.out, r.err), (0, "", ""))
        # The workspace may come from the profile (`wb workspace use`) as for the other kinds.
        self.assertExit(self.wb("--kubeconfig", kubeconfig, "workspace", "use", ns), 0)
        self.assertEqual(paths("orders:/app/lo", "--kubeconfig", kubeconfig), ["orders:/app/logs/"])

    def test_container_paths_complete_in_every_shell(self):
        ns, kubeconfig, line = self.app_with_files()
        # bash: readline replaces the text after the ':' (COMP_WORDBREAKS), so that is what is offered.
        self.assertEqual(self.bash(line + "cp-files orders:/app/l"), ["/app/launch.sh", "/app/lib/", "/app/logs/"])
        self.assertEqual(self.bash(line + "cp-files orders:"), ["/"])
        self.assertEqual(self.bash(line + "files ls orders:/app/lo"), ["/app/logs/"])
        self.assertEqual(self.bash(line + "cp-files ./here orders:/app/lo"), ["/app/logs/"])  # the second argument
        self.assertEqual(self.bash(line + "cp-files -r --replica x orders:/app/lo"), ["/app/logs/"])
        # Not where a container path is wanted: nothing.
        self.assertEqual(self.bash(line + "logs orders:/app/"), [])
        self.assertEqual(self.bash(line + "app status orders:"), [])
        # Local paths still complete locally.
        os.makedirs(os.path.join(self.workdir, "local-dir"))
        self.assertEqual(self.bash(line + "cp-files orders:/app/logs/app.log loc"), ["local-dir"])
        # A real TAB: directories take no space (typing on continues the path), files take one;
        # names with spaces are quoted; an opening quote stays one.
        want = "cp-files orders:/app/logs/app.log "
        self.assertIn(want, self.bash_interactive(line + "cp-files orders:/app/lo\tapp.l", want))
        want = "cp-files orders:/app/logs/"
        self.assertIn(want, self.bash_interactive(line + "cp-files orders:/app/lo", want))
        want = "files ls orders:/app/name\\ with\\ spaces.txt"
        self.assertIn(want, self.bash_interactive(line + "files ls orders:/app/na", want))
        want = "cp-files ./x 'orders:/app/name with spaces.txt'"
        self.assertIn(want, self.bash_interactive(line + "cp-files ./x 'orders:/app/nam", want))
        # Also when COMP_WORDBREAKS has no ':' (as some bash setups make it).
        want = "cp-files orders:/app/logs/app.log "
        self.assertIn(want, self.bash_interactive(line + "cp-files orders:/app/lo\tapp.l", want,
                                                  setup="COMP_WORDBREAKS=${COMP_WORDBREAKS//:}"))
        screen = self.bash_interactive(line + "cp-files orders:/app/l", "logs/")
        self.assertRegex(screen, r"launch\.sh\s+lib/\s+logs/")   # the list shows names, not whole paths

        # zsh: the names after the last '/', directories with theirs and no space.
        words = ["wb", "--kubeconfig", kubeconfig, "-w", ns]
        self.assertEqual(self.zsh(*words, "cp-files", "orders:/app/l"), ["lib/", "logs/", "launch.sh"])
        self.assertEqual(self.zsh(*words, "files", "ls", "orders:"), ["/"])
        self.assertEqual(self.zsh(*words, "logs", "orders:/app/"), [])
        self.assertEqual(self.zsh_buffer(line + "cp-files orders:/app/lo\t"), line + "cp-files orders:/app/logs/")
        self.assertEqual(self.zsh_buffer(line + "cp-files orders:/app/lo\tapp.l\t"),
                         line + "cp-files orders:/app/logs/app.log ")
        self.assertEqual(self.zsh_buffer(line + "cp-files ./x orders:/app/na\t"),
                         line + "cp-files ./x orders:/app/name\\ with\\ spaces.txt ")
        self.assertEqual(self.zsh_buffer(line + "cp-files 'orders:/app/na\t"),
                         line + "cp-files 'orders:/app/name with spaces.txt' ")
        screen = self.zsh_interactive(line + "cp-files orders:/app/l")
        self.assertRegex(screen, r"launch\.sh\s+lib/\s+logs/")

        # fish: whole words; fish adds no space after a '/'.
        self.assertEqual(self.fish(line + "cp-files orders:/app/l"),
                         ["orders:/app/launch.sh", "orders:/app/lib/", "orders:/app/logs/"])
        self.assertEqual(self.fish(line + "files ls 'orders:/app/name w"), ["orders:/app/name with spaces.txt"])
        self.assertEqual(self.fish(line + "logs orders:/app/"), [])
        want = "cp-files orders:/app/logs/app.log "
        self.assertIn(want, self.fish_interactive(line + "cp-files orders:/app/lo\tapp.l", want))
        want = "cp-files orders:/app/logs/"
        self.assertIn(want, self.fish_interactive(line + "cp-files orders:/app/lo", want))

    def test_container_paths_are_quiet_and_quick_without_a_cluster(self):
        r = self.wb("__complete", "paths", "orders:/app/")    # no kubeconfig at all
        self.assertEqual((r.code, r.out, r.err), (0, "", ""))
        with self.silent_server() as kubeconfig:
            r = self.within(4.0, lambda: self.wb("--kubeconfig", kubeconfig, "-w", "shop", "__complete", "paths",
                                                 "orders:/app/", timeout=30))
            self.assertEqual((r.code, r.out, r.err), (0, "", ""))
            line = "wb --kubeconfig %s -w shop cp-files orders:/app/" % kubeconfig
            for complete in (lambda: self.bash(line), lambda: self.fish(line),
                             lambda: self.zsh("wb", "--kubeconfig", kubeconfig, "-w", "shop", "cp-files", "orders:/app/")):
                self.assertEqual(self.within(6.0, complete), [])


if __name__ == "__main__":
    unittest.main()
