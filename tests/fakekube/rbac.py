"""RBAC evaluation over the Roles/ClusterRoles/bindings held in the store."""

RBAC = "rbac.authorization.k8s.io/"


class User:
    def __init__(self, name, groups=(), uid="", extra=None):
        self.name = name
        groups = list(groups)
        if "system:authenticated" not in groups:
            groups.append("system:authenticated")
        self.groups = groups
        self.uid = uid
        self.extra = extra or {}

    def info(self):
        d = {"username": self.name, "groups": self.groups}
        if self.uid:
            d["uid"] = self.uid
        if self.extra:
            d["extra"] = self.extra
        return d


def _matches(values, v):
    return "*" in values or v in values


def rule_allows(rule, verb, group, resource, subresource, name):
    if not _matches(rule.get("verbs") or [], verb):
        return False
    if "resources" not in rule and "nonResourceURLs" in rule:
        return False
    if not _matches(rule.get("apiGroups") or [], group):
        return False
    res = rule.get("resources") or []
    full = f"{resource}/{subresource}" if subresource else resource
    ok = False
    for r in res:
        if r == "*" or r == full:
            ok = True
        elif subresource and r == f"*/{subresource}":
            ok = True
        elif r == f"{resource}/*" and subresource:
            ok = True
    if not ok:
        return False
    names = rule.get("resourceNames") or []
    if names and name not in names:
        return False
    return True


def nonresource_allows(rule, verb, path):
    if not _matches(rule.get("verbs") or [], verb):
        return False
    for u in rule.get("nonResourceURLs") or []:
        if u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])):
            return True
    return False


def subject_matches(subj, user):
    kind = subj.get("kind")
    if kind == "User":
        return subj.get("name") == user.name
    if kind == "Group":
        return subj.get("name") in user.groups
    if kind == "ServiceAccount":
        return user.name == f"system:serviceaccount:{subj.get('namespace', '')}:{subj.get('name')}"
    return False


