"""ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) enforcement, like kube-apiserver's
ValidatingAdmissionPolicy plugin: policies + bindings, matchConstraints / matchResources, matchConditions,
variables, validations (message, messageExpression, reason), failurePolicy, and CEL's authorizer library
backed by the fake's RBAC. Expressions are evaluated by cel.py (a CEL subset)."""
import cel
from kutil import ApiError, invalid, label_match, selector_from_labelselector
from rbac import User

AR = "admissionregistration.k8s.io/"
POLICIES = AR + "validatingadmissionpolicies"
BINDINGS = AR + "validatingadmissionpolicybindings"

REASON_CODES = {"Forbidden": 403, "Invalid": 422, "Unauthorized": 401, "RequestEntityTooLarge": 413}


# ------------------------------------------------------------------ authorizer library

class Decision:
    cel_type = "kubernetes.authorization.Decision"

    def __init__(self, allowed, reason):
        self._allowed = allowed
        self._reason = reason

    def cel_call(self, name, args):
        if args:
            raise cel.CelError(f"found no matching overload for '{name}' with arguments on Decision")
        if name == "allowed":
            return self._allowed
        if name == "reason":
            return self._reason
        if name == "errored":
            return False
        if name == "error":
            return ""
        raise cel.CelError(f"fakekube CEL: unsupported function '{name}' on Decision")


class ResourceCheck:
    cel_type = "kubernetes.authorization.ResourceCheck"

    def __init__(self, authz, user, group, resource="", subresource="", namespace="", name=""):
        self.a = (authz, user)
        self.f = {"group": group, "resource": resource, "subresource": subresource, "namespace": namespace,
                  "name": name}

    def cel_call(self, name, args):
        if name in ("resource", "subresource", "namespace", "name") and len(args) == 1:
            if not isinstance(args[0], str):
                raise cel.CelError(f"found no matching overload for '{name}' applied to "
                                   f"(ResourceCheck, {cel.type_name(args[0])})")
            n = ResourceCheck(*self.a, **self.f)
            n.f[name] = args[0]
            return n
        if name == "check" and len(args) == 1 and isinstance(args[0], str):
            authz, user = self.a
            f = self.f
            ok, reason = authz.authorize(user, args[0], f["group"], f["resource"], f["subresource"], f["name"],
                                         f["namespace"])
            return Decision(ok, reason)
        raise cel.CelError(f"fakekube CEL: unsupported function '{name}' on ResourceCheck")


class PathCheck:
    cel_type = "kubernetes.authorization.PathCheck"

    def __init__(self, authz, user, path):
        self.authz, self.user, self.path = authz, user, path

    def cel_call(self, name, args):
        if name == "check" and len(args) == 1 and isinstance(args[0], str):
            ok, reason = self.authz.authorize(self.user, args[0], "", "", path=self.path)
            return Decision(ok, reason)
        raise cel.CelError(f"fakekube CEL: unsupported function '{name}' on PathCheck")


class GroupCheck:
    cel_type = "kubernetes.authorization.GroupCheck"

    def __init__(self, authz, user, group):
        self.authz, self.user, self.group = authz, user, group

    def cel_call(self, name, args):
        if name == "resource" and len(args) == 1 and isinstance(args[0], str):
            return ResourceCheck(self.authz, self.user, self.group, resource=args[0])
        raise cel.CelError(f"fakekube CEL: unsupported function '{name}' on GroupCheck")


class Authorizer:
    """CEL's `authorizer` variable: checks run with the fake's RBAC for the requesting user."""
    cel_type = "kubernetes.authorization.Authorizer"

    def __init__(self, authz, user, request_check=None):
        self.authz, self.user, self.request_check = authz, user, request_check

    def cel_call(self, name, args):
        if name == "group" and len(args) == 1 and isinstance(args[0], str):
            return GroupCheck(self.authz, self.user, args[0])
        if name == "path" and len(args) == 1 and isinstance(args[0], str):
            return PathCheck(self.authz, self.user, args[0])
        if name == "serviceAccount" and len(args) == 2 and all(isinstance(a, str) for a in args):
            ns, n = args
            sa = User(f"system:serviceaccount:{ns}:{n}", ["system:serviceaccounts", f"system:serviceaccounts:{ns}"])
            return Authorizer(self.authz, sa)
        raise cel.CelError(f"fakekube CEL: unsupported function '{name}' on Authorizer")

    def cel_select(self, field):
        if field == "requestResource" and self.request_check is not None:
            return self.request_check
        raise cel.CelError(f"no such key: {field}")




