"""Decoder for the Kubernetes protobuf wire envelope ("k8s\\0" + runtime.Unknown) for the request
bodies kubectl's typed clients send (kubectl create ..., auth can-i, create token).

Only the messages/fields those commands use are described; unknown fields are skipped."""
import base64
import datetime

# field number -> (json name, type, repeated)
# types: s string, b bytes, i varint int, bool, t Time, q Quantity, ios IntOrString,
#        m:<Msg>, map:s (string->string), map:b (string->bytes), map:q (string->Quantity)
S = {
    "Unknown": {1: ("typeMeta", "m:TypeMeta", False), 2: ("raw", "b", False),
                3: ("contentEncoding", "s", False), 4: ("contentType", "s", False)},
    "TypeMeta": {1: ("apiVersion", "s", False), 2: ("kind", "s", False)},
    "ObjectMeta": {1: ("name", "s", False), 2: ("generateName", "s", False), 3: ("namespace", "s", False),
                   5: ("uid", "s", False), 6: ("resourceVersion", "s", False), 7: ("generation", "i", False),
                   8: ("creationTimestamp", "t", False), 9: ("deletionTimestamp", "t", False),
                   10: ("deletionGracePeriodSeconds", "i", False), 11: ("labels", "map:s", False),
                   12: ("annotations", "map:s", False), 13: ("ownerReferences", "m:OwnerReference", True),
                   14: ("finalizers", "s", True)},
    "OwnerReference": {1: ("kind", "s", False), 3: ("name", "s", False), 4: ("uid", "s", False),
                       5: ("apiVersion", "s", False), 6: ("controller", "bool", False),
                       7: ("blockOwnerDeletion", "bool", False)},
    "LabelSelector": {1: ("matchLabels", "map:s", False),
                      2: ("matchExpressions", "m:LabelSelectorRequirement", True)},
    "LabelSelectorRequirement": {1: ("key", "s", False), 2: ("operator", "s", False), 3: ("values", "s", True)},
    "ConfigMap": {1: ("metadata", "m:ObjectMeta", False), 2: ("data", "map:s", False),
                  3: ("binaryData", "map:b", False), 4: ("immutable", "bool", False)},
    "Secret": {1: ("metadata", "m:ObjectMeta", False), 2: ("data", "map:b", False), 3: ("type", "s", False),
               4: ("stringData", "map:s", False), 5: ("immutable", "bool", False)},
    "Namespace": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:NamespaceSpec", False),
                  3: ("status", "m:NamespaceStatus", False)},
    "NamespaceSpec": {1: ("finalizers", "s", True)},
    "NamespaceStatus": {1: ("phase", "s", False)},
    "ServiceAccount": {1: ("metadata", "m:ObjectMeta", False), 2: ("secrets", "m:ObjectReference", True),
                       3: ("imagePullSecrets", "m:LocalObjectReference", True),
                       4: ("automountServiceAccountToken", "bool", False)},
    "ObjectReference": {1: ("kind", "s", False), 2: ("namespace", "s", False), 3: ("name", "s", False),
                        4: ("uid", "s", False), 5: ("apiVersion", "s", False),
                        6: ("resourceVersion", "s", False), 7: ("fieldPath", "s", False)},
    "LocalObjectReference": {1: ("name", "s", False)},
    "Deployment": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:DeploymentSpec", False),
                   3: ("status", "m:Empty", False)},
    "DeploymentSpec": {1: ("replicas", "i", False), 2: ("selector", "m:LabelSelector", False),
                       3: ("template", "m:PodTemplateSpec", False), 4: ("strategy", "m:DeploymentStrategy", False),
                       5: ("minReadySeconds", "i", False), 6: ("revisionHistoryLimit", "i", False),
                       7: ("paused", "bool", False), 9: ("progressDeadlineSeconds", "i", False)},
    "DeploymentStrategy": {1: ("type", "s", False), 2: ("rollingUpdate", "m:RollingUpdateDeployment", False)},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "ios", False), 2: ("maxSurge", "ios", False)},
    "PodTemplateSpec": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:PodSpec", False)},
    "PodSpec": {1: ("volumes", "m:Volume", True), 2: ("containers", "m:Container", True),
                3: ("restartPolicy", "s", False), 4: ("terminationGracePeriodSeconds", "i", False),
                5: ("activeDeadlineSeconds", "i", False), 6: ("dnsPolicy", "s", False),
                7: ("nodeSelector", "map:s", False), 8: ("serviceAccountName", "s", False),
                9: ("serviceAccount", "s", False), 10: ("nodeName", "s", False),
                11: ("hostNetwork", "bool", False), 15: ("imagePullSecrets", "m:LocalObjectReference", True),
                16: ("hostname", "s", False), 17: ("subdomain", "s", False), 19: ("schedulerName", "s", False),
                20: ("initContainers", "m:Container", True),
                21: ("automountServiceAccountToken", "bool", False), 24: ("priorityClassName", "s", False)},
    "Volume": {1: ("name", "s", False)},
    "Container": {1: ("name", "s", False), 2: ("image", "s", False), 3: ("command", "s", True),
                  4: ("args", "s", True), 5: ("workingDir", "s", False), 6: ("ports", "m:ContainerPort", True),
                  7: ("env", "m:EnvVar", True), 8: ("resources", "m:ResourceRequirements", False),
                  9: ("volumeMounts", "m:VolumeMount", True), 13: ("terminationMessagePath", "s", False),
                  14: ("imagePullPolicy", "s", False), 16: ("stdin", "bool", False),
                  17: ("stdinOnce", "bool", False), 18: ("tty", "bool", False),
                  20: ("terminationMessagePolicy", "s", False)},
    "ContainerPort": {1: ("name", "s", False), 2: ("hostPort", "i", False), 3: ("containerPort", "i", False),
                      4: ("protocol", "s", False), 5: ("hostIP", "s", False)},
    "EnvVar": {1: ("name", "s", False), 2: ("value", "s", False)},
    "ResourceRequirements": {1: ("limits", "map:q", False), 2: ("requests", "map:q", False)},
    "VolumeMount": {1: ("name", "s", False), 2: ("readOnly", "bool", False), 3: ("mountPath", "s", False),
                    4: ("subPath", "s", False)},
    "Service": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:ServiceSpec", False),
                3: ("status", "m:ServiceStatus", False)},
    "ServiceSpec": {1: ("ports", "m:ServicePort", True), 2: ("selector", "map:s", False),
                    3: ("clusterIP", "s", False), 4: ("type", "s", False), 5: ("externalIPs", "s", True),
                    7: ("sessionAffinity", "s", False), 8: ("loadBalancerIP", "s", False),
                    10: ("externalName", "s", False), 11: ("externalTrafficPolicy", "s", False)},
    "ServicePort": {1: ("name", "s", False), 2: ("protocol", "s", False), 3: ("port", "i", False),
                    4: ("targetPort", "ios", False), 5: ("nodePort", "i", False), 6: ("appProtocol", "s", False)},
    "ServiceStatus": {1: ("loadBalancer", "m:Empty", False)},
    "Empty": {},
    "PolicyRule": {1: ("verbs", "s", True), 2: ("apiGroups", "s", True), 3: ("resources", "s", True),
                   4: ("resourceNames", "s", True), 5: ("nonResourceURLs", "s", True)},
    "Role": {1: ("metadata", "m:ObjectMeta", False), 2: ("rules", "m:PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "m:ObjectMeta", False), 2: ("rules", "m:PolicyRule", True),
                    3: ("aggregationRule", "m:AggregationRule", False)},
    "AggregationRule": {1: ("clusterRoleSelectors", "m:LabelSelector", True)},
    "RoleBinding": {1: ("metadata", "m:ObjectMeta", False), 2: ("subjects", "m:Subject", True),
                    3: ("roleRef", "m:RoleRef", False)},
    "ClusterRoleBinding": {1: ("metadata", "m:ObjectMeta", False), 2: ("subjects", "m:Subject", True),
                           3: ("roleRef", "m:RoleRef", False)},
    "Subject": {1: ("kind", "s", False), 2: ("apiGroup", "s", False), 3: ("name", "s", False),
                4: ("namespace", "s", False)},
    "RoleRef": {1: ("apiGroup", "s", False), 2: ("kind", "s", False), 3: ("name", "s", False)},
    "SelfSubjectAccessReview": {1: ("metadata", "m:ObjectMeta", False),
                                2: ("spec", "m:SelfSubjectAccessReviewSpec", False)},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "m:ResourceAttributes", False),
                                    2: ("nonResourceAttributes", "m:NonResourceAttributes", False)},
    "ResourceAttributes": {1: ("namespace", "s", False), 2: ("verb", "s", False), 3: ("group", "s", False),
                           4: ("version", "s", False), 5: ("resource", "s", False),
                           6: ("subresource", "s", False), 7: ("name", "s", False)},
    "NonResourceAttributes": {1: ("path", "s", False), 2: ("verb", "s", False)},
    "SelfSubjectRulesReview": {1: ("metadata", "m:ObjectMeta", False),
                               2: ("spec", "m:SelfSubjectRulesReviewSpec", False)},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "s", False)},
    "SelfSubjectReview": {1: ("metadata", "m:ObjectMeta", False)},
    "TokenRequest": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:TokenRequestSpec", False)},
    "TokenRequestSpec": {1: ("audiences", "s", True), 3: ("boundObjectRef", "m:BoundObjectReference", False),
                         4: ("expirationSeconds", "i", False)},
    "BoundObjectReference": {1: ("kind", "s", False), 2: ("apiVersion", "s", False), 3: ("name", "s", False),
                             4: ("uid", "s", False)},
    "Job": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:JobSpec", False), 3: ("status", "m:Empty", False)},
    "JobSpec": {1: ("parallelism", "i", False), 2: ("completions", "i", False),
                3: ("activeDeadlineSeconds", "i", False), 4: ("selector", "m:LabelSelector", False),
                5: ("manualSelector", "bool", False), 6: ("template", "m:PodTemplateSpec", False),
                7: ("backoffLimit", "i", False), 8: ("ttlSecondsAfterFinished", "i", False),
                9: ("completionMode", "s", False), 10: ("suspend", "bool", False)},
    "CronJob": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:CronJobSpec", False),
                3: ("status", "m:Empty", False)},
    "CronJobSpec": {1: ("schedule", "s", False), 2: ("startingDeadlineSeconds", "i", False),
                    3: ("concurrencyPolicy", "s", False), 4: ("suspend", "bool", False),
                    5: ("jobTemplate", "m:JobTemplateSpec", False), 6: ("successfulJobsHistoryLimit", "i", False),
                    7: ("failedJobsHistoryLimit", "i", False), 8: ("timeZone", "s", False)},
    "JobTemplateSpec": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:JobSpec", False)},
    "ResourceQuota": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:ResourceQuotaSpec", False),
                      3: ("status", "m:Empty", False)},
    "ResourceQuotaSpec": {1: ("hard", "map:q", False), 2: ("scopes", "s", True)},
    "Ingress": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:IngressSpec", False),
                3: ("status", "m:Empty", False)},
    "IngressSpec": {1: ("defaultBackend", "m:IngressBackend", False), 2: ("tls", "m:IngressTLS", True),
                    3: ("rules", "m:IngressRule", True), 4: ("ingressClassName", "s", False)},
    "IngressTLS": {1: ("hosts", "s", True), 2: ("secretName", "s", False)},
    "IngressRule": {1: ("host", "s", False), 2: ("", "m:IngressRuleValue", False)},
    "IngressRuleValue": {1: ("http", "m:HTTPIngressRuleValue", False)},
    "HTTPIngressRuleValue": {1: ("paths", "m:HTTPIngressPath", True)},
    "HTTPIngressPath": {1: ("path", "s", False), 2: ("backend", "m:IngressBackend", False),
                        3: ("pathType", "s", False)},
    "IngressBackend": {3: ("resource", "m:TypedLocalObjectReference", False),
                       4: ("service", "m:IngressServiceBackend", False)},
    "TypedLocalObjectReference": {1: ("apiGroup", "s", False), 2: ("kind", "s", False), 3: ("name", "s", False)},
    "IngressServiceBackend": {1: ("name", "s", False), 2: ("port", "m:ServiceBackendPort", False)},
    "ServiceBackendPort": {1: ("name", "s", False), 2: ("number", "i", False)},
    "DeleteOptions": {1: ("gracePeriodSeconds", "i", False), 2: ("preconditions", "m:Preconditions", False),
                      3: ("orphanDependents", "bool", False), 4: ("propagationPolicy", "s", False),
                      5: ("dryRun", "s", True)},
    "Preconditions": {1: ("uid", "s", False), 2: ("resourceVersion", "s", False)},
    "Scale": {1: ("metadata", "m:ObjectMeta", False), 2: ("spec", "m:ScaleSpec", False)},
    "ScaleSpec": {1: ("replicas", "i", False)},
}


