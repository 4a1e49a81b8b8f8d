"""Patch algorithms: JSON merge patch, JSON patch, strategic merge patch and server-side apply."""
import json

from kutil import ApiError, bad_request, deepcopy

# ---------------------------------------------------------------- RFC 7386


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---------------------------------------------------------------- RFC 6902

def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer: {path}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise KeyError(p)
            cur = cur[p]
        elif isinstance(cur, list):
            i = int(p)
            if i < 0 or i >= len(cur):
                raise KeyError(p)
            cur = cur[i]
        else:
            raise KeyError(p)
    return cur


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        try:
            parts = _ptr(op.get("path", ""))
            if kind in ("add", "replace", "remove", "test"):
                if kind == "test":
                    if _walk(doc, parts) != op.get("value"):
                        raise ApiError(422, "Invalid", "the server rejected our request due to an error "
                                       "in our request: testing value failed")
                    continue
                if not parts:
                    if kind == "remove":
                        raise bad_request("cannot remove the root")
                    doc = deepcopy(op.get("value"))
                    continue
                parent = _walk(doc, parts[:-1])
                last = parts[-1]
                if isinstance(parent, dict):
                    if kind == "add":
                        parent[last] = deepcopy(op.get("value"))
                    elif kind == "replace":
                        if last not in parent:
                            raise KeyError(last)
                        parent[last] = deepcopy(op.get("value"))
                    else:
                        del parent[last]
                elif isinstance(parent, list):
                    if kind == "add":
                        if last == "-":
                            parent.append(deepcopy(op.get("value")))
                        else:
                            i = int(last)
                            if i < 0 or i > len(parent):
                                raise KeyError(last)
                            parent.insert(i, deepcopy(op.get("value")))
                    elif kind == "replace":
                        parent[int(last)] = deepcopy(op.get("value"))
                    else:
                        del parent[int(last)]
                else:
                    raise KeyError(last)
            elif kind in ("move", "copy"):
                src = _ptr(op.get("from", ""))
                val = deepcopy(_walk(doc, src))
                if kind == "move":
                    sp = _walk(doc, src[:-1])
                    if isinstance(sp, list):
                        del sp[int(src[-1])]
                    else:
                        del sp[src[-1]]
                doc = json_patch(doc, [{"op": "add", "path": op["path"], "value": val}])
            else:
                raise bad_request(f"Unexpected kind: {kind}")
        except (KeyError, ValueError, IndexError, TypeError):
            raise ApiError(422, "Invalid", "the server rejected our request due to an error in our "
                           f"request: jsonpatch {kind} operation does not apply: doc is missing path: "
                           f"\"{op.get('path')}\"")
    return doc


# ---------------------------------------------------------------- strategic merge patch

# field name -> merge key (for lists of objects merged by key)
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "ownerReferences": "uid",
    "conditions": "type", "readinessGates": "conditionType", "secrets": "name",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name",
}
MERGE_PRIMITIVE_LISTS = {"finalizers"}


def _list_key(field, items):
    if field == "ports":
        for it in items:
            if isinstance(it, dict):
                if "containerPort" in it:
                    return "containerPort"
                if "port" in it:
                    return "port"
        return "containerPort"
    return MERGE_KEYS.get(field)


def smp(orig, patch):
    """Apply a strategic merge patch (good approximation for built-in types)."""
    return _smp_map(orig if isinstance(orig, dict) else {}, patch)