# ------------------------------------------------------------------ policy validation (on write)

def _expressions(kind, obj):
    spec = obj.get("spec") or {}
    out = []
    if kind == "ValidatingAdmissionPolicy":
        for i, c in enumerate(spec.get("matchConditions") or []):
            out.append((f"spec.matchConditions[{i}].expression", c.get("expression")))
        for i, v in enumerate(spec.get("variables") or []):
            out.append((f"spec.variables[{i}].expression", v.get("expression")))
        for i, v in enumerate(spec.get("validations") or []):
            out.append((f"spec.validations[{i}].expression", v.get("expression")))
            if v.get("messageExpression"):
                out.append((f"spec.validations[{i}].messageExpression", v.get("messageExpression")))
    return out


def validate_object(kind, obj):
    """Validation on create/update of policies and bindings (a subset of the apiserver's)."""
    name = obj.get("metadata", {}).get("name", "")
    spec = obj.get("spec") or {}
    causes = []
    group = "admissionregistration.k8s.io"
    if kind == "ValidatingAdmissionPolicy":
        spec.setdefault("failurePolicy", "Fail")
        if spec["failurePolicy"] not in ("Fail", "Ignore"):
            causes.append(("spec.failurePolicy", f'Unsupported value: "{spec["failurePolicy"]}": supported '
                           'values: "Fail", "Ignore"', "FieldValueNotSupported"))
        mc = spec.setdefault("matchConstraints", {})
        if not mc.get("resourceRules"):
            causes.append(("spec.matchConstraints.resourceRules", "Required value", "FieldValueRequired"))
        if not spec.get("validations") and not spec.get("auditAnnotations"):
            causes.append(("spec.validations", "Required value: validations or auditAnnotations must contain "
                           "at least one item", "FieldValueRequired"))
        for i, v in enumerate(spec.get("validations") or []):
            r = v.get("reason")
            if r is not None and r not in REASON_CODES:
                causes.append((f"spec.validations[{i}].reason", f'Unsupported value: "{r}": supported values: '
                               '"Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge"',
                               "FieldValueNotSupported"))
        for field, expr in _expressions(kind, obj):
            try:
                cel.compile_expr(expr)
            except cel.CelSyntaxError as e:
                causes.append((field, f'Invalid value: "{expr}": compilation failed: ERROR: <input>: {e}',
                               "FieldValueInvalid"))
    else:
        if not spec.get("policyName"):
            causes.append(("spec.policyName", "Required value", "FieldValueRequired"))
        acts = spec.get("validationActions") or []
        if not acts:
            causes.append(("spec.validationActions", "Required value", "FieldValueRequired"))
        for a in acts:
            if a not in ("Deny", "Warn", "Audit"):
                causes.append(("spec.validationActions", f'Unsupported value: "{a}": supported values: "Audit", '
                               '"Deny", "Warn"', "FieldValueNotSupported"))
    if causes:
        raise invalid(kind, group, name, causes)


# ------------------------------------------------------------------ matching

def _resource_matches(entries, res, sub):
    full = f"{res}/{sub}" if sub else res
    for e in entries or []:
        if e == full or e == "*/*":
            return True
        if e == "*" and not sub:
            return True
        if sub and (e == f"{res}/*" or e == f"*/{sub}"):
            return True
    return False


def _rule_matches(rule, a, with_names=True):
    def has(key, v):
        vals = rule.get(key) or []
        return "*" in vals or v in vals
    if not has("operations", a["operation"]) or not has("apiGroups", a["group"]) or \
            not has("apiVersions", a["version"]):
        return False
    if not _resource_matches(rule.get("resources"), a["resource"], a["subresource"]):
        return False
    scope = rule.get("scope") or "*"
    if scope == "Cluster" and a["namespaced"]:
        return False
    if scope == "Namespaced" and not a["namespaced"]:
        return False
    names = rule.get("resourceNames") or []
    if with_names and names and a["name"] not in names:
        return False
    return True


