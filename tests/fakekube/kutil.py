"""Small helpers shared by the fake API server modules: errors, time, selectors."""
import base64
import copy
import datetime
import json
import re
import time
import uuid

import yaml


class ApiError(Exception):
    """An error answered to the client as a metav1.Status."""

    def __init__(self, code, reason, message, name=None, group=None, kind=None, causes=None,
                 retry_after=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes
        self.retry_after = retry_after

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        details = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group is not None:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = self.causes
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        if details or self.code not in (401,):
            st["details"] = details
        if not details:
            st.pop("details", None)
        if self.reason is None:  # like an error the apiserver got as no Status (a 500 without reason)
            st.pop("reason")
        return st


def qualified(resource, group):
    return f"{resource}.{group}" if group else resource


def not_found(resource, group, name):
    return ApiError(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                    name=name, group=group, kind=resource)


def already_exists(resource, group, name):
    return ApiError(409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists',
                    name=name, group=group, kind=resource)


def conflict(resource, group, name):
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": the object '
                    'has been modified; please apply your changes to the latest version and try again',
                    name=name, group=group, kind=resource)


def invalid(kind, group, name, causes):
    """causes: list of (field, message-without-field, reason)."""
    msgs = []
    out = []
    for field, msg, reason in causes:
        msgs.append(f"{field}: {msg}" if field else msg)
        out.append({"reason": reason, "message": msg, "field": field})
    qkind = f"{kind}.{group}" if group else kind
    if len(msgs) == 1:
        text = f'{qkind} "{name}" is invalid: {msgs[0]}'
    else:
        text = f'{qkind} "{name}" is invalid: [' + ", ".join(msgs) + "]"
    return ApiError(422, "Invalid", text, name=name, group=group, kind=kind, causes=out)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def method_not_allowed(message="the server does not allow this method on the requested resource"):
    return ApiError(405, "MethodNotAllowed", message)


def expired(message):
    return ApiError(410, "Expired", message)


def success_status(name=None, group=None, kind=None, uid=None):
    d = {}
    if name is not None:
        d["name"] = name
    if group is not None:
        d["group"] = group
    if kind is not None:
        d["kind"] = kind
    if uid is not None:
        d["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": d}


# ---------------------------------------------------------------- time

def now_ts():
    return time.time()


def rfc3339(ts=None):
    if ts is None:
        ts = time.time()
    return datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(ts=None):
    if ts is None:
        ts = time.time()
    d = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond:06d}Z"


def rfc3339_nano_fixed(ts_ns):
    """Kubelet log timestamp: always 9 fractional digits."""
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    d = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos:09d}Z"


