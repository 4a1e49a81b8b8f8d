#!/usr/bin/python3
"""Captures a real API server's OpenAPI v3 schemas into tests/fakekube/openapi/ (the data the fake
checks request bodies against for fieldValidation; see README.md "Field validation").

    /usr/bin/python3 tests/fakekube/refresh_openapi.py [--kubeconfig FILE] [--out DIR]

Needs `kubectl` on PATH (it does the authentication: any kubeconfig kubectl can use works).
For every group-version the fake serves in its 1.32 mode (resources.build_registry) it reads
`/openapi/v3/<api/v1|apis/G/V>` and keeps, deterministically:
- `bodies`: for each resource and subresource the fake serves there that takes a write, the schema
  of its body (the PUT body, else the POST body): "deployments" -> io.k8s.api.apps.v1.Deployment,
  "deployments/scale" -> io.k8s.api.autoscaling.v1.Scale, "pods/eviction" -> ...Eviction;
- `schemas`: those schemas and every schema they reference, without their `description`s;
- `source`: the server's gitVersion and the document's path.
One file per group-version (`api_v1.json`, `apis_apps_v1.json`, ...), one schema per line, keys
sorted, so a refresh against a newer server shows as a readable diff. Files of group-versions the
fake no longer serves are removed.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from resources import build_registry  # noqa: E402

REF = "#/components/schemas/"


def kubectl_raw(args, path):
    cmd = [args.kubectl, "get", "--raw", path]
    if args.kubeconfig:
        cmd[1:1] = ["--kubeconfig", args.kubeconfig]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out)


def strip_descriptions(schema):
    """The schema without its `description` keywords (a property named "description" stays)."""
    if isinstance(schema, list):
        return [strip_descriptions(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for k, v in schema.items():
        if k == "description":
            continue
        if k == "properties" and isinstance(v, dict):
            out[k] = {name: strip_descriptions(s) for name, s in v.items()}
        else:
            out[k] = strip_descriptions(v)
    return out


def refs_of(schema, found):
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(REF):
                found.add(v[len(REF):])
            else:
                refs_of(v, found)
    elif isinstance(schema, list):
        for v in schema:
            refs_of(v, found)


def body_schema(op):
    for content in (op.get("requestBody") or {}).get("content", {}).values():
        ref = (content.get("schema") or {}).get("$ref", "")
        if ref.startswith(REF):
            return ref[len(REF):]
    return None


def capture(doc, prefix, served):
    """served: {plural: set(subresources)} of one group-version."""
    bodies = {}
    for path, ops in doc.get("paths", {}).items():
        if not path.startswith(prefix + "/"):
            continue
        segs = path[len(prefix) + 1:].split("/")
        if segs[:1] == ["watch"]:
            continue
        if segs[:2] == ["namespaces", "{namespace}"] and len(segs) > 2:
            segs = segs[2:]
        plural = segs[0]
        sub = segs[2] if len(segs) == 3 and segs[1] == "{name}" else None
        if plural not in served or (sub is not None and sub not in served[plural]) or len(segs) > 3:
            continue
        key = plural + ("/" + sub if sub else "")
        name = body_schema(ops.get("put") or {}) or body_schema(ops.get("post") or {})
        if name and key not in bodies:
            bodies[key] = name
    schemas = doc.get("components", {}).get("schemas", {})
    keep, todo = set(), list(bodies.values())
    while todo:
        name = todo.pop()
        if name in keep or name not in schemas:
            continue
        keep.add(name)
        found = set()
        refs_of(schemas[name], found)
        todo.extend(found - keep)
    return bodies, {name: strip_descriptions(schemas[name]) for name in sorted(keep)}


def dump(source, bodies, schemas):
    """Valid JSON, one schema per line."""
    lines = ["{" + json.dumps("source") + ":" + json.dumps(source, sort_keys=True, separators=(",", ":")) + ",",
             json.dumps("bodies") + ":" + json.dumps(bodies, sort_keys=True, separators=(",", ":")) + ",",
             json.dumps("schemas") + ":{"]
    items = [json.dumps(n) + ":" + json.dumps(s, sort_keys=True, separators=(",", ":")) for n, s in schemas.items()]
    lines.append(",\n".join(items))
    lines.append("}}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    ap.add_argument("--out", default=os.path.join(HERE, "openapi"))
    ap.add_argument("--kubectl", default="kubectl")
    args = ap.parse_args()

    served = {}  # "api/v1" -> {plural: set(subresources)}
    for r in build_registry("1.32"):
        key = f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}"
        served.setdefault(key, {})[r.plural] = {s[0] for s in r.subresources}

    version = kubectl_raw(args, "/version").get("gitVersion", "")
    index = kubectl_raw(args, "/openapi/v3").get("paths", {})
    os.makedirs(args.out, exist_ok=True)
    written = set()
    for gv in sorted(served):
        if gv not in index:
            print(f"refresh_openapi: the server has no /openapi/v3/{gv}; skipped", file=sys.stderr)
            continue
        doc = kubectl_raw(args, "/openapi/v3/" + gv)
        bodies, schemas = capture(doc, "/" + gv, served[gv])
        fname = gv.replace("/", "_") + ".json"
        with open(os.path.join(args.out, fname), "w") as f:
            f.write(dump({"gitVersion": version, "path": gv}, bodies, schemas))
        written.add(fname)
        print(f"{fname}: {len(bodies)} bodies, {len(schemas)} schemas")
    for fname in sorted(os.listdir(args.out)):
        if fname.endswith(".json") and fname not in written:
            os.remove(os.path.join(args.out, fname))
            print(f"{fname}: removed")


if __name__ == "__main__":
    main()