def _selector_matches(sel, labels):
    if sel is None:
        return True
    reqs = selector_from_labelselector(sel)
    return label_match(reqs, labels)


def _match_resources(mr, a, server, required_rules):
    """Whether a MatchResources (policy matchConstraints or binding matchResources) matches."""
    if mr is None:
        return True
    rules = mr.get("resourceRules")
    if rules or required_rules:
        if not any(_rule_matches(r, a) for r in rules or []):
            return False
    if any(_rule_matches(r, a) for r in mr.get("excludeResourceRules") or []):
        return False
    nsel = mr.get("namespaceSelector")
    if nsel is not None:
        if a["resource"] == "namespaces" and a["group"] == "":
            target = a["object"] or a["oldObject"] or {}
            if not _selector_matches(nsel, target.get("metadata", {}).get("labels")):
                return False
        elif a["namespaced"]:
            nso = server.store.get("/namespaces", "", a["namespace"])
            labels = (nso or {}).get("metadata", {}).get("labels")
            if not _selector_matches(nsel, labels):
                return False
        # other cluster-scoped objects: the namespaceSelector never skips them
    osel = mr.get("objectSelector")
    if osel is not None:
        objs = [o for o in (a["object"], a["oldObject"]) if o is not None]
        if not any(_selector_matches(osel, o.get("metadata", {}).get("labels")) for o in objs):
            return False
    return True


# ------------------------------------------------------------------ evaluation

class _PolicyFailure(Exception):
    def __init__(self, message, reason=""):
        super().__init__(message)
        self.message = message
        self.reason = reason


def _expr_error(expr, e):
    return f"expression '{expr}' resulted in error: {e}"


def _eval(expr, env):
    """Evaluate; any CEL error (including an expression the fake's subset cannot parse) becomes
    'expression ... resulted in error: ...'."""
    try:
        return cel.evaluate(cel.compile_expr(expr), env), None
    except cel.CelError as e:
        return None, _expr_error(expr, e)


def _evaluate_policy(policy, env):
    """Returns None (admit / skipped) or raises _PolicyFailure with the decision's message/reason.
    Errors raise _PolicyFailure with reason "" and a flag, handled by the caller per failurePolicy."""
    spec = policy.get("spec") or {}
    # matchConditions: any false -> skip; otherwise errors -> policy error
    errs = []
    for c in spec.get("matchConditions") or []:
        v, err = _eval(c.get("expression", ""), env)
        if err is None and not isinstance(v, bool):
            err = _expr_error(c.get("expression", ""), f"expected a bool, got {cel.type_name(v)}")
        if err is not None:
            errs.append(err)
            continue
        if v is False:
            return None
    if errs:
        raise _PolicyError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    for val in spec.get("validations") or []:
        expr = val.get("expression", "")
        v, err = _eval(expr, env)
        if err is None and not isinstance(v, bool):
            err = _expr_error(expr, f"expected a bool, got {cel.type_name(v)}")
        if err is not None:
            raise _PolicyError(err)
        if v:
            continue
        message = ""
        if val.get("messageExpression"):
            m, merr = _eval(val["messageExpression"], env)
            # like the apiserver: an erroring, non-string, blank or multi-line messageExpression
            # result falls back to the static message
            if merr is None and isinstance(m, str) and m.strip() and "\n" not in m:
                message = m
        if not message:
            message = val.get("message") or f"failed expression: {expr.strip()}"
        raise _PolicyFailure(message, val.get("reason") or "Invalid")
    return None


class _PolicyError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _qualified(a):
    return f"{a['resource']}.{a['group']}" if a["group"] else a["resource"]