def _smp_map(orig, patch):
    if not isinstance(patch, dict):
        return deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        p = {k: v for k, v in patch.items() if k != "$patch"}
        return _smp_map({}, p)
    if directive == "delete":
        return None
    out = deepcopy(orig) if isinstance(orig, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys") or k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(out.get(f), list):
                out[f] = [x for x in out[f] if x not in (v or [])]
            continue
        if v is None:
            out.pop(k, None)
            continue
        if isinstance(v, dict):
            r = _smp_map(out.get(k), v)
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
        elif isinstance(v, list):
            out[k] = _smp_list(k, out.get(k), v)
        else:
            out[k] = v
    if retain is not None:
        for k in list(out.keys()):
            if k not in retain:
                del out[k]
    # honour $setElementOrder for keyed lists
    for k, order in patch.items():
        if k.startswith("$setElementOrder/") and isinstance(order, list):
            f = k.split("/", 1)[1]
            cur = out.get(f)
            if isinstance(cur, list):
                out[f] = _reorder(f, cur, order)
    return out


def _reorder(field, cur, order):
    key = _list_key(field, cur + order)
    if key is None:
        if all(not isinstance(x, (dict, list)) for x in cur):
            ranked = [x for x in order if x in cur] + [x for x in cur if x not in order]
            return ranked
        return cur

    def kv(it):
        return it.get(key) if isinstance(it, dict) else it
    okeys = [kv(o) for o in order]
    first = [it for k in okeys for it in cur if kv(it) == k]
    rest = [it for it in cur if kv(it) not in okeys]
    return first + rest


def _smp_list(field, orig, patch):
    orig = orig if isinstance(orig, list) else []
    if field in MERGE_PRIMITIVE_LISTS:
        out = list(orig)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    key = _list_key(field, patch + orig)
    if key is None or not all(isinstance(x, dict) for x in patch):
        # replace (atomic), but drop directive-only entries
        return [deepcopy(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [deepcopy(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
    out = deepcopy(orig)
    for item in patch:
        kv = item.get(key)
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == kv
                    and (field != "ports" or o.get("protocol", "TCP") == item.get("protocol", o.get("protocol", "TCP")))),
                   None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_smp_map({}, item))
        else:
            out[idx] = _smp_map(out[idx], item)
    return out


# ---------------------------------------------------------------- server-side apply

def _assoc_key(field, item):
    """Key dict identifying an item of an associative list, or None if the list is atomic."""
    if not isinstance(item, dict):
        return None
    if field == "ports":
        if "containerPort" in item:
            return {"containerPort": item["containerPort"], "protocol": item.get("protocol", "TCP")}
        if "port" in item:
            return {"port": item["port"], "protocol": item.get("protocol", "TCP")}
        return None
    k = MERGE_KEYS.get(field)
    if k and k in item:
        return {k: item[k]}
    return None


def _kstr(keyd):
    return "k:" + json.dumps(keyd, separators=(",", ":"), sort_keys=True)


def _is_assoc(field, lst):
    return bool(lst) and all(_assoc_key(field, it) is not None for it in lst)


def field_paths(obj, prefix=(), out=None, top=True):
    """Leaf field paths of an applied configuration. Path elements are 'f:name' or 'k:{...}'."""
    if out is None:
        out = set()
    for k, v in obj.items():
        if top and k in ("apiVersion", "kind"):
            continue
        if top and k == "metadata":
            md = {kk: vv for kk, vv in v.items() if kk in ("labels", "annotations", "finalizers",
                                                           "ownerReferences")}
            field_paths(md, prefix + ("f:metadata",), out, top=False)
            continue
        if top and k == "status":
            continue
        p = prefix + ("f:" + k,)
        if isinstance(v, dict) and v:
            field_paths(v, p, out, top=False)
        elif isinstance(v, list) and _is_assoc(k, v):
            for it in v:
                ip = p + (_kstr(_assoc_key(k, it)),)
                out.add(ip + (".",))
                field_paths(it, ip, out, top=False)
        else:
            out.add(p)
    return out


def paths_to_fieldsv1(paths):
    root = {}
    for p in sorted(paths):
        cur = root
        for el in p:
            cur = cur.setdefault(el, {})
    return root


def fieldsv1_to_paths(fv, prefix=(), out=None):
    if out is None:
        out = set()
    for k, v in (fv or {}).items():
        if k == ".":
            out.add(prefix + (".",))
            continue
        p = prefix + (k,)
        if isinstance(v, dict) and v:
            fieldsv1_to_paths(v, p, out)
        else:
            out.add(p)
    return out


def _find_item(lst, field, kel):
    keyd = json.loads(kel[2:])
    for i, it in enumerate(lst):
        if _assoc_key(field, it) == keyd:
            return i
    return None


def get_at(obj, path):
    cur = obj
    field = None
    for el in path:
        if el == ".":
            return cur
        if el.startswith("f:"):
            if not isinstance(cur, dict) or el[2:] not in cur:
                return KeyError
            field = el[2:]
            cur = cur[field]
        else:
            if not isinstance(cur, list):
                return KeyError
            i = _find_item(cur, field, el)
            if i is None:
                return KeyError
            cur = cur[i]
    return cur


def _remove(obj, path):
    cur = obj
    field = None
    for el in path[:-1]:
        if el.startswith("f:"):
            if not isinstance(cur, dict) or el[2:] not in cur:
                return
            field = el[2:]
            cur = cur[field]
        else:
            if not isinstance(cur, list):
                return
            i = _find_item(cur, field, el)
            if i is None:
                return
            cur = cur[i]
    last = path[-1]
    if last.startswith("f:"):
        if isinstance(cur, dict):
            cur.pop(last[2:], None)
    elif isinstance(cur, list):
        i = _find_item(cur, field, last)
        if i is not None:
            cur.pop(i)


def remove_at(obj, path):
    """Remove the value at path; prune maps/lists that become empty (below top level)."""
    base = path[:-1] if path and path[-1] == "." else path
    if not base:
        return
    _remove(obj, base)
    for n in range(len(base) - 1, 1, -1):
        pre = base[:n]
        v = get_at(obj, pre)
        if isinstance(v, (dict, list)) and not v:
            _remove(obj, pre)
        else:
            break


def apply_merge(live, applied, field=None):
    """Merge applied configuration into live (SSA semantics for a field set we own)."""
    if isinstance(applied, dict):
        out = deepcopy(live) if isinstance(live, dict) else {}
        for k, v in applied.items():
            if isinstance(v, dict) and v:
                out[k] = apply_merge(out.get(k), v, k)
            elif isinstance(v, list) and _is_assoc(k, v) and isinstance(out.get(k), list):
                cur = out[k]
                for it in v:
                    i = _find_item(cur, k, _kstr(_assoc_key(k, it)))
                    if i is None:
                        cur.append(deepcopy(it))
                    else:
                        cur[i] = apply_merge(cur[i], it, k)
                out[k] = cur
            else:
                out[k] = deepcopy(v)
        return out
    return deepcopy(applied)


def changed_paths(old, new, prefix=(), out=None, top=True, subresource=None):
    """Leaf paths of new whose value differs from old (used for Update operations).

    A write through the status subresource can only change (and so only own) status fields; any
    other write never owns status fields of kinds with a status subresource."""
    if out is None:
        out = set()
    if not isinstance(new, dict):
        return out
    old = old if isinstance(old, dict) else {}
    for k, v in new.items():
        if top and subresource == "status":
            if k != "status":
                continue
        elif top and k in ("apiVersion", "kind", "status"):
            continue
        if top and k == "metadata":
            keep = ("labels", "annotations", "finalizers", "ownerReferences")
            changed_paths({kk: vv for kk, vv in (old.get("metadata") or {}).items() if kk in keep},
                          {kk: vv for kk, vv in v.items() if kk in keep},
                          prefix + ("f:metadata",), out, top=False)
            continue
        p = prefix + ("f:" + k,)
        ov = old.get(k)
        if ov == v:
            continue
        if isinstance(v, dict) and v:
            changed_paths(ov, v, p, out, top=False)
        elif isinstance(v, list) and _is_assoc(k, v):
            ol = ov if isinstance(ov, list) else []
            for it in v:
                kel = _kstr(_assoc_key(k, it))
                i = _find_item(ol, k, kel)
                oi = ol[i] if i is not None else None
                if oi != it:
                    if oi is None:
                        out.add(p + (kel, "."))
                    changed_paths(oi, it, p + (kel,), out, top=False)
        else:
            out.add(p)
    return out


def _remove_unowned(obj, removed, kept):
    """Remove from obj the paths a manager stopped applying (removed) unless some manager still owns
    them (kept = the manager's new set plus every other manager's set).

    A keyed list item is owned as a unit through its ('k:{...}', '.') path: when nobody keeps the
    item or anything below it, the whole item goes (key fields included). When somebody still owns a
    field of the item, the item stays with its key fields (they identify it and are never removed on
    their own) and only the unowned fields are dropped.

    The order is deterministic (shortest paths first, then lexicographic): items are removed as a
    whole before their fields are visited. Iterating the set directly made the result depend on the
    process' string hash seed: removing the key field f:name first left {"value": "2"} behind, which
    no later path could find again."""
    kept_bases = {q[:-1] if q and q[-1] == "." else q for q in kept}
    kept_leaves = {q for q in kept if q and q[-1] != "."}
    for p in sorted(removed, key=lambda q: (len(q), q)):
        base = p[:-1] if p and p[-1] == "." else p
        if not base:
            continue
        # somebody still owns this value or something below it
        if any(q[:len(base)] == base for q in kept_bases):
            continue
        # somebody owns an enclosing value as a whole (atomic map/list)
        if any(len(q) < len(base) and base[:len(q)] == q for q in kept_leaves):
            continue
        # a key field of an item: it goes with the item's own path (or stays with the item)
        if len(base) >= 2 and base[-1].startswith("f:") and base[-2].startswith("k:") and \
                base[-1][2:] in json.loads(base[-2][2:]):
            continue
        remove_at(obj, p)


def _conflicting_manager(entry):
    """A managedFields entry as the real server names it in a conflict: "name", then
    ` with subresource "scale"`, then ` using apps/v1` for an Update (not for an Apply)."""
    out = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        out += " with subresource " + json.dumps(entry["subresource"])
    if entry.get("operation") == "Update":
        out += " using " + entry.get("apiVersion", "")
    return out


def _fields_still_as_last_applied(obj):
    """Field paths of the kubectl.kubernetes.io/last-applied-configuration annotation whose live value
    is still the annotation's."""
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(
        "kubectl.kubernetes.io/last-applied-configuration")
    try:
        last = json.loads(text) if text else None
    except ValueError:
        last = None
    if not isinstance(last, dict):
        return set()
    return {p for p in field_paths(last) if get_at(obj, p) == get_at(last, p)}


def server_side_apply(live, applied, manager, api_version, force, now, resource, group, name):
    """Returns the new object. live may be None (create)."""
    import copy
    existed = live is not None
    obj = deepcopy(live) if live else {}
    mfs = copy.deepcopy((obj.get("metadata") or {}).get("managedFields") or [])
    new_paths = field_paths(applied)
    mine = None
    others = []
    for e in mfs:
        if e.get("manager") == manager and e.get("operation") == "Apply":
            mine = e
        else:
            others.append(e)
    prev = fieldsv1_to_paths(mine.get("fieldsV1")) if mine else set()
    # conflicts
    conflicts = []
    for e in others:
        ops = fieldsv1_to_paths(e.get("fieldsV1"))
        shared = ops & new_paths
        for p in sorted(shared):
            if p and p[-1] == ".":
                continue
            lv = get_at(obj, p)
            av = get_at(applied, p)
            if lv != av:
                conflicts.append((_conflicting_manager(e), p))
    if conflicts and not force and manager == "kubectl":
        # As the real server does for `kubectl apply --server-side` after client-side applies: a
        # conflict over a field whose live value is still the one in the last-applied annotation is
        # no conflict (the applier takes the field over), so moving to server-side apply is smooth.
        allowed = _fields_still_as_last_applied(obj)
        conflicts = [(m, p) for m, p in conflicts if p not in allowed]
        force = not conflicts
    if conflicts and not force:
        causes = [{"reason": "FieldManagerConflict",
                   "message": f'conflict with {m}: .{_pretty(p)}', "field": "." + _pretty(p)}
                  for m, p in conflicts]
        if len(conflicts) == 1:
            m, p = conflicts[0]
            msg = f'Apply failed with 1 conflict: conflict with {m}: .{_pretty(p)}'
        else:
            msg = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(
                f'conflict with {m}: .{_pretty(p)}' for m, p in conflicts)
        raise ApiError(409, "Conflict", msg, name=name, group=group, kind=resource, causes=causes)
    # with force (or when values agree) other managers lose the fields we now own
    if force:
        new_others = []
        for e in others:
            ops = fieldsv1_to_paths(e.get("fieldsV1")) - new_paths
            if ops:
                e = dict(e)
                e["fieldsV1"] = paths_to_fieldsv1(ops)
                new_others.append(e)
        others = new_others
    # remove fields we no longer apply and that nobody else owns
    still_owned = set()
    for e in others:
        still_owned |= fieldsv1_to_paths(e.get("fieldsV1"))
    _remove_unowned(obj, prev - new_paths, new_paths | still_owned)
    # merge
    md_applied = applied.get("metadata") or {}
    body = {k: v for k, v in applied.items() if k not in ("metadata", "status")}
    obj = apply_merge(obj, body)
    md = obj.setdefault("metadata", {})
    for k in ("labels", "annotations"):
        if k in md_applied:
            md[k] = apply_merge(md.get(k) or {}, md_applied[k] or {})
        if k in md and not md[k]:
            del md[k]
    for k in ("finalizers", "ownerReferences"):
        if k in md_applied:
            md[k] = deepcopy(md_applied[k])
    if not existed:
        for k in ("name", "namespace", "generateName"):
            if k in md_applied:
                md[k] = md_applied[k]
    entry = {"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now,
             "fieldsType": "FieldsV1", "fieldsV1": paths_to_fieldsv1(new_paths)}
    out_mfs = []
    placed = False
    for e in mfs:
        if e.get("manager") == manager and e.get("operation") == "Apply":
            out_mfs.append(entry)
            placed = True
        else:
            match = next((o for o in others if o.get("manager") == e.get("manager")
                          and o.get("operation") == e.get("operation")
                          and o.get("subresource") == e.get("subresource")), None)
            if match is not None:
                out_mfs.append(match)
    if not placed:
        out_mfs.append(entry)
    md["managedFields"] = out_mfs
    return obj


def record_update(old, new, manager, api_version, now, subresource=None):
    """Track managedFields for a non-apply write (create/update/patch)."""
    md = new.setdefault("metadata", {})
    old_mfs = (old or {}).get("metadata", {}).get("managedFields") or []
    if old is not None and "managedFields" in md and (md.get("managedFields") or []) != old_mfs:
        # the client rewrote managedFields explicitly (e.g. kubectl's client-side -> server-side apply
        # migration): take them as they are, like the real server does
        if not md["managedFields"]:
            del md["managedFields"]
        return
    mfs = deepcopy(old_mfs)
    if old is None:
        mfs = []
    changed = changed_paths(old or {}, new, subresource=subresource)
    if not changed:
        md["managedFields"] = mfs
        if not mfs:
            md.pop("managedFields", None)
        return
    out = []
    mine = None
    for e in mfs:
        if e.get("manager") == manager and e.get("operation") == "Update" and e.get("subresource") == subresource:
            mine = e
            continue
        ops = fieldsv1_to_paths(e.get("fieldsV1")) - changed
        if ops:
            e = dict(e)
            e["fieldsV1"] = paths_to_fieldsv1(ops)
            out.append(e)
    paths = changed | (fieldsv1_to_paths(mine.get("fieldsV1")) if mine else set())
    # drop paths that no longer exist in the object
    paths = {p for p in paths if get_at(new, p if p[-1] != "." else p[:-1]) is not KeyError}
    if paths:
        entry = {"manager": manager, "operation": "Update", "apiVersion": api_version, "time": now,
                 "fieldsType": "FieldsV1", "fieldsV1": paths_to_fieldsv1(paths)}
        if subresource:
            entry["subresource"] = subresource
        out.append(entry)
    md["managedFields"] = out


def _pretty(path):
    parts = []
    for el in path:
        if el == ".":
            continue
        if el.startswith("f:"):
            parts.append(el[2:])
        else:
            keyd = json.loads(el[2:])
            inner = ",".join(f"{k}={json.dumps(v)}" for k, v in keyd.items())
            parts[-1] = parts[-1] + f"[{inner}]"
    return ".".join(parts)