# optional (pointer) fields: their zero values are meaningful; other scalar fields are always on the
# wire and their zero values stand for "omitted" (Go's omitempty)
POINTERS = {"replicas", "revisionHistoryLimit", "progressDeadlineSeconds", "terminationGracePeriodSeconds",
            "activeDeadlineSeconds", "parallelism", "completions", "backoffLimit", "expirationSeconds",
            "startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit",
            "deletionGracePeriodSeconds", "gracePeriodSeconds", "immutable", "automountServiceAccountToken",
            "controller", "blockOwnerDeletion", "suspend", "manualSelector", "orphanDependents",
            "ttlSecondsAfterFinished", "propagationPolicy", "timeZone", "completionMode"}


class PBError(Exception):
    pass


def _varint(buf, i):
    shift = 0
    out = 0
    while True:
        if i >= len(buf):
            raise PBError("truncated varint")
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, i
        shift += 7


def _fields(buf):
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v = buf[i:i + n]
            i += n
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise PBError(f"unsupported wire type {wt}")
        yield num, wt, v


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _time(buf):
    secs = 0
    for num, wt, v in _fields(buf):
        if num == 1:
            secs = _signed(v)
    if secs == 0:
        return None
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(typ, wt, v):
    if typ == "s":
        return bytes(v).decode("utf-8")
    if typ == "b":
        return base64.b64encode(bytes(v)).decode()
    if typ == "i":
        return _signed(v)
    if typ == "bool":
        return bool(v)
    if typ == "t":
        return _time(v)
    if typ == "q":
        for num, _, x in _fields(v):
            if num == 1:
                return bytes(x).decode()
        return "0"
    if typ == "ios":
        kind, iv, sv = 0, 0, ""
        for num, _, x in _fields(v):
            if num == 1:
                kind = x
            elif num == 2:
                iv = _signed(x)
            elif num == 3:
                sv = bytes(x).decode()
        return sv if kind == 1 else iv
    if typ.startswith("m:"):
        return decode_msg(typ[2:], v)
    raise PBError(typ)