def admit(server, r, operation, obj, old, subresource="", dry_run=False, user=None, kind=None):
    """Run every Deny binding's policy on the request; raise ApiError to reject it.

    operation: CREATE | UPDATE | DELETE | CONNECT. obj is None on DELETE, old None on CREATE.
    kind: (group, version, kind) of the object when it is not r's own kind (the Scale of /scale)."""
    bindings = server.store.items(BINDINGS)
    if not bindings or user is None:
        return
    src = obj if obj is not None else old
    md = (src or {}).get("metadata", {})
    name = md.get("name", "")
    namespace = md.get("namespace", "") if r.namespaced else ""
    a = {"operation": operation, "group": r.group, "version": r.version, "resource": r.plural,
         "subresource": subresource or "", "name": name, "namespace": namespace, "namespaced": r.namespaced,
         "object": obj, "oldObject": old}
    denied = []
    for b in sorted(bindings, key=lambda o: o["metadata"]["name"]):
        bspec = b.get("spec") or {}
        if "Deny" not in (bspec.get("validationActions") or []):
            continue  # Warn / Audit are not implemented by the fake
        policy = server.store.get(POLICIES, "", bspec.get("policyName", ""))
        if policy is None:
            continue  # a binding to a missing policy is ignored
        pspec = policy.get("spec") or {}
        if not _match_resources(pspec.get("matchConstraints") or {}, a, server, True):
            continue
        if not _match_resources(bspec.get("matchResources"), a, server, False):
            continue
        pname, bname = policy["metadata"]["name"], b["metadata"]["name"]
        if pspec.get("paramKind"):  # (a paramRef without paramKind is ignored, like the apiserver does)
            raise ApiError(500, "InternalError", f"fakekube does not support paramKind/paramRef "
                           f"(ValidatingAdmissionPolicy '{pname}' with binding '{bname}')")
        env = _environment(server, r, a, user, dry_run, pspec, kind)
        try:
            _evaluate_policy(policy, env)
        except _PolicyFailure as f:
            denied.append((pname, bname, f.message, f.reason))
        except _PolicyError as e:
            if (pspec.get("failurePolicy") or "Fail") == "Fail":
                denied.append((pname, bname, e.message, "Invalid"))
    if denied:
        pname, bname, message, reason = denied[0]
        msg = f"ValidatingAdmissionPolicy '{pname}' with binding '{bname}' denied request: {message}"
        head = f'{_qualified(a)} "{name}" is forbidden' if name else f"{_qualified(a)} is forbidden"
        raise ApiError(REASON_CODES.get(reason, 422), reason, f"{head}: {msg}", name=name, group=r.group,
                       kind=r.plural, causes=[{"message": msg}])


def _environment(server, r, a, user, dry_run, pspec, kind=None):
    g, v, k = kind or (r.group, r.version, r.kind)
    ns_obj = None
    if a["namespaced"] and a["namespace"]:
        ns_obj = server.store.get("/namespaces", "", a["namespace"])
    req = {
        "uid": server.new_uid(),
        "kind": {"group": g, "version": v, "kind": k},
        "resource": {"group": r.group, "version": r.version, "resource": r.plural},
        "requestKind": {"group": g, "version": v, "kind": k},
        "requestResource": {"group": r.group, "version": r.version, "resource": r.plural},
        "name": a["name"],
        "namespace": a["namespace"],
        "operation": a["operation"],
        "userInfo": {"username": user.name, "uid": user.uid or "", "groups": list(user.groups),
                     "extra": dict(user.extra or {})},
        "dryRun": bool(dry_run),
    }
    if a["subresource"]:
        req["subResource"] = a["subresource"]
        req["requestSubResource"] = a["subresource"]
    env_vars = {
        "object": a["object"],
        "oldObject": a["oldObject"],
        "request": req,
        "namespaceObject": ns_obj,
        "params": None,
        "authorizer": Authorizer(server.authz, user,
                                 ResourceCheck(server.authz, user, r.group, r.plural, a["subresource"],
                                               a["namespace"], a["name"])),
    }
    env = cel.Env(env_vars)
    lazies = {}
    for v in pspec.get("variables") or []:
        vname, expr = v.get("name", ""), v.get("expression", "")

        def compute(expr=expr):
            return cel.evaluate(cel.compile_expr(expr), env)
        lazies[vname] = cel.Lazy(compute)
    env_vars["variables"] = cel.LazyMap(lazies)
    return env
