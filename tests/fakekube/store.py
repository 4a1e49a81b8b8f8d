"""In-memory object store with a global resourceVersion, an event history and watch fan-out."""
import asyncio
import collections

from kutil import deepcopy


class Watcher:
    def __init__(self, storage, namespace, match):
        self.storage = storage
        self.namespace = namespace
        self.match = match  # fn(obj) -> bool
        self.queue = asyncio.Queue()
        self.overflow = False

    def offer(self, etype, obj, old=None):
        if self.namespace and obj["metadata"].get("namespace") != self.namespace:
            return
        now = self.match(obj)
        was = self.match(old) if old is not None else None
        if etype == "MODIFIED" and old is not None:
            if now and not was:
                etype = "ADDED"
            elif was and not now:
                etype = "DELETED"
            elif not now:
                return
        elif not now:
            return
        if self.queue.qsize() > 100000:
            self.overflow = True
            return
        self.queue.put_nowait((etype, obj))


class Store:
    def __init__(self, history=1000):
        self.rv = 100
        self.data = collections.defaultdict(dict)  # storage -> {(ns, name): obj}
        self.history = collections.deque(maxlen=history)  # (rv, storage, type, obj, old)
        self.compacted = self.rv  # events with rv <= compacted are gone
        self.watchers = collections.defaultdict(set)
        self.hooks = []  # fn(storage, type, obj, old)

    def next_rv(self):
        self.rv += 1
        return self.rv

    def get(self, storage, ns, name):
        return self.data[storage].get((ns or "", name))

    def items(self, storage, ns=None):
        d = self.data[storage]
        keys = sorted(d.keys())
        return [d[k] for k in keys if ns is None or k[0] == ns]

    def _record(self, storage, etype, obj, old):
        rv = int(obj["metadata"]["resourceVersion"])
        if len(self.history) == self.history.maxlen:
            self.compacted = self.history[0][0]
        self.history.append((rv, storage, etype, obj, old))
        for w in list(self.watchers[storage]):
            w.offer(etype, obj, old)
        for h in self.hooks:
            try:
                h(storage, etype, obj, old)
            except Exception:  # noqa: a hook must never break the store
                import traceback
                traceback.print_exc()

    def put(self, storage, obj, etype):
        """Store obj (already fully formed, rv assigned here). Returns a copy."""
        md = obj["metadata"]
        key = (md.get("namespace") or "", md["name"])
        old = self.data[storage].get(key)
        md["resourceVersion"] = str(self.next_rv())
        self.data[storage][key] = obj
        self._record(storage, etype, obj, old)
        return deepcopy(obj)

    def update(self, storage, ns, name, fn):
        """Atomic read-modify-write of the latest stored object.

        fn(current) gets the object as stored right now (a private copy) and returns the new object, or
        None to leave it alone. No await happens between the read and the write, so nothing (API request
        or controller) can slip in between; callers never write back a copy they read earlier.
        Returns (old, stored copy of the new object) or (old, None) when nothing was written; old is None
        when the object does not exist (fn is not called then)."""
        cur = self.data[storage].get((ns or "", name))
        if cur is None:
            return None, None
        new = fn(deepcopy(cur))
        if new is None:
            return cur, None
        return cur, self.put(storage, new, "MODIFIED")

    def remove(self, storage, ns, name):
        key = (ns or "", name)
        obj = self.data[storage].pop(key, None)
        if obj is None:
            return None
        obj = deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.next_rv())
        self._record(storage, "DELETED", obj, None)
        return obj

    def add_watch(self, storage, ns, match, since_rv):
        """Register a watcher; returns (watcher, backlog) or raises LookupError when too old."""
        w = Watcher(storage, ns, match)
        backlog = []
        if since_rv is not None:
            if since_rv < self.compacted:
                raise LookupError(self.compacted)
            for rv, st, et, obj, old in self.history:
                if rv > since_rv and st == storage:
                    backlog.append((et, obj, old))
        self.watchers[storage].add(w)
        return w, backlog

    def remove_watch(self, w):
        self.watchers[w.storage].discard(w)