class Authorizer:
    def __init__(self, store):
        self.store = store

    def _role_rules(self, ref, ns):
        if ref.get("kind") == "ClusterRole":
            r = self.store.get(RBAC + "clusterroles", "", ref.get("name"))
        else:
            r = self.store.get(RBAC + "roles", ns, ref.get("name"))
        if r is None:
            return []
        rules = list(r.get("rules") or [])
        agg = r.get("aggregationRule")
        if agg and ref.get("kind") == "ClusterRole":
            from kutil import selector_from_labelselector, label_match
            for sel in agg.get("clusterRoleSelectors") or []:
                reqs = selector_from_labelselector(sel)
                for cr in self.store.items(RBAC + "clusterroles"):
                    if cr["metadata"]["name"] != r["metadata"]["name"] and \
                            label_match(reqs, cr["metadata"].get("labels")):
                        rules += cr.get("rules") or []
        return rules

    def authorize(self, user, verb, group, resource, subresource="", name="", namespace="",
                  path=None):
        """Returns (allowed, reason)."""
        if "system:masters" in user.groups:
            return True, ""
        for crb in self.store.items(RBAC + "clusterrolebindings"):
            if not any(subject_matches(s, user) for s in crb.get("subjects") or []):
                continue
            for rule in self._role_rules(crb.get("roleRef", {}), ""):
                ok = nonresource_allows(rule, verb, path) if path is not None else \
                    rule_allows(rule, verb, group, resource, subresource, name)
                if ok:
                    return True, (f'RBAC: allowed by ClusterRoleBinding "{crb["metadata"]["name"]}" of '
                                  f'ClusterRole "{crb["roleRef"].get("name")}" to {_who(user)}')
        if namespace and path is None:
            for rb in self.store.items(RBAC + "rolebindings", namespace):
                if not any(subject_matches(s, user) for s in rb.get("subjects") or []):
                    continue
                ref = rb.get("roleRef", {})
                for rule in self._role_rules(ref, namespace):
                    if rule_allows(rule, verb, group, resource, subresource, name):
                        return True, (f'RBAC: allowed by RoleBinding "{rb["metadata"]["name"]}/{namespace}" '
                                      f'of {ref.get("kind")} "{ref.get("name")}" to {_who(user)}')
        return False, ""

    def rules_for(self, user, namespace):
        if "system:masters" in user.groups:
            return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}], \
                   [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        res, nonres = [], []
        binds = [(b, "") for b in self.store.items(RBAC + "clusterrolebindings")]
        binds += [(b, namespace) for b in self.store.items(RBAC + "rolebindings", namespace)]
        for b, ns in binds:
            if not any(subject_matches(s, user) for s in b.get("subjects") or []):
                continue
            for rule in self._role_rules(b.get("roleRef", {}), ns or namespace):
                (nonres if "nonResourceURLs" in rule else res).append(rule)
        return res, nonres


def _covers_one(owner, verb, group, resource, name):
    """Whether one owner rule grants (verb, group, resource[, name]); '*' is only covered by '*'."""
    if not (_matches(owner.get("verbs") or [], verb) and _matches(owner.get("apiGroups") or [], group)):
        return False
    ok = False
    for r in owner.get("resources") or []:
        if r == "*" or r == resource:
            ok = True
        elif "/" in resource and resource != "*":
            base, sub = resource.split("/", 1)
            if r == f"*/{sub}" or r == f"{base}/*":
                ok = True
    if not ok:
        return False
    names = owner.get("resourceNames") or []
    return not names or (name is not None and name in names)


def _covers_nonresource(owner, verb, url):
    if not _matches(owner.get("verbs") or [], verb):
        return False
    for u in owner.get("nonResourceURLs") or []:
        if u == "*" or u == url or (u.endswith("*") and url.startswith(u[:-1])):
            return True
    return False


def uncovered_rules(owner_rules, requested_rules):
    """The requested rules (broken down per verb/group/resource/name) no owner rule grants, like the
    apiserver's ConfirmNoEscalation."""
    missing = []
    for rule in requested_rules:
        if "nonResourceURLs" in rule and "resources" not in rule:
            for v in rule.get("verbs") or []:
                for u in rule.get("nonResourceURLs") or []:
                    if not any(_covers_nonresource(o, v, u) for o in owner_rules):
                        missing.append({"NonResourceURLs": [u], "Verbs": [v]})
            continue
        names = rule.get("resourceNames") or [None]
        for g in rule.get("apiGroups") or []:
            for res in rule.get("resources") or []:
                for n in names:
                    for v in rule.get("verbs") or []:
                        if not any(_covers_one(o, v, g, res, n) for o in owner_rules):
                            m = {"APIGroups": [g], "Resources": [res], "Verbs": [v]}
                            if n is not None:
                                m["ResourceNames"] = [n]
                            missing.append(m)
    return missing


def _go_rule(m):
    parts = []
    for k in ("APIGroups", "Resources", "ResourceNames", "NonResourceURLs", "Verbs"):
        if k in m:
            parts.append(k + ":[" + " ".join(f'"{x}"' for x in m[k]) + "]")
    return "{" + ", ".join(parts) + "}"


def escalation_message(user, missing):
    groups = " ".join(f'"{g}"' for g in user.groups)
    return (f'user "{user.name}" (groups=[{groups}]) is attempting to grant RBAC permissions not currently '
            f'held:\n' + "\n".join(_go_rule(m) for m in missing))


def _who(user):
    if user.name.startswith("system:serviceaccount:"):
        _, _, ns, n = user.name.split(":", 3)
        return f'ServiceAccount "{n}/{ns}"'
    return f'User "{user.name}"'


def forbidden_message(user, verb, group, resource, subresource, name, namespace, path=None):
    if path is not None:
        return f'forbidden: User "{user.name}" cannot {verb} path "{path}"'
    full = f"{resource}/{subresource}" if subresource else resource
    q = f"{resource}.{group}" if group else resource
    head = f'{q} "{name}" is forbidden' if name else f"{q} is forbidden"
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return f'{head}: User "{user.name}" cannot {verb} resource "{full}" in API group "{group}" {where}'


ALL_READ = ["get", "list", "watch"]
ALL_WRITE = ["create", "delete", "deletecollection", "patch", "update"]


def default_cluster_roles():
    core_ns = ["pods", "pods/log", "pods/status", "services", "services/status", "endpoints",
               "configmaps", "persistentvolumeclaims", "persistentvolumeclaims/status",
               "serviceaccounts", "events", "limitranges", "resourcequotas", "resourcequotas/status",
               "replicationcontrollers", "namespaces/status", "bindings"]
    apps = ["deployments", "deployments/scale", "deployments/status", "replicasets",
            "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale",
            "statefulsets/status", "daemonsets", "daemonsets/status", "controllerrevisions"]
    batch = ["jobs", "jobs/status", "cronjobs", "cronjobs/status"]
    net = ["ingresses", "ingresses/status", "networkpolicies"]
    view_rules = [
        {"apiGroups": [""], "resources": core_ns,
         "verbs": ALL_READ},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ALL_READ},
        {"apiGroups": ["apps"], "resources": apps, "verbs": ALL_READ},
        {"apiGroups": ["batch"], "resources": batch, "verbs": ALL_READ},
        {"apiGroups": ["networking.k8s.io", "extensions"], "resources": net, "verbs": ALL_READ},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ALL_READ},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ALL_READ},
    ]
    edit_rules = [
        {"apiGroups": [""], "resources": ["pods", "pods/attach", "pods/exec", "pods/portforward",
                                           "pods/proxy", "pods/eviction"],
         "verbs": ALL_READ + ALL_WRITE},
        {"apiGroups": [""], "resources": ["configmaps", "endpoints", "persistentvolumeclaims",
                                           "replicationcontrollers", "secrets", "serviceaccounts",
                                           "services", "events"],
         "verbs": ALL_READ + ALL_WRITE},
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ALL_READ},
        {"apiGroups": ["apps"], "resources": apps, "verbs": ALL_READ + ALL_WRITE},
        {"apiGroups": ["batch"], "resources": batch, "verbs": ALL_READ + ALL_WRITE},
        {"apiGroups": ["networking.k8s.io", "extensions"], "resources": net,
         "verbs": ALL_READ + ALL_WRITE},
    ] + view_rules
    admin_rules = edit_rules + [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
         "verbs": ALL_READ + ALL_WRITE},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"],
         "verbs": ["create"]},
    ]
    basic = [
        {"apiGroups": ["authorization.k8s.io"],
         "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
         "verbs": ["create"]},
    ]
    discovery = [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                      "/readyz", "/version", "/version/", "/openapi", "/openapi/*"],
                  "verbs": ["get"]}]

    def cr(name, rules, labels=None):
        o = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
             "rules": rules}
        if labels:
            o["metadata"]["labels"].update(labels)
        return o

    roles = [
        cr("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                             {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        cr("admin", admin_rules),
        cr("edit", edit_rules),
        cr("view", view_rules),
        cr("system:basic-user", basic),
        cr("system:discovery", discovery),
        cr("system:public-info-viewer", [{"nonResourceURLs": ["/healthz", "/livez", "/readyz",
                                                              "/version", "/version/"],
                                          "verbs": ["get"]}]),
    ]

    def crb(name, role, group):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]}

    bindings = [
        crb("cluster-admin", "cluster-admin", "system:masters"),
        crb("system:basic-user", "system:basic-user", "system:authenticated"),
        crb("system:discovery", "system:discovery", "system:authenticated"),
        crb("system:public-info-viewer", "system:public-info-viewer", "system:authenticated"),
    ]
    return roles, bindings
