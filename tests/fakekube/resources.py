"""Registry of the API resources the fake serves, discovery documents, and Table conversion."""
import time

from kutil import human_duration, labelselector_to_string

CRUD = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
CRUD_NS = ["create", "delete", "get", "list", "patch", "update", "watch"]


class Res:
    def __init__(self, group, version, plural, kind, namespaced=True, short=(), verbs=None,
                 singular=None, subresources=(), categories=(), storage=None, name_kind="subdomain",
                 status_sub=False, generation=False):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short = list(short)
        self.verbs = verbs or CRUD
        self.singular = singular or kind.lower()
        self.subresources = list(subresources)  # list of (name, kind, verbs)
        self.categories = list(categories)
        # objects of several versions of the same resource share one store
        self.storage = storage or f"{group}/{plural}"
        self.name_kind = name_kind
        self.status_sub = status_sub
        self.generation = generation

    @property
    def gv(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    def __repr__(self):
        return f"<Res {self.gv} {self.plural}>"


def build_registry(k8s_version, kubesphere=False):
    old = k8s_version == "1.18"
    R = []
    R += [
        Res("", "v1", "namespaces", "Namespace", namespaced=False, short=["ns"], verbs=CRUD_NS,
            subresources=[("status", "Namespace", ["get", "patch", "update"]),
                          ("finalize", "Namespace", ["update"])], name_kind="label", status_sub=True),
        Res("", "v1", "pods", "Pod", short=["po"], categories=["all"], status_sub=True,
            subresources=[("status", "Pod", ["get", "patch", "update"]), ("log", "Pod", ["get"]),
                          ("exec", "PodExecOptions", ["create", "get"]),
                          ("attach", "PodAttachOptions", ["create", "get"]),
                          ("portforward", "PodPortForwardOptions", ["create", "get"]),
                          ("binding", "Binding", ["create"]),
                          ("eviction", "Eviction", ["create"])]),
        Res("", "v1", "services", "Service", short=["svc"], categories=["all"], name_kind="label",
            verbs=CRUD_NS, status_sub=True,
            subresources=[("status", "Service", ["get", "patch", "update"])]),
        Res("", "v1", "endpoints", "Endpoints", short=["ep"], singular="endpoints"),
        Res("", "v1", "configmaps", "ConfigMap", short=["cm"]),
        Res("", "v1", "secrets", "Secret"),
        Res("", "v1", "serviceaccounts", "ServiceAccount", short=["sa"],
            subresources=[("token", "TokenRequest", ["create"])]),
        Res("", "v1", "events", "Event", short=["ev"], singular="event"),
        Res("", "v1", "resourcequotas", "ResourceQuota", short=["quota"], status_sub=True,
            subresources=[("status", "ResourceQuota", ["get", "patch", "update"])]),
        Res("", "v1", "limitranges", "LimitRange", short=["limits"]),
        Res("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=["pvc"], status_sub=True,
            subresources=[("status", "PersistentVolumeClaim", ["get", "patch", "update"])]),
        Res("", "v1", "nodes", "Node", namespaced=False, short=["no"], status_sub=True,
            subresources=[("status", "Node", ["get", "patch", "update"])]),
        Res("apps", "v1", "deployments", "Deployment", short=["deploy"], categories=["all"],
            status_sub=True, generation=True,
            subresources=[("status", "Deployment", ["get", "patch", "update"]),
                          ("scale", "Scale", ["get", "patch", "update"])]),
        Res("apps", "v1", "replicasets", "ReplicaSet", short=["rs"], categories=["all"],
            status_sub=True, generation=True,
            subresources=[("status", "ReplicaSet", ["get", "patch", "update"]),
                          ("scale", "Scale", ["get", "patch", "update"])]),
        Res("apps", "v1", "statefulsets", "StatefulSet", short=["sts"], categories=["all"],
            status_sub=True, generation=True,
            subresources=[("status", "StatefulSet", ["get", "patch", "update"]),
                          ("scale", "Scale", ["get", "patch", "update"])]),
        Res("apps", "v1", "daemonsets", "DaemonSet", short=["ds"], categories=["all"],
            status_sub=True, generation=True,
            subresources=[("status", "DaemonSet", ["get", "patch", "update"])]),
        Res("batch", "v1", "jobs", "Job", categories=["all"], status_sub=True, generation=True,
            subresources=[("status", "Job", ["get", "patch", "update"])]),
        Res("batch", "v1", "cronjobs", "CronJob", short=["cj"], categories=["all"], status_sub=True,
            generation=True, subresources=[("status", "CronJob", ["get", "patch", "update"])]),
        Res("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=["netpol"],
            generation=True),
        Res("rbac.authorization.k8s.io", "v1", "roles", "Role", name_kind="path"),
        Res("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", name_kind="path"),
        Res("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False, name_kind="path"),
        Res("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
            namespaced=False, name_kind="path"),
        Res("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
            namespaced=False, verbs=["create"]),
        Res("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview",
            namespaced=False, verbs=["create"]),
    ]
    if old:
        ing_store = "networking.k8s.io/ingresses"
        R += [
            Res("extensions", "v1beta1", "ingresses", "Ingress", short=["ing"], storage=ing_store,
                status_sub=True, generation=True,
                subresources=[("status", "Ingress", ["get", "patch", "update"])]),
            Res("networking.k8s.io", "v1beta1", "ingresses", "Ingress", short=["ing"],
                storage=ing_store, status_sub=True, generation=True,
                subresources=[("status", "Ingress", ["get", "patch", "update"])]),
        ]
    else:
        R += [
            Res("networking.k8s.io", "v1", "ingresses", "Ingress", short=["ing"], status_sub=True,
                generation=True, subresources=[("status", "Ingress", ["get", "patch", "update"])]),
            Res("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
            Res("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview",
                namespaced=False, verbs=["create"]),
            Res("events.k8s.io", "v1", "events", "Event", short=["ev"], storage="/events"),
            # GA in 1.21: external routes to IPs write these (selectorless Services)
            Res("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
        ]
    if not old:
        # ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) since 1.30; enforced by admission.py
        R += [
            Res("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy",
                namespaced=False, generation=True, status_sub=True,
                subresources=[("status", "ValidatingAdmissionPolicy", ["get", "patch", "update"])]),
            Res("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
                "ValidatingAdmissionPolicyBinding", namespaced=False, generation=True),
        ]
    if kubesphere:
        # The one KubeSphere tenant CRD wb uses, served as if its CRD were installed.
        R += [Res("tenant.kubesphere.io", "v1alpha2", "workspacetemplates", "WorkspaceTemplate",
                  namespaced=False, generation=True)]
    return R


class Registry:
    def __init__(self, k8s_version, kubesphere=False):
        self.k8s_version = k8s_version
        self.resources = build_registry(k8s_version, kubesphere)
        self.by_gvr = {(r.group, r.version, r.plural): r for r in self.resources}
        self.groups = []  # ordered (group, [versions])
        for r in self.resources:
            for g, vs in self.groups:
                if g == r.group:
                    if r.version not in vs:
                        vs.append(r.version)
                    break
            else:
                self.groups.append((r.group, [r.version]))

    def lookup(self, group, version, plural):
        return self.by_gvr.get((group, version, plural))

    def for_kind(self, kind, group=None):
        for r in self.resources:
            if r.kind == kind and (group is None or r.group == group):
                return r
        return None

    def by_storage(self, storage):
        return [r for r in self.resources if r.storage == storage]

    def has_version(self, group, version):
        return any(r.group == group and r.version == version for r in self.resources)

    # ------------------------------------------------------------ discovery docs
    def api_versions(self):
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": "127.0.0.1:6443"}]}

    def api_group(self, g, vs):
        gvs = [{"groupVersion": f"{g}/{v}", "version": v} for v in vs]
        return {"name": g, "versions": gvs, "preferredVersion": gvs[0]}

    def api_group_list(self):
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [self.api_group(g, vs) for g, vs in self.groups if g]}

    def resource_list(self, group, version):
        out = []
        for r in self.resources:
            if r.group != group or r.version != version:
                continue
            e = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": r.verbs}
            if r.short:
                e["shortNames"] = r.short
            if r.categories:
                e["categories"] = r.categories
            out.append(e)
            for sub, kind, verbs in r.subresources:
                se = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                      "kind": kind or r.kind, "verbs": verbs}
                if sub == "scale":
                    se["group"] = "autoscaling"
                    se["version"] = "v1"
                if sub == "token":
                    se["group"] = "authentication.k8s.io"
                    se["version"] = "v1"
                out.append(se)
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


# ---------------------------------------------------------------- tables

def _age(obj):
    ts = obj.get("metadata", {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    from kutil import parse_time
    try:
        return human_duration(time.time() - parse_time(ts))
    except ValueError:
        return "<unknown>"


def _col(name, typ="string", fmt="", desc="", prio=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": prio}


NAME_COL = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE_COL = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when this "
                           "object was created.")


def pod_status_reason(pod):
    st = pod.get("status", {})
    reason = st.get("reason") or st.get("phase") or "Pending"
    for cs in st.get("containerStatuses") or []:
        state = cs.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            t = state["terminated"]
            reason = t.get("reason") or (f"ExitCode:{t.get('exitCode')}")
    if st.get("phase") == "Pending":
        for c in st.get("conditions") or []:
            if c.get("type") == "PodScheduled" and c.get("status") == "False":
                reason = "Pending"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(o):
    st = o.get("status", {})
    cs = st.get("containerStatuses") or []
    n = len(o.get("spec", {}).get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in cs)
    rs = str(restarts)
    last = None
    for c in cs:
        t = (c.get("lastState") or {}).get("terminated")
        if t and t.get("finishedAt"):
            last = max(last or t["finishedAt"], t["finishedAt"])
    if restarts and last:
        from kutil import parse_time
        rs = f"{restarts} ({human_duration(time.time() - parse_time(last))} ago)"
    return [o["metadata"]["name"], f"{ready}/{n}", pod_status_reason(o), rs, _age(o),
            st.get("podIP") or "<none>", o.get("spec", {}).get("nodeName") or "<none>", "<none>", "<none>"]


def _deploy_row(o):
    spec, st = o.get("spec", {}), o.get("status", {})
    cs = spec.get("template", {}).get("spec", {}).get("containers") or []
    return [o["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(o),
            ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs),
            labelselector_to_string(spec.get("selector") or {})]


def _rs_row(o):
    spec, st = o.get("spec", {}), o.get("status", {})
    cs = spec.get("template", {}).get("spec", {}).get("containers") or []
    return [o["metadata"]["name"], spec.get("replicas", 1), st.get("replicas", 0),
            st.get("readyReplicas", 0), _age(o), ",".join(c.get("name", "") for c in cs),
            ",".join(c.get("image", "") for c in cs),
            labelselector_to_string(spec.get("selector") or {})]


def _svc_row(o):
    spec = o.get("spec", {})
    ports = ",".join(
        f"{p.get('port')}{(':' + str(p['nodePort'])) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []) or "<none>"
    ext = ",".join(spec.get("externalIPs") or []) or ("<pending>" if spec.get("type") == "LoadBalancer"
                                                       else "<none>")
    return [o["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), ext,
            ports, _age(o), ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()) or "<none>"]


def _event_row(o):
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    from kutil import parse_time
    try:
        ls = human_duration(time.time() - parse_time(last)) if last else "<unknown>"
    except ValueError:
        ls = "<unknown>"
    io = o.get("involvedObject", {})
    return [ls, o.get("type", ""), o.get("reason", ""),
            f"{(io.get('kind') or '').lower()}/{io.get('name', '')}", o.get("message", "")]


TABLES = {
    "Pod": ([_col("Name", fmt="name"), _col("Ready"), _col("Status"), _col("Restarts"), AGE_COL,
             _col("IP", prio=1), _col("Node", prio=1), _col("Nominated Node", prio=1),
             _col("Readiness Gates", prio=1)], _pod_row),
    "Deployment": ([_col("Name", fmt="name"), _col("Ready"), _col("Up-to-date", "integer"),
                    _col("Available", "integer"), AGE_COL, _col("Containers", prio=1),
                    _col("Images", prio=1), _col("Selector", prio=1)], _deploy_row),
    "ReplicaSet": ([_col("Name", fmt="name"), _col("Desired", "integer"), _col("Current", "integer"),
                    _col("Ready", "integer"), AGE_COL, _col("Containers", prio=1), _col("Images", prio=1),
                    _col("Selector", prio=1)], _rs_row),
    "Namespace": ([_col("Name", fmt="name"), _col("Status"), AGE_COL],
                  lambda o: [o["metadata"]["name"], o.get("status", {}).get("phase", "Active"), _age(o)]),
    "ConfigMap": ([_col("Name", fmt="name"), _col("Data", "integer"), AGE_COL],
                  lambda o: [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                             _age(o)]),
    "Secret": ([_col("Name", fmt="name"), _col("Type"), _col("Data", "integer"), AGE_COL],
               lambda o: [o["metadata"]["name"], o.get("type", "Opaque"), len(o.get("data") or {}), _age(o)]),
    "Service": ([_col("Name", fmt="name"), _col("Type"), _col("Cluster-IP"), _col("External-IP"),
                 _col("Port(s)"), AGE_COL, _col("Selector", prio=1)], _svc_row),
    "ServiceAccount": ([_col("Name", fmt="name"), _col("Secrets", "integer"), AGE_COL],
                       lambda o: [o["metadata"]["name"], len(o.get("secrets") or []), _age(o)]),
    "Event": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")],
              _event_row),
    "Node": ([_col("Name", fmt="name"), _col("Status"), _col("Roles"), AGE_COL, _col("Version")],
             lambda o: [o["metadata"]["name"], "Ready", "<none>", _age(o),
                        o.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")]),
    "Ingress": ([_col("Name", fmt="name"), _col("Class"), _col("Hosts"), _col("Address"), _col("Ports"),
                 AGE_COL],
                lambda o: [o["metadata"]["name"], o.get("spec", {}).get("ingressClassName") or "<none>",
                           ",".join(r.get("host", "*") for r in o.get("spec", {}).get("rules") or []) or "*",
                           "", "443" if o.get("spec", {}).get("tls") else "80", _age(o)]),
}


def partial_meta(obj):
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {})}


def to_table(kind, objs, list_meta, include_object="Metadata", with_columns=True):
    cols, rowf = TABLES.get(kind, ([NAME_COL, AGE_COL], lambda o: [o["metadata"]["name"], _age(o)]))
    rows = []
    for o in objs:
        if include_object == "Object":
            ro = o
        elif include_object == "None":
            ro = None
        else:
            ro = partial_meta(o)
        row = {"cells": rowf(o)}
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    t = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "rows": rows}
    if with_columns:
        t["columnDefinitions"] = cols
    else:
        t["columnDefinitions"] = None
    return t