def parse_time(s):
    s = s.strip()
    m = re.match(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$", s)
    if not m:
        raise ValueError(s)
    base = datetime.datetime.strptime(m.group(1) + "T" + m.group(2), "%Y-%m-%dT%H:%M:%S")
    tz = m.group(4)
    if tz == "Z":
        off = 0
    else:
        sign = 1 if tz[0] == "+" else -1
        off = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    ts = base.replace(tzinfo=datetime.timezone.utc).timestamp() - off
    if m.group(3):
        ts += float("0" + m.group(3))
    return ts


def human_duration(seconds):
    """Mimic k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < 0:
        s = 0
    if s < 60 * 2:
        return f"{s}s"
    m = s // 60
    if m < 10:
        r = s % 60
        return f"{m}m{r}s" if r else f"{m}m"
    if m < 60 * 3:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        r = m % 60
        return f"{h}h{r}m" if r else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        r = h % 24
        return f"{h // 24}d{r}h" if r else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        dy = (h // 24) % 365
        return f"{h // 24 // 365}y{dy}d" if dy else f"{h // 24 // 365}y"
    return f"{h // 24 // 365}y"


def new_uid():
    return str(uuid.uuid4())


def deepcopy(o):
    return copy.deepcopy(o)


# ---------------------------------------------------------------- names

LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
             "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
             "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                 "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
                 "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def check_name(name, kind="subdomain"):
    """Return a list of error message strings (empty when valid)."""
    errs = []
    if kind == "path":  # RBAC objects: any path segment name (e.g. "system:basic-user")
        if name in (".", ".."):
            errs.append(f"may not be '{name}'")
        for c in ("/", "%"):
            if c in name:
                errs.append(f"may not contain '{c}'")
        return errs
    if kind == "label":
        if len(name) > 63:
            errs.append("must be no more than 63 characters")
        if not LABEL_RE.match(name):
            errs.append(LABEL_MSG)
    else:
        if len(name) > 253:
            errs.append("must be no more than 253 characters")
        if not SUBDOMAIN_RE.match(name):
            errs.append(SUBDOMAIN_MSG)
    return errs


QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def check_label_key(key):
    if "/" in key:
        prefix, name = key.split("/", 1)
        if not prefix or check_name(prefix):
            return False
    else:
        name = key
    return bool(name) and len(name) <= 63 and bool(QUALIFIED_NAME_RE.match(name))


def check_label_value(v):
    return isinstance(v, str) and len(v) <= 63 and bool(LABEL_VALUE_RE.match(v))


# ---------------------------------------------------------------- label selectors

def _split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def parse_label_selector(s):
    """Return a list of requirements (key, op, values). Raises ApiError on syntax errors."""
    reqs = []
    if s is None or s.strip() == "":
        return reqs
    for term in _split_top(s):
        t = term.strip()
        if not t:
            raise bad_request("unable to parse requirement: found '', expected: identifier")
        m = re.match(r"^([^\s!=()]+)\s+(in|notin)\s*\((.*)\)$", t)
        if m:
            vals = [v.strip() for v in m.group(3).split(",") if v.strip() != ""]
            reqs.append((m.group(1), m.group(2), vals))
            continue
        m = re.match(r"^!\s*([^\s!=()]+)$", t)
        if m:
            reqs.append((m.group(1), "!", []))
            continue
        m = re.match(r"^([^\s!=()]+)\s*(==|!=|=)\s*([^\s!=(),]*)$", t)
        if m:
            op = "=" if m.group(2) in ("=", "==") else "!="
            reqs.append((m.group(1), op, [m.group(3)]))
            continue
        m = re.match(r"^([^\s!=()]+)$", t)
        if m:
            reqs.append((m.group(1), "exists", []))
            continue
        raise bad_request(f"unable to parse requirement: <nil>: Invalid value: \"{t}\": "
                          "invalid label selector")
    for key, op, vals in reqs:
        if not check_label_key(key):
            raise bad_request(f"unable to parse requirement: values[0][{key}]: Invalid value: \"{key}\": "
                              "name part must consist of alphanumeric characters, '-', '_' or '.', "
                              "and must start and end with an alphanumeric character")
    return reqs


def label_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=" and (not has or v != vals[0]):
            return False
        if op == "!=" and has and v == vals[0]:
            return False
        if op == "in" and (not has or v not in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
    return True


def selector_from_labelselector(sel):
    """metav1.LabelSelector dict -> requirements list; None means 'match nothing'."""
    if sel is None:
        return None
    reqs = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, "=", [v]))
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = e.get("values") or []
        if op == "In":
            reqs.append((e["key"], "in", vals))
        elif op == "NotIn":
            reqs.append((e["key"], "notin", vals))
        elif op == "Exists":
            reqs.append((e["key"], "exists", []))
        elif op == "DoesNotExist":
            reqs.append((e["key"], "!", []))
    return reqs


def labelselector_to_string(sel):
    parts = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        parts.append(f"{k}={v}")
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = ",".join(e.get("values") or [])
        if op == "In":
            parts.append(f"{e['key']} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{e['key']} notin ({vals})")
        elif op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append("!" + e["key"])
    return ",".join(parts)


# ---------------------------------------------------------------- field selectors

def parse_field_selector(s):
    reqs = []
    if s is None or s.strip() == "":
        return reqs
    for term in s.split(","):
        t = term.strip()
        if not t:
            continue
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(==|!=|=)\s*(.*)$", t)
        if not m:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{t}'")
        op = "!=" if m.group(2) == "!=" else "="
        reqs.append((m.group(1), op, m.group(3)))
    return reqs


def get_path(obj, dotted):
    cur = obj
    for part in dotted.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return None
    return cur


def field_match(reqs, obj):
    for path, op, val in reqs:
        v = get_path(obj, path)
        if v is None:
            v = ""
        if isinstance(v, bool):
            v = "true" if v else "false"
        v = str(v)
        if op == "=" and v != val:
            return False
        if op == "!=" and v == val:
            return False
    return True


# ---------------------------------------------------------------- yaml

class _Loader(yaml.SafeLoader):
    pass


# Treat timestamps as strings, like Kubernetes' YAML->JSON conversion for string fields.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text):
    return yaml.load(text, Loader=_Loader)


def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def jdump(o):
    return json.dumps(o, separators=(",", ":"))
