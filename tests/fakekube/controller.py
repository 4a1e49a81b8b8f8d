"""Simulated controllers: deployment + replicaset controllers, a scheduler/kubelet for pods,
container logs and core/v1 Events."""
import asyncio
import hashlib
import json
import os
import random
import shutil
import time

from kutil import ApiError, bad_request, deepcopy, rfc3339, rfc3339_nano_fixed

SAFE = "bcdfghjklmnpqrstvwxz2456789"
BEHAVIOUR_ANN = "fake.wb.dev/behaviour"
NODES = ["fake-node-1", "fake-node-2", "fake-node-3"]
# field managers of the simulated components (what a real cluster shows in managedFields)
KCM = "kube-controller-manager"
KUBELET = "kubelet"
# annotations the deployment controller does not copy from a Deployment to its ReplicaSets
SKIP_COPY_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision",
                         "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
                         "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to"}


def rand_suffix(n=5):
    return "".join(random.choice(SAFE) for _ in range(n))


def fnv32a(data):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(tmpl, collision=0):
    t = deepcopy(tmpl)
    (t.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    raw = json.dumps(t, sort_keys=True).encode() + (str(collision).encode() if collision else b"")
    return "".join(SAFE[int(c) % len(SAFE)] for c in str(fnv32a(raw)))


def strip_hash(tmpl):
    t = deepcopy(tmpl or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop("pod-template-hash", None)
    return t


def resolve_int_or_percent(v, total, round_up):
    if v is None:
        return 0
    if isinstance(v, int):
        return v
    s = str(v)
    if s.endswith("%"):
        pct = int(s[:-1])
        x = pct * total / 100.0
        import math
        return int(math.ceil(x)) if round_up else int(math.floor(x))
    return int(s)


# ---------------------------------------------------------------- logs

class LogBuf:
    """Log of one container instance."""

    def __init__(self):
        self.lines = []  # (ts_ns, bytes)
        self.closed = False
        self.cuts = 0  # bumped by the control API: open follow streams break off
        self.following = 0  # follow streams open now (what a cut reaches)
        self.cut_after = None  # [bytes, count]: the next streams (follow or not) break off after that many bytes
        self.changed = asyncio.Event()

    def _kick(self):
        ev = self.changed
        self.changed = asyncio.Event()
        ev.set()

    def append(self, text):
        if isinstance(text, str):
            text = text.encode()
        if not text:
            return
        parts = text.split(b"\n")
        if parts and parts[-1] == b"":
            parts.pop()
        for p in parts:
            self.lines.append((time.time_ns(), p + b"\n"))
        self._kick()

    def close(self):
        self.closed = True
        self._kick()


class KubeletLogText(Exception):
    """A log read the kubelet answers with its own error text (200, text/plain, no newline)."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text


class ContainerRT:
    def __init__(self, name, image):
        self.name = name
        self.image = image
        self.attempts = []  # LogBuf per run
        self.restart_count = 0
        self.state = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state = {}
        self.ready = False
        self.started = False
        self.container_id = ""
        self.crash_now = None  # asyncio.Future set by control API
        self.crashed_at = None  # time.monotonic() of the last crash

    def current_log(self):
        return self.attempts[-1] if self.attempts else None


class PodRT:
    def __init__(self, pod):
        self.ns = pod["metadata"]["namespace"]
        self.name = pod["metadata"]["name"]
        self.uid = pod["metadata"]["uid"]
        self.containers = {}
        for c in pod["spec"].get("containers") or []:
            self.containers[c["name"]] = ContainerRT(c["name"], c.get("image", ""))
        self.order = [c["name"] for c in pod["spec"].get("containers") or []]
        self.task = None
        self.deleted = False
        self.exec_override = {}  # container -> bytes
        self.exec_cut = {}  # container -> [afterBytes, count]: exec streams dropped mid-way
        self.scheduled = False
        self.unschedulable = False
        self.node = None
        self.ip = None
        self.start_time = None
        self.forced_ready = None


class Controllers:
    def __init__(self, server):
        self.server = server
        self.store = server.store
        self.settings = server.settings
        self.pods = {}  # (ns, name) -> PodRT
        self.wake = asyncio.Event()
        self.task = None
        self.progress = {}  # deployment uid -> last progress time
        self.store.hooks.append(self._hook)

    # ------------------------------------------------------------ plumbing
    def res(self, kind):
        return self.server.reg.for_kind(kind)

    def _hook(self, storage, etype, obj, old):
        if storage in ("apps/deployments", "apps/replicasets", "/pods"):
            self.wake.set()
        if storage == "/pods":
            key = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if etype == "ADDED":
                self._start_pod(obj)
            elif etype == "DELETED":
                self._stop_pod(key, obj)

    async def run(self):
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()
            try:
                self.reconcile()
            except Exception:
                import traceback
                traceback.print_exc()
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------ events
    def event(self, obj, reason, message, etype="Normal", component="", host=None):
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        r = self.res("Event")
        now = rfc3339()
        for ev in self.store.items(r.storage, ns):
            io = ev.get("involvedObject", {})
            if io.get("uid") == md.get("uid") and ev.get("reason") == reason and \
                    ev.get("message") == message:
                ev = deepcopy(ev)
                ev["count"] = ev.get("count", 1) + 1
                ev["lastTimestamp"] = now
                self.store.put(r.storage, ev, "MODIFIED")
                return
        kind = obj.get("kind") or ""
        api_version = obj.get("apiVersion") or ""
        io = {"kind": kind, "namespace": md.get("namespace"), "name": md["name"], "uid": md.get("uid"),
              "apiVersion": api_version, "resourceVersion": md.get("resourceVersion")}
        if not md.get("namespace"):
            io.pop("namespace")
        name = f"{md['name']}.{random.getrandbits(64):016x}"[:253]
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": name, "namespace": ns, "uid": self.server.new_uid(),
                           "creationTimestamp": now},
              "involvedObject": io, "reason": reason, "message": message,
              "source": {"component": component, **({"host": host} if host else {})},
              "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype,
              "eventTime": None, "reportingComponent": component, "reportingInstance": host or ""}
        self.store.put(r.storage, ev, "ADDED")

    # ------------------------------------------------------------ reconcile
    def reconcile(self):
        dr, rr, pr = self.res("Deployment"), self.res("ReplicaSet"), self.res("Pod")
        # each object is (re-)read right before it is reconciled: reconciling one deployment writes
        # ReplicaSets, so a list taken at the start would be stale by the time we get to them
        for d in self.store.items(dr.storage):
            d = self.store.get(dr.storage, d["metadata"].get("namespace"), d["metadata"]["name"])
            if d is None or d["metadata"].get("deletionTimestamp"):
                continue
            self.reconcile_deployment(d, rr, pr)
        for rs in self.store.items(rr.storage):
            rs = self.store.get(rr.storage, rs["metadata"].get("namespace"), rs["metadata"]["name"])
            if rs is None or rs["metadata"].get("deletionTimestamp"):
                continue
            self.reconcile_rs(rs, pr)

    def owned(self, storage, ns, uid):
        return [o for o in self.store.items(storage, ns)
                if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or [])]

    def _scale_rs(self, d, rs, n, rr):
        old = rs["spec"].get("replicas", 1)
        if old == n:
            return rs

        def scale(o):
            o["spec"]["replicas"] = n
        rs = self.server.sys_modify(rr, rs["metadata"]["namespace"], rs["metadata"]["name"], scale,
                                    manager=KCM) or rs
        direction = "up" if n > old else "down"
        if self.server.k8s_version == "1.18":
            msg = f"Scaled {direction} replica set {rs['metadata']['name']} to {n}"
        else:
            msg = f"Scaled {direction} replica set {rs['metadata']['name']} from {old} to {n}"
        self.event(self._with_kind(d, "Deployment", "apps/v1"), "ScalingReplicaSet", msg,
                   component="deployment-controller")
        return rs

    @staticmethod
    def _with_kind(o, kind, api_version):
        o = dict(o)
        o["kind"] = kind
        o["apiVersion"] = api_version
        return o

    def reconcile_deployment(self, d, rr, pr):
        md = d["metadata"]
        ns = md["namespace"]
        spec = d["spec"]
        desired = spec.get("replicas", 1)
        rss = self.owned(rr.storage, ns, md["uid"])
        tmpl = strip_hash(spec.get("template"))
        new_rs = None
        for rs in rss:
            if strip_hash(rs["spec"].get("template")) == tmpl:
                new_rs = rs
                break
        max_rev = max([int(rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision",
                                                                      "0")) for rs in rss] or [0])
        strat = spec.get("strategy") or {}
        surge = unavail = 0
        if strat.get("type", "RollingUpdate") == "RollingUpdate":
            ru = strat.get("rollingUpdate") or {}
            surge = resolve_int_or_percent(ru.get("maxSurge", "25%"), desired, True)
            unavail = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), desired, False)
            if surge == 0 and unavail == 0:
                unavail = 1
        # like copyDeploymentAnnotationsToReplicaSet: every annotation of the deployment except its own
        # bookkeeping goes onto the new ReplicaSet (added or overwritten, never removed)
        copied = {k: v for k, v in (md.get("annotations") or {}).items() if k not in SKIP_COPY_ANNOTATIONS}
        if spec.get("paused"):
            self._deployment_status(d, new_rs, rss, desired, unavail, surge)
            return
        created_new = False
        if new_rs is None:
            h = template_hash(spec.get("template"))
            name = f"{md['name']}-{h}"
            t = deepcopy(spec.get("template"))
            t.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            sel = deepcopy(spec.get("selector"))
            sel.setdefault("matchLabels", {})["pod-template-hash"] = h
            ann = {"deployment.kubernetes.io/desired-replicas": str(desired),
                   "deployment.kubernetes.io/max-replicas": str(desired + surge),
                   "deployment.kubernetes.io/revision": str(max_rev + 1)}
            ann = {**copied, **ann}
            labels = dict(t["metadata"]["labels"])
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": ann,
                               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                    "name": md["name"], "uid": md["uid"], "controller": True,
                                                    "blockOwnerDeletion": True}]},
                  "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds", 0),
                           "selector": sel, "template": t}}
            if self.store.get(rr.storage, ns, name) is not None:
                name = f"{md['name']}-{template_hash(spec.get('template'), 1)}"
                rs["metadata"]["name"] = name
            new_rs = self.server.sys_create(rr, rs, manager=KCM)
            created_new = True
            rss.append(new_rs)
            self.progress[md["uid"]] = ("NewReplicaSetCreated", time.time(),
                                        f'Created new replica set "{name}"')
        else:
            ann = new_rs["metadata"].get("annotations") or {}
            rev = int(ann.get("deployment.kubernetes.io/revision", "0"))
            want = dict(ann)
            if rev < max_rev:  # rollback to an older template
                want["deployment.kubernetes.io/revision"] = str(max_rev + 1)
            want.update(copied)
            want["deployment.kubernetes.io/desired-replicas"] = str(desired)
            want["deployment.kubernetes.io/max-replicas"] = str(desired + surge)
            if want != ann:
                changes = {k: v for k, v in want.items() if ann.get(k) != v}

                def annotate(o):
                    o["metadata"].setdefault("annotations", {}).update(changes)
                new_rs = self.server.sys_modify(rr, ns, new_rs["metadata"]["name"], annotate,
                                                manager=KCM) or new_rs
                rss = [new_rs if r["metadata"]["uid"] == new_rs["metadata"]["uid"] else r for r in rss]
        rev = new_rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        if (md.get("annotations") or {}).get("deployment.kubernetes.io/revision") != rev:
            def set_revision(o):
                o["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = rev
            d = self.server.sys_modify(self.res("Deployment"), ns, md["name"], set_revision, manager=KCM) or d
        olds = [rs for rs in rss if rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        olds.sort(key=lambda r: int(r["metadata"].get("annotations", {})
                                    .get("deployment.kubernetes.io/revision", "0")))

        def ready(rs):
            return (rs.get("status") or {}).get("readyReplicas", 0)

        if strat.get("type") == "Recreate":
            active_old = [rs for rs in olds if rs["spec"].get("replicas", 0) > 0 or
                          (rs.get("status") or {}).get("replicas", 0) > 0]
            for rs in olds:
                if rs["spec"].get("replicas", 0) > 0:
                    self._scale_rs(d, rs, 0, rr)
            if not active_old:
                new_rs = self._scale_rs(d, new_rs, desired, rr)
        else:
            total = sum(rs["spec"].get("replicas", 0) for rs in [new_rs] + olds)
            nr = new_rs["spec"].get("replicas", 0)
            if nr < desired:
                up = min(desired + surge - total, desired - nr)
                if up > 0:
                    new_rs = self._scale_rs(d, new_rs, nr + up, rr)
            elif nr > desired:
                new_rs = self._scale_rs(d, new_rs, desired, rr)
            nr = new_rs["spec"].get("replicas", 0)
            old_total = sum(rs["spec"].get("replicas", 0) for rs in olds)
            if old_total > 0:
                min_avail = desired - unavail
                all_pods = nr + old_total
                new_unavail = max(0, nr - ready(new_rs))
                max_down = all_pods - min_avail - new_unavail
                if max_down > 0:
                    # unhealthy old replicas first
                    for i, rs in enumerate(olds):
                        cur = rs["spec"].get("replicas", 0)
                        bad = max(0, cur - ready(rs))
                        dn = min(bad, max_down)
                        if dn > 0:
                            olds[i] = self._scale_rs(d, rs, cur - dn, rr)
                            max_down -= dn
                    avail = ready(new_rs) + sum(min(ready(rs), rs["spec"].get("replicas", 0)) for rs in olds)
                    down = min(avail - min_avail, max_down)
                    for i, rs in enumerate(olds):
                        if down <= 0:
                            break
                        cur = rs["spec"].get("replicas", 0)
                        dn = min(cur, down)
                        if dn > 0:
                            olds[i] = self._scale_rs(d, rs, cur - dn, rr)
                            down -= dn
        # history cleanup
        limit = spec.get("revisionHistoryLimit", 10)
        dead = [rs for rs in olds if rs["spec"].get("replicas", 0) == 0 and
                (rs.get("status") or {}).get("replicas", 0) == 0]
        if len(dead) > limit:
            for rs in dead[:len(dead) - limit]:
                self.server.sys_delete(rr, ns, rs["metadata"]["name"])
                olds = [o for o in olds if o["metadata"]["uid"] != rs["metadata"]["uid"]]
        self._deployment_status(d, new_rs, [new_rs] + olds, desired, unavail, surge, created_new)

    def _deployment_status(self, d, new_rs, rss, desired, unavail, surge, created_new=False):
        md = d["metadata"]
        st_old = d.get("status") or {}
        total = sum((rs.get("status") or {}).get("replicas", 0) for rs in rss)
        ready = sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in rss)
        avail = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in rss)
        updated = (new_rs.get("status") or {}).get("replicas", 0) if new_rs else 0
        new_ready = (new_rs.get("status") or {}).get("availableReplicas", 0) if new_rs else 0
        st = {"observedGeneration": md.get("generation", 1)}
        if total:
            st["replicas"] = total
        if updated:
            st["updatedReplicas"] = updated
        if ready:
            st["readyReplicas"] = ready
        if avail:
            st["availableReplicas"] = avail
        un = max(0, desired - avail)
        if un:
            st["unavailableReplicas"] = un
        now = rfc3339()
        old_conds = {c["type"]: c for c in st_old.get("conditions") or []}

        def cond(ctype, status, reason, message, progress_update):
            oc = old_conds.get(ctype)
            c = {"type": ctype, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
                 "reason": reason, "message": message}
            if oc:
                if oc.get("status") == status:
                    c["lastTransitionTime"] = oc.get("lastTransitionTime", now)
                if oc.get("status") == status and oc.get("reason") == reason and \
                        oc.get("message") == message and not progress_update:
                    c["lastUpdateTime"] = oc.get("lastUpdateTime", now)
            return c

        available_ok = avail >= desired - unavail
        conds = []
        if available_ok:
            conds.append(cond("Available", "True", "MinimumReplicasAvailable",
                              "Deployment has minimum availability.", False))
        else:
            conds.append(cond("Available", "False", "MinimumReplicasUnavailable",
                              "Deployment does not have minimum availability.", False))
        rsname = new_rs["metadata"]["name"] if new_rs else ""
        complete = new_rs is not None and updated == desired and new_ready >= desired and total == desired \
            and (new_rs["spec"].get("replicas", 0) == desired)
        key = md["uid"]
        prog = self.progress.get(key)
        # progress happens when the new RS's counts change
        sig = (updated, new_ready, total, rsname)
        if prog is None or len(prog) < 4 or prog[3] != sig:
            self.progress[key] = (prog[0] if prog else None, time.time(), prog[2] if prog else "", sig)
            prog = self.progress[key]
            progressed = True
        else:
            progressed = False
        pds = d["spec"].get("progressDeadlineSeconds", 600)
        oc = old_conds.get("Progressing")
        if d["spec"].get("paused"):
            conds.append(cond("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", False))
        elif complete:
            conds.append(cond("Progressing", "True", "NewReplicaSetAvailable",
                              f'ReplicaSet "{rsname}" has successfully progressed.', False))
        elif oc and oc.get("reason") == "ProgressDeadlineExceeded" and not progressed:
            conds.append(oc)
        elif time.time() - prog[1] > pds:
            conds.append(cond("Progressing", "False", "ProgressDeadlineExceeded",
                              f'ReplicaSet "{rsname}" has timed out progressing.', False))
        elif created_new:
            conds.append(cond("Progressing", "True", "NewReplicaSetCreated",
                              f'Created new replica set "{rsname}"', True))
        else:
            conds.append(cond("Progressing", "True", "ReplicaSetUpdated",
                              f'ReplicaSet "{rsname}" is progressing.', progressed))
        # keep condition order stable: Available then Progressing (as real)
        st["conditions"] = conds
        if self._strip_times(st) != self._strip_times(st_old):
            def set_status(o):
                o["status"] = st
            self.server.sys_modify(self.res("Deployment"), md["namespace"], md["name"], set_status,
                                   subresource="status", manager=KCM)

    @staticmethod
    def _strip_times(st):
        st = deepcopy(st or {})
        for c in st.get("conditions") or []:
            c.pop("lastUpdateTime", None)
            c.pop("lastTransitionTime", None)
        return st

    def reconcile_rs(self, rs, pr):
        md = rs["metadata"]
        ns = md["namespace"]
        want = rs["spec"].get("replicas", 1)
        pods = [p for p in self.owned(pr.storage, ns, md["uid"]) if not p["metadata"].get("deletionTimestamp")]
        rsk = self._with_kind(rs, "ReplicaSet", "apps/v1")
        if len(pods) < want:
            for _ in range(want - len(pods)):
                t = deepcopy(rs["spec"].get("template") or {})
                tm = t.get("metadata") or {}
                name = f"{md['name']}-{rand_suffix()}"
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "generateName": md["name"] + "-", "namespace": ns,
                                    "labels": tm.get("labels") or {},
                                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                         "name": md["name"], "uid": md["uid"],
                                                         "controller": True, "blockOwnerDeletion": True}]},
                       "spec": t.get("spec") or {}}
                if tm.get("annotations"):
                    pod["metadata"]["annotations"] = tm["annotations"]
                try:
                    self.server.sys_create(pr, pod, manager=KCM)
                except ApiError as e:
                    self.event(rsk, "FailedCreate", f"Error creating: {e.message}", "Warning",
                               "replicaset-controller")
                    break
                self.event(rsk, "SuccessfulCreate", f"Created pod: {name}", component="replicaset-controller")
        elif len(pods) > want:
            def rank(p):
                rt = self.pods.get((ns, p["metadata"]["name"]))
                ready = 1 if rt and all(c.ready for c in rt.containers.values()) else 0
                return (ready, p["metadata"].get("creationTimestamp", ""))
            pods.sort(key=rank)
            victims = pods[:len(pods) - want]
            pods = pods[len(pods) - want:]
            for p in victims:
                self.server.sys_delete(pr, ns, p["metadata"]["name"])
                self.event(rsk, "SuccessfulDelete", f"Deleted pod: {p['metadata']['name']}",
                           component="replicaset-controller")
        pods = [p for p in self.owned(pr.storage, ns, md["uid"]) if not p["metadata"].get("deletionTimestamp")]
        ready = 0
        for p in pods:
            for c in (p.get("status") or {}).get("conditions") or []:
                if c.get("type") == "Ready" and c.get("status") == "True":
                    ready += 1
        st = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "observedGeneration": md.get("generation", 1)}
        if ready:
            st["readyReplicas"] = ready
            st["availableReplicas"] = ready
        if st != (rs.get("status") or {}):
            def set_status(o):
                o["status"] = st
            self.server.sys_modify(self.res("ReplicaSet"), ns, md["name"], set_status, subresource="status",
                                   manager=KCM)

    # ------------------------------------------------------------ kubelet
    def behaviours(self, pod):
        """Set of behaviour names for a pod (from images and annotations up the owner chain)."""
        out = set()
        for c in pod["spec"].get("containers") or []:
            img = c.get("image", "")
            for b in ("crashloop", "imagepullfail", "unschedulable", "notar", "busybox"):
                if b in img:
                    out.add(b)
            if "ErrImagePull" in img:
                out.add("imagepullfail")
        objs = [pod]
        cur = pod
        for _ in range(3):
            refs = cur["metadata"].get("ownerReferences") or []
            ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
            if not ref:
                break
            r = self.server.reg.for_kind(ref.get("kind"), ref.get("apiVersion", "").split("/")[0]
                                         if "/" in ref.get("apiVersion", "") else "")
            if r is None:
                break
            nxt = self.store.get(r.storage, cur["metadata"].get("namespace"), ref.get("name"))
            if nxt is None:
                break
            objs.append(nxt)
            cur = nxt
        for o in objs:
            for v in ((o["metadata"].get("annotations") or {}).get(BEHAVIOUR_ANN) or "").split(","):
                if v.strip():
                    out.add(v.strip())
        return out

    def pod_root(self, ns, name, container):
        return os.path.join(self.server.dir, "pods", ns, name, container)

    def _make_fs(self, pod):
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        for c in pod["spec"].get("containers") or []:
            root = self.pod_root(ns, name, c["name"])
            for d in ("usr", "proc", "dev", "tmp", "app/logs", "etc", "root", "var/tmp", "run"):
                os.makedirs(os.path.join(root, d), exist_ok=True)
            for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"),
                                 ("sbin", "usr/sbin")):
                p = os.path.join(root, link)
                if not os.path.lexists(p):
                    os.symlink(target, p)
            with open(os.path.join(root, "etc/hostname"), "w") as f:
                f.write(name + "\n")
            with open(os.path.join(root, "etc/hosts"), "w") as f:
                f.write(f"127.0.0.1\tlocalhost\n::1\tlocalhost\n10.244.0.1\t{name}\n")
            with open(os.path.join(root, "etc/passwd"), "w") as f:
                f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
            with open(os.path.join(root, "etc/group"), "w") as f:
                f.write("root:x:0:\nnogroup:x:65534:\n")
            os.chmod(os.path.join(root, "tmp"), 0o1777)
            dn = os.path.join(root, "dev/null")
            if not os.path.exists(dn):
                open(dn, "w").close()

    def _start_pod(self, pod):
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        rt = PodRT(pod)
        self.pods[key] = rt
        try:
            self._make_fs(pod)
        except OSError as e:
            print(f"fakekube: cannot create pod fs: {e}", flush=True)
        rt.task = asyncio.get_event_loop().create_task(self._run_pod(rt))

    def _stop_pod(self, key, pod):
        rt = self.pods.get(key)
        if rt is None or rt.uid != pod["metadata"].get("uid"):
            return
        del self.pods[key]
        rt.deleted = True
        if rt.task:
            rt.task.cancel()
        for c in rt.containers.values():
            if c.started and "running" in c.state:
                self.event(self._with_kind(pod, "Pod", "v1"), "Killing", f"Stopping container {c.name}",
                           component="kubelet", host=rt.node)
            for lb in c.attempts:
                lb.close()
        root = os.path.join(self.server.dir, "pods", key[0], key[1])
        shutil.rmtree(root, ignore_errors=True)

    def _pod(self, rt):
        p = self.store.get(self.res("Pod").storage, rt.ns, rt.name)
        if p is None or p["metadata"]["uid"] != rt.uid:
            return None
        return p

    def write_pod_status(self, rt, spec_node=False):
        """Kubelet status write (subresource status, manager kubelet); with spec_node the scheduler's
        binding (spec.nodeName) is written first. Both are atomic read-modify-writes of the stored pod."""
        pr = self.res("Pod")
        if spec_node:
            def bind(o):  # pods/binding: no managedFields entry, like the real one
                if o["metadata"]["uid"] != rt.uid:
                    return False
                o["spec"]["nodeName"] = rt.node
            self.server.sys_modify(pr, rt.ns, rt.name, bind)

        def kubelet(o):
            if o["metadata"]["uid"] != rt.uid:
                return False
            st = self._pod_status(rt, o.get("status") or {})
            if st == (o.get("status") or {}):
                return False
            o["status"] = st
        self.server.sys_modify(pr, rt.ns, rt.name, kubelet, subresource="status", manager=KUBELET)

    def _pod_status(self, rt, old):
        now = rfc3339()
        st = {"phase": "Pending", "qosClass": old.get("qosClass", "BestEffort")}
        oldc = {c["type"]: c for c in old.get("conditions") or []}

        def cond(t, s, reason=None, message=None):
            c = {"type": t, "status": s, "lastProbeTime": None, "lastTransitionTime": now}
            o = oldc.get(t)
            if o and o.get("status") == s:
                c["lastTransitionTime"] = o.get("lastTransitionTime")
            if reason:
                c["reason"] = reason
            if message:
                c["message"] = message
            return c

        if rt.unschedulable:
            st["conditions"] = [cond("PodScheduled", "False", "Unschedulable",
                                     "0/3 nodes are available: 3 Insufficient memory.")]
        elif rt.scheduled:
            cs_list = []
            for n in rt.order:
                c = rt.containers[n]
                cs = {"name": n, "image": c.image, "imageID": "", "ready": c.ready,
                      "restartCount": c.restart_count, "started": bool(c.started and "running" in c.state),
                      "state": deepcopy(c.state), "lastState": deepcopy(c.last_state)}
                if c.container_id:
                    cs["containerID"] = c.container_id
                    cs["imageID"] = f"docker.io/library/{c.image}@sha256:" + hashlib.sha256(
                        c.image.encode()).hexdigest()
                cs_list.append(cs)
            all_ready = all(c.ready for c in rt.containers.values())
            if rt.forced_ready is not None:
                all_ready = rt.forced_ready
            ever = all(c.started for c in rt.containers.values())
            st["phase"] = "Running" if ever else "Pending"
            unready = [n for n in rt.order if not rt.containers[n].ready]
            conds = []
            if self.server.k8s_version != "1.18":
                conds.append(cond("PodReadyToStartContainers", "True"))
            conds.append(cond("Initialized", "True"))
            if all_ready:
                conds.append(cond("Ready", "True"))
                conds.append(cond("ContainersReady", "True"))
            else:
                msg = f"containers with unready status: [{' '.join(unready)}]"
                conds.append(cond("Ready", "False", "ContainersNotReady", msg))
                conds.append(cond("ContainersReady", "False", "ContainersNotReady", msg))
            conds.append(cond("PodScheduled", "True"))
            st["conditions"] = conds
            st["hostIP"] = "172.18.0.2"
            st["hostIPs"] = [{"ip": "172.18.0.2"}]
            st["podIP"] = rt.ip
            st["podIPs"] = [{"ip": rt.ip}]
            st["startTime"] = rt.start_time
            st["containerStatuses"] = cs_list
        return st

    async def _run_pod(self, rt):
        try:
            await self._run_pod_inner(rt)
        except asyncio.CancelledError:
            pass
        except Exception:
            import traceback
            traceback.print_exc()

    async def _run_pod_inner(self, rt):
        s = self.settings
        await asyncio.sleep(s["schedulingDelay"])
        pod = self._pod(rt)
        if pod is None:
            return
        beh = self.behaviours(pod)
        podk = self._with_kind(pod, "Pod", "v1")
        if "unschedulable" in beh:
            rt.unschedulable = True
            self.write_pod_status(rt)
            self.event(podk, "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory.",
                       "Warning", "default-scheduler")
            return
        rt.scheduled = True
        rt.node = pod["spec"].get("nodeName") or random.choice(NODES)
        rt.ip = f"10.244.{random.randint(0, 3)}.{random.randint(2, 250)}"
        rt.start_time = rfc3339()
        self.event(podk, "Scheduled", f"Successfully assigned {rt.ns}/{rt.name} to {rt.node}",
                   component="default-scheduler")
        self.write_pod_status(rt, spec_node=True)
        await asyncio.gather(*(self._run_container(rt, podk, rt.containers[n], beh) for n in rt.order))

    async def _run_container(self, rt, podk, c, beh):
        s = self.settings
        host = rt.node
        cb = set()
        if "crashloop" in c.image or "crashloop" in beh:
            cb.add("crashloop")
        if "imagepullfail" in c.image or "ErrImagePull" in c.image or "imagepullfail" in beh:
            cb.add("imagepullfail")
        self.event(podk, "Pulling", f'Pulling image "{c.image}"', component="kubelet", host=host)
        await asyncio.sleep(s["pullDelay"])
        if "imagepullfail" in cb:
            msg = (f'Failed to pull image "{c.image}": rpc error: code = NotFound desc = failed to pull and '
                   f'unpack image "docker.io/library/{c.image}": failed to resolve reference '
                   f'"docker.io/library/{c.image}": docker.io/library/{c.image}: not found')
            self.event(podk, "Failed", msg, "Warning", "kubelet", host)
            self.event(podk, "Failed", "Error: ErrImagePull", "Warning", "kubelet", host)
            c.state = {"waiting": {"reason": "ErrImagePull", "message": msg}}
            self.write_pod_status(rt)
            await asyncio.sleep(s["backoffDelay"])
            while True:
                self.event(podk, "BackOff", f'Back-off pulling image "{c.image}"', "Normal", "kubelet", host)
                self.event(podk, "Failed", "Error: ImagePullBackOff", "Warning", "kubelet", host)
                c.state = {"waiting": {"reason": "ImagePullBackOff",
                                       "message": f'Back-off pulling image "{c.image}"'}}
                self.write_pod_status(rt)
                await asyncio.sleep(max(5.0, s["backoffDelay"] * 5))
        self.event(podk, "Pulled", f'Successfully pulled image "{c.image}" in 512ms (512ms including '
                   'waiting). Image size: 1024 bytes.', component="kubelet", host=host)
        first = True
        while True:
            if not first:
                self.event(podk, "Pulled", f'Container image "{c.image}" already present on machine',
                           component="kubelet", host=host)
            first = False
            self.event(podk, "Created", f"Created container {c.name}", component="kubelet", host=host)
            lb = LogBuf()
            c.attempts.append(lb)
            if len(c.attempts) > 3:
                c.attempts[-4].lines = []
            c.container_id = "containerd://" + hashlib.sha256(f"{rt.uid}{c.name}{len(c.attempts)}".encode()
                                                              ).hexdigest()
            started_at = rfc3339()
            c.state = {"running": {"startedAt": started_at}}
            c.started = True
            c.crash_now = asyncio.get_event_loop().create_future()
            self.event(podk, "Started", f"Started container {c.name}", component="kubelet", host=host)
            lb.append(f"Starting {c.image}\n")
            lb.append(f"container {c.name} of pod {rt.name} started\n")
            self.write_pod_status(rt)
            if "crashloop" in cb:
                delay = s["crashDelay"]
            else:
                delay = None
            exit_code = 1
            try:
                await asyncio.wait_for(asyncio.shield(c.crash_now), s["readinessDelay"])
                exit_code = c.crash_now.result()
            except asyncio.TimeoutError:
                if "crashloop" not in cb:
                    c.ready = True
                    self.write_pod_status(rt)
                try:
                    exit_code = await asyncio.wait_for(asyncio.shield(c.crash_now), delay)
                except asyncio.TimeoutError:
                    exit_code = 1
                    lb.append("panic: crashloop behaviour: fatal error, exiting\n")
            # crashed
            c.ready = False
            lb.close()
            fin = rfc3339()
            c.last_state = {"terminated": {"exitCode": exit_code, "reason": "Error" if exit_code else "Completed",
                                           "startedAt": started_at, "finishedAt": fin,
                                           "containerID": c.container_id}}
            c.restart_count += 1
            c.crashed_at = time.monotonic()
            backoff = s["backoffDelay"] * min(2 ** (c.restart_count - 1), 30)
            c.state = {"waiting": {"reason": "CrashLoopBackOff",
                                   "message": f"back-off {int(max(10, backoff))}s restarting failed "
                                              f"container={c.name} pod={rt.name}_{rt.ns}({rt.uid})"}}
            self.write_pod_status(rt)
            self.event(podk, "BackOff", f"Back-off restarting failed container {c.name} in pod "
                       f"{rt.name}_{rt.ns}({rt.uid})", "Warning", "kubelet", host)
            await asyncio.sleep(backoff)

    # ------------------------------------------------------------ logs
    def pod_rt(self, ns, name):
        return self.pods.get((ns, name))

    def pick_container(self, pod, container):
        names = [c["name"] for c in pod["spec"].get("containers") or []]
        if not container:
            if len(names) == 1:
                return names[0]
            default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
            if default in names:
                return default
            raise bad_request(f"a container name must be specified for pod {pod['metadata']['name']}, "
                              f"choose one of: [{' '.join(names)}]")
        if container not in names:
            init = [c["name"] for c in pod["spec"].get("initContainers") or []]
            msg = f"container {container} is not valid for pod {pod['metadata']['name']}"
            if init and container not in init:
                msg = (f"container {container} is not valid for pod {pod['metadata']['name']}")
            raise bad_request(msg)
        return container

    def log_source(self, pod, container, previous):
        rt = self.pod_rt(pod["metadata"]["namespace"], pod["metadata"]["name"])
        pname = pod["metadata"]["name"]
        if rt is None or not rt.scheduled:
            raise bad_request(f'container "{container}" in pod "{pname}" is waiting to start: '
                              "ContainerCreating")
        c = rt.containers[container]
        if previous:
            if c.restart_count < 1 or len(c.attempts) < 1:
                raise bad_request(f'previous terminated container "{container}" in pod "{pname}" not found')
            # Like a kubelet 1.32 for a second or two after a restart (setting previousLogGap):
            # the previous log is not there yet, and the answer is 200 with the kubelet's error.
            gap = self.server.settings.get("previousLogGap", 0)
            if gap and c.crashed_at is not None and time.monotonic() - c.crashed_at < gap:
                raise KubeletLogText("unable to retrieve container logs for " +
                                     c.last_state.get("terminated", {}).get("containerID", ""))
            idx = c.restart_count - 1
            # attempts index == run number
            if idx >= len(c.attempts):
                idx = len(c.attempts) - 1
            return c.attempts[idx]
        if not c.attempts:
            w = c.state.get("waiting", {})
            reason = w.get("reason", "ContainerCreating")
            if reason in ("ImagePullBackOff", "ErrImagePull"):
                raise bad_request(f'container "{container}" in pod "{pname}" is waiting to start: '
                                  "trying and failing to pull image")
            raise bad_request(f'container "{container}" in pod "{pname}" is waiting to start: {reason}')
        return c.attempts[-1]

    async def stream_logs(self, lb, rt, opts, write, alive=None):
        """Write log lines to write(bytes) honouring options; follow when requested. A follow
        stream ends when alive() says the client went away (as the apiserver's does), so it no
        longer counts as open."""
        since_ns = None
        if opts.get("sinceSeconds") is not None:
            since_ns = time.time_ns() - int(opts["sinceSeconds"]) * 1_000_000_000
        if opts.get("sinceTime") is not None:
            since_ns = int(opts["sinceTime"] * 1_000_000_000)
        tail = opts.get("tailLines")
        limit = opts.get("limitBytes")
        ts = opts.get("timestamps")
        cuts = lb.cuts
        lines = lb.lines
        start = 0
        if since_ns is not None:
            while start < len(lines) and lines[start][0] < since_ns:
                start += 1
        if tail is not None:
            start = max(start, len(lines) - tail)
        i = start
        cut_after = None
        if lb.cut_after is not None:
            cut_after = lb.cut_after[0]
            lb.cut_after[1] -= 1
            if lb.cut_after[1] <= 0:
                lb.cut_after = None
        follow = bool(opts.get("follow"))
        if follow:
            lb.following += 1
        try:
            await self._stream_lines(lb, rt, opts, write, i, ts, cut_after, limit, cuts, alive)
        finally:
            if follow:
                lb.following -= 1

    async def _stream_lines(self, lb, rt, opts, write, i, ts, cut_after, limit, cuts, alive):
        sent = 0
        while True:
            while i < len(lb.lines):
                t, data = lb.lines[i]
                i += 1
                if ts:
                    data = rfc3339_nano_fixed(t).encode() + b" " + data
                if cut_after is not None and sent + len(data) >= cut_after:
                    if cut_after > sent:
                        await write(data[:cut_after - sent])
                    raise ConnectionAbortedError("log stream cut by the control API")
                if limit is not None and sent + len(data) > limit:
                    data = data[:limit - sent]
                    await write(data)
                    return
                sent += len(data)
                await write(data)
            if lb.cuts != cuts:
                raise ConnectionAbortedError("log stream cut by the control API")
            if not opts.get("follow") or lb.closed or (rt is not None and rt.deleted):
                return
            ev = lb.changed
            if i < len(lb.lines):
                continue
            while alive is not None and not ev.is_set():
                if not alive():
                    return
                try:
                    await asyncio.wait_for(ev.wait(), 0.2)
                except asyncio.TimeoutError:
                    pass
            await ev.wait()
