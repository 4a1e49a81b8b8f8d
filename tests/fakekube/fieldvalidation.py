"""Server-side field validation (the `fieldValidation` query parameter) against the real API
server's OpenAPI v3 schemas captured in openapi/ (refresh_openapi.py writes them).

Wording and behaviour are a 1.32 apiserver's, as captured on a real cluster (test_fakekube.py holds
the captured answers):
- `fieldValidation` is "", Ignore, Warn or Strict; "" means Warn. Anything else: 422
  `CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported
  values: "", "Ignore", "Strict", "Warn"` (UpdateOptions for PUT, PatchOptions for PATCH), before
  the object is even looked up.
- Unknown fields (anywhere: nested, in list items, in the values of maps; a field named in another
  case is unknown) and duplicate fields (a key twice in one JSON object, map keys included; an
  unknown key repeated is reported once, as unknown) are checked in the body of a POST/PUT in
  document order, and in a patch (non-apply): duplicates in the patch first, then unknown fields of
  the patched object in sorted key order.
- Strict: POST/PUT 400 BadRequest `Deployment in version "v1" cannot be handled as a Deployment:
  strict decoding error: unknown field "spec.x", duplicate field "spec.replicas"`; a patch 422
  Invalid ` "" is invalid: patch: Invalid value: "<the patched object as JSON; for a strategic
  merge patch the patch as a Go map>": strict decoding error: ...` (cause field `patch`).
- Warn: the request goes on without those fields, with one `Warning: 299 - "unknown field
  \\"spec.x\\""` header per field (also on an error answer that follows).
- Ignore: the fields are dropped silently.
- Server-side apply refuses unknown fields whatever fieldValidation says: 500 without a reason,
  `failed to create typed patch object (NS/NAME; GROUP/VERSION, Kind=KIND): PATH: field not
  declared in schema` (several: `...: errors:\\n  PATH: ...\\n  PATH: ...`), paths in
  structured-merge-diff's words (`.spec.template.spec.containers[name="c"].x`, keyed list items by
  their keys with schema defaults, `[0]` for other lists). The real server's list of several is
  not stable (it varies between identical requests); the fake lists all, sorted. Duplicate keys in
  the applied YAML: Strict 400 `error strict decoding YAML: error converting YAML to JSON: yaml:
  unmarshal errors:\\n  line 7: key "a" already set in map`; Warn one warning per key (`line 7:
  key "a" already set in map`); Ignore nothing (the last value wins).
- 1.18 mode: no field validation at all (a 1.18 apiserver ignores the parameter like any query
  parameter it does not know); unknown fields are dropped silently (by the 1.32 schemas).
Bodies of kinds without a captured schema (KubeSphere's CRD, 1.18's extensions/v1beta1) are not
checked. Type mismatches (a string where a list belongs) are not checked.
"""
import glob
import json
import os

import yaml

from kutil import ApiError, _Loader

HERE = os.path.dirname(os.path.abspath(__file__))
REF = "#/components/schemas/"
MODES = ("", "Ignore", "Strict", "Warn")


class Schemas:
    def __init__(self, directory=os.path.join(HERE, "openapi")):
        self.schemas = {}
        self.bodies = {}  # ("api/v1" | "apis/G/V", "plural[/sub]") -> schema name
        for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
            with open(path) as f:
                doc = json.load(f)
            gv = doc["source"]["path"]
            self.schemas.update(doc["schemas"])
            for key, name in doc["bodies"].items():
                self.bodies[(gv, key)] = name

    def body(self, r, sub=None):
        """The schema name of a write's body to resource r (resources.Res), or None."""
        gv = f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}"
        return self.bodies.get((gv, r.plural + (f"/{sub}" if sub else "")))

    def resolve(self, s):
        for _ in range(50):
            if not isinstance(s, dict):
                return {}
            if "$ref" in s:
                s = self.schemas.get(s["$ref"][len(REF):], {})
            elif len(s.get("allOf") or []) == 1 and "properties" not in s and "items" not in s:
                s = s["allOf"][0]
            else:
                return s
        return {}

    def gvk(self, name):
        for g in self.schemas.get(name, {}).get("x-kubernetes-group-version-kind") or []:
            return g.get("group", ""), g.get("version", ""), g.get("kind", "")
        return "", "", name.rsplit(".", 1)[-1]


_SCHEMAS = None


def schemas():
    global _SCHEMAS
    if _SCHEMAS is None:
        _SCHEMAS = Schemas()
    return _SCHEMAS


# ---------------------------------------------------------------- documents with duplicate keys

class Pairs(list):
    """A JSON object as parsed, keys in order, duplicates kept."""


def parse_pairs(raw):
    return json.loads(raw, object_pairs_hook=Pairs)


def items_of(node):
    return node if isinstance(node, Pairs) else list(node.items())


def is_object(node):
    return isinstance(node, (dict, Pairs))


