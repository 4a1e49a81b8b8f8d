"""Per-kind defaulting and validation (a small subset of what the real admission chain does)."""
import base64
import random

from kutil import (ApiError, b64, check_label_key, check_label_value, invalid, label_match,
                   selector_from_labelselector)


def _default_container(c):
    image = c.get("image", "")
    if "imagePullPolicy" not in c:
        tag = image.rsplit("/", 1)[-1]
        c["imagePullPolicy"] = "Always" if (":" not in tag or tag.endswith(":latest")) and "@" not in image \
            else "IfNotPresent"
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")


def default_pod_spec(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in spec.get("containers") or []:
        _default_container(c)
    for c in spec.get("initContainers") or []:
        _default_container(c)
    for v in spec.get("volumes") or []:  # file modes 0644; a hostPath of no particular type
        for source in ("configMap", "secret", "downwardAPI", "projected"):
            if isinstance(v.get(source), dict):
                v[source].setdefault("defaultMode", 420)
        if isinstance(v.get("hostPath"), dict):
            v["hostPath"].setdefault("type", "")


def _validate_pod_spec(spec, path, causes):
    cs = spec.get("containers")
    if not cs:
        causes.append((f"{path}.containers", "Required value", "FieldValueRequired"))
        return
    seen = set()
    for i, c in enumerate(cs):
        n = c.get("name")
        if not n:
            causes.append((f"{path}.containers[{i}].name", "Required value", "FieldValueRequired"))
        elif n in seen:
            causes.append((f"{path}.containers[{i}].name", f'Duplicate value: "{n}"', "FieldValueDuplicate"))
        seen.add(n)
        if not c.get("image"):
            causes.append((f"{path}.containers[{i}].image", "Required value", "FieldValueRequired"))


def _validate_meta(obj, causes):
    md = obj.get("metadata") or {}
    for k, v in (md.get("labels") or {}).items():
        if not check_label_key(k):
            causes.append(("metadata.labels", f'Invalid value: "{k}": name part must consist of '
                           "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                           "alphanumeric character", "FieldValueInvalid"))
        if not check_label_value(v):
            causes.append(("metadata.labels", f'Invalid value: "{v}": a valid label must be an empty '
                           "string or consist of alphanumeric characters, '-', '_' or '.', and must start "
                           "and end with an alphanumeric character", "FieldValueInvalid"))


def _go_map(d):
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(d.items())) + "}"


def prepare(server, r, obj, old, op):
    """Default and validate obj in place. op: create|update. Raises ApiError."""
    kind = r.kind
    name = obj["metadata"].get("name", "")
    causes = []
    _validate_meta(obj, causes)
    if kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        st = obj.setdefault("status", {})
        if old is None:
            st["phase"] = "Active"
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    elif kind == "Pod":
        spec = obj.setdefault("spec", {})
        default_pod_spec(spec)
        _validate_pod_spec(spec, "spec", causes)
        spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        spec.setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300}])
        if old is None:
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif old.get("spec", {}).get("containers") and op == "update":
            # pod spec is mostly immutable; allow image changes only
            oc = {c["name"]: c for c in old["spec"]["containers"]}
            for c in spec.get("containers") or []:
                if c.get("name") not in oc:
                    causes.append(("spec", "Forbidden: pod updates may not change fields other than "
                                   "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                                   "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
                                   "existing tolerations),`spec.terminationGracePeriodSeconds` "
                                   "(allow it to be set to 1 if it was previously negative)",
                                   "FieldValueForbidden"))
                    break
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        spec = obj.setdefault("spec", {})
        if kind != "DaemonSet":
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            strat = spec.setdefault("strategy", {})
            strat.setdefault("type", "RollingUpdate")
            if strat["type"] == "RollingUpdate":
                ru = strat.setdefault("rollingUpdate", {})
                ru.setdefault("maxSurge", "25%")
                ru.setdefault("maxUnavailable", "25%")
        tmpl = spec.setdefault("template", {})
        tmpl.setdefault("metadata", {})
        default_pod_spec(tmpl.setdefault("spec", {}))
        sel = spec.get("selector")
        if not sel:
            causes.append(("spec.selector", "Required value", "FieldValueRequired"))
        else:
            labels = tmpl["metadata"].get("labels") or {}
            reqs = selector_from_labelselector(sel)
            if not reqs:
                causes.append(("spec.selector", "Invalid value: v1.LabelSelector{MatchLabels:map[string]"
                               "string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
                               "empty selector is invalid for deployment", "FieldValueInvalid"))
            elif not label_match(reqs, labels):
                causes.append(("spec.template.metadata.labels", f"Invalid value: {_go_map(labels)}: "
                               "`selector` does not match template `labels`", "FieldValueInvalid"))
            if old is not None and op == "update" and old.get("spec", {}).get("selector") != sel:
                causes.append(("spec.selector", f"Invalid value: {sel}: field is immutable",
                               "FieldValueInvalid"))
        _validate_pod_spec(tmpl["spec"], "spec.template.spec", causes)
        if isinstance(spec.get("replicas"), int) and spec["replicas"] < 0:
            causes.append(("spec.replicas", f"Invalid value: {spec['replicas']}: must be greater than or "
                           "equal to 0", "FieldValueInvalid"))
        if old is None:
            obj.setdefault("status", {})
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
        if spec["type"] != "ExternalName":
            if old is not None and old.get("spec", {}).get("clusterIP"):
                spec.setdefault("clusterIP", old["spec"]["clusterIP"])
            if not spec.get("clusterIP"):
                spec["clusterIP"] = f"10.96.{random.randint(0, 255)}.{random.randint(1, 254)}"
            spec["clusterIPs"] = [spec["clusterIP"]] if spec["clusterIP"] != "None" else ["None"]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind in ("ConfigMap", "Secret"):
        if kind == "Secret":
            sd = obj.pop("stringData", None)
            if sd:
                data = obj.setdefault("data", {}) or {}
                obj["data"] = data
                for k, v in sd.items():
                    data[k] = b64(v)
            obj.setdefault("type", "Opaque")
            for k, v in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(v, validate=True)
                except Exception:
                    raise ApiError(400, "BadRequest", "illegal base64 data at input byte 0")
            if old is not None and old.get("type") != obj.get("type"):
                causes.append(("type", f'Invalid value: "{obj.get("type")}": field is immutable',
                               "FieldValueInvalid"))
        if old is not None and old.get("immutable"):
            for f in ("data", "binaryData"):
                if (old.get(f) or {}) != (obj.get(f) or {}):
                    causes.append((f, "Forbidden: field is immutable when `immutable` is set",
                                   "FieldValueForbidden"))
            if not obj.get("immutable"):
                causes.append(("immutable", "Forbidden: field is immutable when `immutable` is set",
                               "FieldValueForbidden"))
        for k in list((obj.get("data") or {}).keys()) + list((obj.get("binaryData") or {}).keys()):
            import re
            if not re.match(r"^[-._a-zA-Z0-9]+$", k) or len(k) > 253:
                causes.append((f"data[{k}]", f'Invalid value: "{k}": a valid config key must consist of '
                               "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                               "'KEY_NAME',  or 'key-name', regex used for validation is "
                               "'[-._a-zA-Z0-9]+')", "FieldValueInvalid"))
    elif kind in ("Role", "ClusterRole"):
        for i, rule in enumerate(obj.get("rules") or []):
            if not rule.get("verbs"):
                causes.append((f"rules[{i}].verbs", "Required value: verbs must contain at least one value",
                               "FieldValueRequired"))
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        if not obj.get("roleRef"):
            causes.append(("roleRef.name", "Required value", "FieldValueRequired"))
        elif old is not None and old.get("roleRef") != obj.get("roleRef"):
            causes.append(("roleRef", "Invalid value: cannot change roleRef", "FieldValueInvalid"))
    if causes:
        raise invalid(kind, r.group, name, causes)
    if kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
        import admission
        admission.validate_object(kind, obj)
    if kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
        server.check_escalation(r, obj, old)