def decode_msg(name, buf):
    schema = S.get(name, {})
    out = {}
    for num, wt, v in _fields(buf):
        f = schema.get(num)
        if f is None:
            continue
        fname, typ, rep = f
        if typ.startswith("map:"):
            vt = typ[4:]
            k, val = "", None
            for n2, w2, x in _fields(v):
                if n2 == 1:
                    k = bytes(x).decode()
                elif n2 == 2:
                    val = x
            d = out.setdefault(fname, {})
            if vt == "s":
                d[k] = bytes(val or b"").decode()
            elif vt == "b":
                d[k] = base64.b64encode(bytes(val or b"")).decode()
            elif vt == "q":
                d[k] = _scalar("q", 2, val or b"")
            continue
        if rep:
            lst = out.setdefault(fname, [])
            if wt == 2 and typ in ("i", "bool"):  # packed
                j = 0
                while j < len(v):
                    x, j = _varint(v, j)
                    lst.append(_scalar(typ, 0, x))
            else:
                lst.append(_scalar(typ, wt, v))
        else:
            val = _scalar(typ, wt, v)
            if typ in ("s", "i", "bool") and not val and fname not in POINTERS and name != "ScaleSpec":
                continue
            if fname == "":  # inlined (embedded) struct
                out.update(val)
            else:
                out[fname] = val
    return out


def decode(raw):
    """Decode a k8s protobuf envelope into a JSON-compatible dict (with apiVersion/kind)."""
    if not raw.startswith(b"k8s\x00"):
        raise PBError("missing k8s protobuf magic")
    env = decode_msg("Unknown", memoryview(raw)[4:])
    tm = env.get("typeMeta") or {}
    kind = tm.get("kind", "")
    if kind not in S:
        raise PBError(f"protobuf decoding of kind {kind!r} is not supported by the fake server")
    body = base64.b64decode(env.get("raw", ""))
    obj = decode_msg(kind, body)
    out = {"apiVersion": tm.get("apiVersion", ""), "kind": kind}
    out.update(obj)
    return out