# ---------------------------------------------------------------- the walk

def _json_path(path, key):
    return f"{path}.{key}" if path else str(key)


def walk(sch, schema, node, path, events, sort_keys=False):
    """Appends ("unknown"|"duplicate", path) for node (dict, Pairs, list or scalar) under schema,
    with paths like the strict JSON decoder's ("spec.containers[0].x")."""
    s = sch.resolve(schema)
    if is_object(node):
        props = s.get("properties")
        addl = s.get("additionalProperties")
        pairs = items_of(node)
        if sort_keys:
            pairs = sorted(pairs, key=lambda kv: kv[0])
        if props is not None:
            preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
            seen, unknown = set(), set()
            for k, v in pairs:
                p = _json_path(path, k)
                if k in props:
                    if k in seen:
                        events.append(("duplicate", p))
                    seen.add(k)
                    walk(sch, props[k], v, p, events, sort_keys)
                elif not preserve and k not in unknown:
                    unknown.add(k)
                    events.append(("unknown", p))
        elif isinstance(addl, dict):
            seen = set()
            for k, v in pairs:
                p = _json_path(path, k)
                if k in seen:
                    events.append(("duplicate", p))
                seen.add(k)
                walk(sch, addl, v, p, events, sort_keys)
        # an object without properties (FieldsV1, RawExtension) takes anything
    elif isinstance(node, list):
        items = s.get("items")
        if items is not None:
            for i, v in enumerate(node):
                walk(sch, items, v, f"{path}[{i}]", events, sort_keys)


def prune(sch, schema, node):
    """Drops unknown fields from a plain object in place (what a server keeps under Warn/Ignore)."""
    s = sch.resolve(schema)
    if isinstance(node, dict):
        props = s.get("properties")
        addl = s.get("additionalProperties")
        if props is not None:
            preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
            for k in list(node):
                if k in props:
                    prune(sch, props[k], node[k])
                elif not preserve:
                    del node[k]
        elif isinstance(addl, dict):
            for v in node.values():
                prune(sch, addl, v)
    elif isinstance(node, list) and s.get("items") is not None:
        for v in node:
            prune(sch, s["items"], v)


def _smd_value(v):
    return json.dumps(v) if isinstance(v, str) else ("true" if v is True else "false" if v is False
                                                     else "null" if v is None else str(v))


def smd_unknown(sch, schema, node, path, out):
    """Unknown-field paths as structured-merge-diff prints them (server-side apply)."""
    s = sch.resolve(schema)
    if isinstance(node, dict):
        props = s.get("properties")
        addl = s.get("additionalProperties")
        for k in sorted(node):
            p = f"{path}.{k}"
            if props is not None:
                if k in props:
                    smd_unknown(sch, props[k], node[k], p, out)
                elif s.get("x-kubernetes-preserve-unknown-fields") is not True:
                    out.append(p)
            elif isinstance(addl, dict):
                smd_unknown(sch, addl, node[k], p, out)
    elif isinstance(node, list) and s.get("items") is not None:
        item_schema = sch.resolve(s["items"])
        keys = s.get("x-kubernetes-list-map-keys") if s.get("x-kubernetes-list-type") == "map" else None
        for i, v in enumerate(node):
            label = f"[{i}]"
            if keys and isinstance(v, dict):
                parts = []
                for key in keys:
                    if key in v:
                        parts.append(f"{key}={_smd_value(v[key])}")
                    else:
                        d = sch.resolve((item_schema.get("properties") or {}).get(key, {})).get("default")
                        if d is None:
                            d = ((item_schema.get("properties") or {}).get(key) or {}).get("default")
                        if d is not None:
                            parts.append(f"{key}={_smd_value(d)}")
                if parts:
                    label = "[" + ",".join(parts) + "]"
            smd_unknown(sch, s["items"], v, path + label, out)


# ---------------------------------------------------------------- messages

def _quote(text):
    return json.dumps(text, ensure_ascii=False)


def _event_words(events):
    return [f"{kind} field {_quote(path)}" for kind, path in events]


def warn(request, texts):
    request.setdefault("warnings", []).extend(texts)


def warning_header(text):
    return "299 - " + json.dumps(text)


def go_value(v):
    """A decoded JSON value as Go's %v prints a map[string]interface{} (strategic merge patch)."""
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_value(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_value(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def mode(server, request, options_kind):
    """The request's fieldValidation ("Strict", "Warn", "Ignore"), or None in 1.18 mode."""
    if server.k8s_version == "1.18":
        return None
    v = request.query.get("fieldValidation", "")
    if v not in MODES:
        msg = (f'Unsupported value: {_quote(v)}: supported values: "", "Ignore", "Strict", "Warn"')
        raise ApiError(422, "Invalid", f'{options_kind}.meta.k8s.io "" is invalid: fieldValidation: {msg}',
                       group="meta.k8s.io", kind=options_kind,
                       causes=[{"reason": "FieldValueNotSupported", "message": msg, "field": "fieldValidation"}])
    return v or "Warn"


def options_kind(request):
    return {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}.get(request.method,
                                                                                        "CreateOptions")


# ---------------------------------------------------------------- entry points

def check_body(server, request, r, sub, body, raw=None, content_type=""):
    """A POST/PUT body (body: the parsed dict, changed in place; raw: its bytes when JSON)."""
    fv = mode(server, request, options_kind(request))
    sch = schemas()
    name = sch.body(r, sub)
    if name is None or not isinstance(body, dict):
        return
    schema = {"$ref": REF + name}
    if fv in ("Strict", "Warn"):
        node = body
        if raw and "json" in content_type:
            try:
                node = parse_pairs(raw)
            except ValueError:
                node = body
        events = []
        walk(sch, schema, node, "", events)
        if events and fv == "Strict":
            _, version, kind = sch.gvk(name)
            raise ApiError(400, "BadRequest", f'{kind} in version "{version}" cannot be handled as a {kind}: '
                                              f'strict decoding error: ' + ", ".join(_event_words(events)))
        warn(request, _event_words(events))
    prune(sch, schema, body)


def check_patched(server, request, r, sub, raw, content_type, patch, new):
    """A JSON/merge/strategic merge patch (patch: as parsed) and the object it produced (new,
    changed in place)."""
    fv = mode(server, request, "PatchOptions")
    sch = schemas()
    name = sch.body(r, sub)
    if name is None or not isinstance(new, dict):
        return
    schema = {"$ref": REF + name}
    if fv in ("Strict", "Warn"):
        events = []
        if content_type != "application/json-patch+json":
            try:
                node = parse_pairs(raw)
            except ValueError:
                node = None
            if is_object(node):
                dups = []
                walk(sch, schema, node, "", dups)
                events += [e for e in dups if e[0] == "duplicate"]
        unknown = []
        walk(sch, schema, new, "", unknown, sort_keys=True)
        events += unknown
        if events and fv == "Strict":
            if content_type == "application/strategic-merge-patch+json":
                value = go_value(patch)
            else:
                value = json.dumps(new, sort_keys=True, separators=(",", ":"))
            cause = f"Invalid value: {_quote(value)}: strict decoding error: " + ", ".join(_event_words(events))
            raise ApiError(422, "Invalid", ' "" is invalid: patch: ' + cause,
                           causes=[{"reason": "FieldValueInvalid", "message": cause, "field": "patch"}])
        warn(request, _event_words(events))
    prune(sch, schema, new)


class _DupLoader(_Loader):
    """kutil's YAML loader, noting keys set twice in a mapping (yaml.v2's unmarshal errors)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            try:
                key = self.construct_object(key_node, deep=True)
            except Exception:
                continue
            try:
                hash(key)
            except TypeError:
                continue
            if key in seen:
                self.duplicates.append(f"line {key_node.start_mark.line + 1}: key {_quote(key)} already set in map"
                                       if isinstance(key, str) else
                                       f"line {key_node.start_mark.line + 1}: key {key} already set in map")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def yaml_duplicates(text):
    loader = _DupLoader(text)
    loader.duplicates = []
    try:
        loader.get_single_data()
    except yaml.YAMLError:
        return []
    finally:
        loader.dispose()
    return loader.duplicates


def check_apply(server, request, r, sub, text, applied):
    """Server-side apply: duplicate keys per fieldValidation, unknown fields always refused.
    applied: the applied object as parsed (before the fake fills in its namespace); changed in place
    in 1.18 mode (unknown fields dropped)."""
    fv = mode(server, request, "PatchOptions")
    sch = schemas()
    name = sch.body(r, sub)
    if fv in ("Strict", "Warn"):
        dups = yaml_duplicates(text)
        if dups and fv == "Strict":
            raise ApiError(400, "BadRequest", "error strict decoding YAML: error converting YAML to JSON: yaml: "
                                              "unmarshal errors:\n  " + "\n  ".join(dups))
        warn(request, dups)
    if name is None or not isinstance(applied, dict):
        return
    schema = {"$ref": REF + name}
    if fv is None:
        prune(sch, schema, applied)
        return
    paths = []
    smd_unknown(sch, schema, applied, "", paths)
    if paths:
        md = applied.get("metadata") if isinstance(applied.get("metadata"), dict) else {}
        av = str(applied.get("apiVersion") or "")
        gv = av if "/" in av else "/" + av
        what = f"({md.get('namespace') or ''}/{md.get('name') or ''}; {gv}, Kind={applied.get('kind') or ''})"
        errs = [f"{p}: field not declared in schema" for p in paths]
        text = errs[0] if len(errs) == 1 else "errors:\n  " + "\n  ".join(errs)
        raise ApiError(500, None, f"failed to create typed patch object {what}: {text}")
