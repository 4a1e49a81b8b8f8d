"""A subset of the Common Expression Language (CEL), written for fakekube's ValidatingAdmissionPolicy
support from the CEL language definition (github.com/google/cel-spec, langdef.md).

Supported: int/uint/double/string/bool/null literals, lists and maps, identifiers, field selection,
indexing, `has()`, `in`, `!`, unary `-`, `&&`/`||` with CEL's commutative error absorption, `? :`,
comparisons, arithmetic (string/list concatenation with `+`), size(), string methods and the list
macros all/exists/exists_one/map/filter, conversions int()/uint()/double()/string()/bool(), and
Kubernetes' authorizer library (through Python objects with a cel_call method).

Anything else raises CelError (unknown function, bytes literals, unsupported syntax): an expression
the fake cannot evaluate fails loudly instead of evaluating to something.
"""
import re

INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1
UINT_MAX = (1 << 64) - 1


class CelError(Exception):
    """A runtime error of an expression (CEL errors are values absorbed by && and ||)."""


class CelSyntaxError(CelError):
    """The expression cannot be parsed (the apiserver rejects such policies when they are written)."""


class UInt(int):
    """A CEL uint value (Python int subclass, so only the type differs)."""

    def __repr__(self):
        return f"{int(self)}u"


# ------------------------------------------------------------------ lexer

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<float>(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<hex>0[xX][0-9a-fA-F]+[uU]?)
  | (?P<int>\d+[uU]?)
  | (?P<str>[rR]?[bB]?[rR]?(?:\"\"\"|'''|"|'))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,\[\](){}])
""", re.VERBOSE)

_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
        "'": "'", '"': '"', "`": "`", "?": "?"}

RESERVED = {"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
            "package", "namespace", "return", "var", "void", "while"}


def _read_string(src, i, prefix, quote):
    raw = "r" in prefix.lower()
    if "b" in prefix.lower():
        raise CelSyntaxError("fakekube CEL: bytes literals are not supported")
    out = []
    n = len(src)
    j = i
    while True:
        if j >= n:
            raise CelSyntaxError(f"unterminated string literal at {i}")
        if src.startswith(quote, j):
            return "".join(out), j + len(quote)
        c = src[j]
        if c == "\n" and len(quote) == 1:
            raise CelSyntaxError("newline in a single-line string literal")
        if c == "\\" and not raw:
            if j + 1 >= n:
                raise CelSyntaxError("unterminated escape")
            e = src[j + 1]
            if e in _ESC:
                out.append(_ESC[e])
                j += 2
            elif e in "xX":
                out.append(chr(int(src[j + 2:j + 4], 16)))
                j += 4
            elif e == "u":
                out.append(chr(int(src[j + 2:j + 6], 16)))
                j += 6
            elif e == "U":
                out.append(chr(int(src[j + 2:j + 10], 16)))
                j += 10
            elif e in "0123":
                out.append(chr(int(src[j + 1:j + 4], 8)))
                j += 4
            else:
                raise CelSyntaxError(f"invalid escape sequence \\{e}")
            continue
        out.append(c)
        j += 1


def tokenize(src):
    toks = []
    i = 0
    n = len(src)
    while i < n:
        m = _TOKEN.match(src, i)
        if not m:
            raise CelSyntaxError(f"Syntax error: token recognition error at: '{src[i]}' (offset {i})")
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "ws":
            i = m.end()
            continue
        if kind == "str":
            quote = text.lstrip("rRbB")
            prefix = text[:len(text) - len(quote)]
            s, i = _read_string(src, m.end(), prefix, quote)
            toks.append(("lit", s, m.start()))
            continue
        if kind == "float":
            toks.append(("lit", float(text), m.start()))
        elif kind in ("int", "hex"):
            u = text[-1] in "uU"
            v = int(text[:-1] if u else text, 0)
            if u:
                if v > UINT_MAX:
                    raise CelSyntaxError(f"uint literal out of range: {text}")
                toks.append(("lit", UInt(v), m.start()))
            else:
                # the range check of a negative literal happens at the unary minus
                toks.append(("int", v, m.start()))
        elif kind == "ident":
            if text == "true":
                toks.append(("lit", True, m.start()))
            elif text == "false":
                toks.append(("lit", False, m.start()))
            elif text == "null":
                toks.append(("lit", None, m.start()))
            elif text == "in":
                toks.append(("op", "in", m.start()))
            else:
                toks.append(("ident", text, m.start()))
        else:
            toks.append(("op", text, m.start()))
        i = m.end()
    toks.append(("eof", None, n))
    return toks


# ------------------------------------------------------------------ parser
# AST nodes are tuples: ("lit", v) ("id", name) ("sel", operand, field) ("idx", operand, key)
# ("call", target-or-None, name, [args]) ("list", [e]) ("map", [(k, v)]) ("not", e) ("neg", e)
# ("and", a, b) ("or", a, b) ("cond", c, a, b) ("bin", op, a, b) ("has", operand, field)
# ("macro", name, target, var, body)

MACROS = ("all", "exists", "exists_one", "map", "filter")


class Parser:
    def __init__(self, src):
        self.src = src
        self.toks = tokenize(src)
        self.i = 0

    def peek(self, kind=None, val=None):
        t = self.toks[self.i]
        if kind is not None and t[0] != kind:
            return None
        if val is not None and t[1] != val:
            return None
        return t

    def take(self, kind=None, val=None):
        t = self.peek(kind, val)
        if t is None:
            cur = self.toks[self.i]
            what = "end of input" if cur[0] == "eof" else repr(cur[1])
            want = val or kind
            raise CelSyntaxError(f"Syntax error: expected {want!r}, found {what} at offset {cur[2]}")
        self.i += 1
        return t

    def parse(self):
        e = self.expr()
        if not self.peek("eof"):
            t = self.toks[self.i]
            raise CelSyntaxError(f"Syntax error: unexpected {t[1]!r} at offset {t[2]}")
        return e

    def expr(self):
        c = self.or_()
        if self.peek("op", "?"):
            self.take()
            a = self.or_()
            self.take("op", ":")
            b = self.expr()
            return ("cond", c, a, b)
        return c

    def or_(self):
        e = self.and_()
        while self.peek("op", "||"):
            self.take()
            e = ("or", e, self.and_())
        return e

    def and_(self):
        e = self.rel()
        while self.peek("op", "&&"):
            self.take()
            e = ("and", e, self.rel())
        return e

    def rel(self):
        e = self.add()
        while True:
            t = self.peek("op")
            if t and t[1] in ("<", "<=", ">", ">=", "==", "!=", "in"):
                self.take()
                e = ("bin", t[1], e, self.add())
            else:
                return e

    def add(self):
        e = self.mul()
        while True:
            t = self.peek("op")
            if t and t[1] in ("+", "-"):
                self.take()
                e = ("bin", t[1], e, self.mul())
            else:
                return e

    def mul(self):
        e = self.unary()
        while True:
            t = self.peek("op")
            if t and t[1] in ("*", "/", "%"):
                self.take()
                e = ("bin", t[1], e, self.unary())
            else:
                return e

    def unary(self):
        if self.peek("op", "!"):
            self.take()
            return ("not", self.unary())
        if self.peek("op", "-"):
            self.take()
            if self.peek("int"):  # -9223372036854775808 is a valid literal
                v = -self.take()[1]
                if v < INT_MIN:
                    raise CelSyntaxError("int literal out of range")
                return self.member(("lit", v))
            return ("neg", self.unary())
        return self.member(self.primary())

    def args(self, close):
        out = []
        if not self.peek("op", close):
            out.append(self.expr())
            while self.peek("op", ","):
                self.take()
                if self.peek("op", close):
                    break
                out.append(self.expr())
        self.take("op", close)
        return out

    def member(self, e):
        while True:
            if self.peek("op", "."):
                self.take()
                name = self.take("ident")[1]
                if self.peek("op", "("):
                    self.take()
                    if name in MACROS:
                        e = self.macro(name, e)
                    else:
                        e = ("call", e, name, self.args(")"))
                else:
                    e = ("sel", e, name)
            elif self.peek("op", "["):
                self.take()
                k = self.expr()
                self.take("op", "]")
                e = ("idx", e, k)
            else:
                return e

    def macro(self, name, target):
        v = self.take("ident")[1]
        self.take("op", ",")
        body = self.expr()
        if name == "map" and self.peek("op", ","):  # map(x, filter, transform)
            self.take()
            transform = self.expr()
            self.take("op", ")")
            return ("macro", "map3", target, v, (body, transform))
        self.take("op", ")")
        return ("macro", name, target, v, body)

    def primary(self):
        t = self.toks[self.i]
        if t[0] == "int":
            self.i += 1
            if t[1] > INT_MAX:
                raise CelSyntaxError(f"int literal out of range: {t[1]}")
            return ("lit", t[1])
        if t[0] == "lit":
            self.i += 1
            return ("lit", t[1])
        if t[0] == "ident":
            # reserved words are refused as identifiers, not as field or method names (`.namespace(ns)`)
            if t[1] in RESERVED:
                raise CelSyntaxError(f"reserved identifier: {t[1]}")
            self.i += 1
            if self.peek("op", "("):
                self.take()
                if t[1] == "has":
                    arg = self.expr()
                    self.take("op", ")")
                    if arg[0] != "sel":
                        raise CelSyntaxError("invalid argument to has() macro")
                    return ("has", arg[1], arg[2])
                return ("call", None, t[1], self.args(")"))
            return ("id", t[1])
        if t[0] == "op" and t[1] == "(":
            self.i += 1
            e = self.expr()
            self.take("op", ")")
            return e
        if t[0] == "op" and t[1] == "[":
            self.i += 1
            return ("list", self.args("]"))
        if t[0] == "op" and t[1] == "{":
            self.i += 1
            entries = []
            while not self.peek("op", "}"):
                k = self.expr()
                self.take("op", ":")
                entries.append((k, self.expr()))
                if not self.peek("op", ","):
                    break
                self.take()
            self.take("op", "}")
            return ("map", entries)
        if t[0] == "op" and t[1] == ".":
            raise CelSyntaxError("fakekube CEL: leading-dot (root scope) identifiers are not supported")
        what = "end of input" if t[0] == "eof" else repr(t[1])
        raise CelSyntaxError(f"Syntax error: unexpected {what} at offset {t[2]}")


def compile_expr(src):
    """Parse an expression; raises CelSyntaxError."""
    if not isinstance(src, str) or not src.strip():
        raise CelSyntaxError("expression must not be empty")
    return Parser(src).parse()


# ------------------------------------------------------------------ evaluation

def type_name(v):
    if v is None:
        return "null_type"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, UInt):
        return "uint"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "map"
    return getattr(v, "cel_type", type(v).__name__)


def _no_overload(op, *vals):
    return CelError(f"no such overload: {op}({', '.join(type_name(v) for v in vals)})")


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_int(v, unsigned=False):
    if unsigned:
        if v < 0 or v > UINT_MAX:
            raise CelError("unsigned integer overflow")
        return UInt(v)
    if v < INT_MIN or v > INT_MAX:
        raise CelError("integer overflow")
    return v


def cel_equals(a, b):
    if _is_num(a) and _is_num(b):
        return a == b  # heterogeneous numeric equality
    if type_name(a) != type_name(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(cel_equals(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        for k, v in a.items():
            found = [bk for bk in b if cel_equals(k, bk)]
            if not found or not cel_equals(v, b[found[0]]):
                return False
        return True
    return a == b


def _compare(op, a, b):
    ok = (_is_num(a) and _is_num(b)) or (type_name(a) == type_name(b) and
                                         isinstance(a, (str, bool)))
    if not ok:
        raise _no_overload(op, a, b)
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _arith(op, a, b):
    if op == "+":
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        if isinstance(a, list) and isinstance(b, list):
            return a + b
    if not (_is_num(a) and _is_num(b)) or type_name(a) != type_name(b):
        raise _no_overload(op, a, b)
    if isinstance(a, float):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                return float("inf") if a > 0 else float("-inf") if a < 0 else float("nan")
            return a / b
        raise _no_overload(op, a, b)
    unsigned = isinstance(a, UInt)
    if op == "+":
        r = a + b
    elif op == "-":
        r = a - b
    elif op == "*":
        r = a * b
    else:
        if b == 0:
            raise CelError("division by zero" if op == "/" else "modulus by zero")
        q = abs(int(a)) // abs(int(b))
        if (a < 0) != (b < 0):
            q = -q
        r = q if op == "/" else a - b * q  # truncated division, remainder takes the dividend's sign
    return _check_int(int(r), unsigned)


def _size(v):
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise _no_overload("size", v)


def _to_string(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e21:
            return str(int(v)) if abs(v) >= 1e-4 or v == 0 else repr(v)
        return repr(v)
    raise _no_overload("string", v)


def _to_int(v, unsigned=False):
    name = "uint" if unsigned else "int"
    if isinstance(v, bool):
        raise _no_overload(name, v)
    if isinstance(v, int):
        return _check_int(int(v), unsigned)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise CelError(f"{name} conversion error")
        return _check_int(int(v), unsigned)
    if isinstance(v, str):
        try:
            return _check_int(int(v, 10), unsigned)
        except ValueError:
            raise CelError(f"{name} conversion error: {v}") from None
    raise _no_overload(name, v)


def _to_double(v):
    if isinstance(v, bool):
        raise _no_overload("double", v)
    if _is_num(v):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            raise CelError(f"double conversion error: {v}") from None
    raise _no_overload("double", v)


def _to_bool(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        if v in ("true", "True", "TRUE", "t", "1"):
            return True
        if v in ("false", "False", "FALSE", "f", "0"):
            return False
        raise CelError(f"bool conversion error: {v}")
    raise _no_overload("bool", v)


def _want(name, v, typ):
    if typ is int:
        ok = isinstance(v, int) and not isinstance(v, (bool, UInt))
    else:
        ok = isinstance(v, typ) and not (typ is not bool and isinstance(v, bool))
    if not ok:
        raise _no_overload(name, v)
    return v


def _matches(s, pattern):
    _want("matches", s, str)
    _want("matches", pattern, str)
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise CelError(f"invalid regular expression {pattern!r}: {e}") from None
    return rx.search(s) is not None


def _string_method(name, s, args):
    if name == "startsWith" and len(args) == 1:
        return s.startswith(_want(name, args[0], str))
    if name == "endsWith" and len(args) == 1:
        return s.endswith(_want(name, args[0], str))
    if name == "contains" and len(args) == 1:
        return _want(name, args[0], str) in s
    if name == "matches" and len(args) == 1:
        return _matches(s, args[0])
    if name == "size" and not args:
        return len(s)
    if name == "lowerAscii" and not args:
        return "".join(c.lower() if c.isascii() else c for c in s)
    if name == "upperAscii" and not args:
        return "".join(c.upper() if c.isascii() else c for c in s)
    if name == "trim" and not args:
        return s.strip()
    if name == "split" and len(args) == 1:
        sep = _want(name, args[0], str)
        return list(s) if sep == "" else s.split(sep)
    return None


class Env:
    """Evaluation environment: variables (a dict; values may be callables taking no argument, then
    they are computed once on first use, like Kubernetes' lazy `variables`)."""

    def __init__(self, variables):
        self.vars = variables
        self._cache = {}

    def lookup(self, name):
        if name in self._cache:
            return self._cache[name]
        if name not in self.vars:
            raise CelError(f"undeclared reference to '{name}'")
        v = self.vars[name]
        if isinstance(v, Lazy):
            v = v.get()
        self._cache[name] = v
        return v

    def child(self, name, value):
        e = Env(self.vars)
        e._cache = dict(self._cache)
        e._cache[name] = value
        return e


class Lazy:
    """A value computed on first use (errors are re-raised on each use)."""

    def __init__(self, fn):
        self.fn = fn
        self.done = False
        self.value = None
        self.error = None

    def get(self):
        if not self.done:
            try:
                self.value = self.fn()
            except CelError as e:
                self.error = e
            self.done = True
        if self.error is not None:
            raise self.error
        return self.value


class LazyMap:
    """A map whose values are Lazy (Kubernetes' `variables`)."""
    cel_type = "map"

    def __init__(self, entries):
        self.entries = entries  # name -> Lazy

    def select(self, field):
        if field not in self.entries:
            raise CelError(f"no such key: {field}")
        return self.entries[field].get()

    def has(self, field):
        return field in self.entries


def _select(v, field):
    if isinstance(v, dict):
        if field not in v:
            raise CelError(f"no such key: {field}")
        return v[field]
    if isinstance(v, LazyMap):
        return v.select(field)
    if hasattr(v, "cel_select"):
        return v.cel_select(field)
    raise CelError(f"no such key: {field} (field selection on a value of type {type_name(v)})")


def evaluate(ast, env):
    t = ast[0]
    if t == "lit":
        return ast[1]
    if t == "id":
        return env.lookup(ast[1])
    if t == "sel":
        return _select(evaluate(ast[1], env), ast[2])
    if t == "has":
        v = evaluate(ast[1], env)
        if isinstance(v, dict):
            return ast[2] in v
        if isinstance(v, LazyMap):
            return v.has(ast[2])
        raise CelError(f"invalid type for field selection: has() on {type_name(v)}")
    if t == "idx":
        v = evaluate(ast[1], env)
        k = evaluate(ast[2], env)
        if isinstance(v, list):
            if not _is_num(k) or (isinstance(k, float) and k != int(k)):
                raise _no_overload("_[_]", v, k)
            i = int(k)
            if i < 0 or i >= len(v):
                raise CelError(f"index out of bounds: {i}")
            return v[i]
        if isinstance(v, dict):
            for mk in v:
                if cel_equals(mk, k):
                    return v[mk]
            raise CelError(f"no such key: {k}")
        if isinstance(v, LazyMap) and isinstance(k, str):
            return v.select(k)
        raise _no_overload("_[_]", v, k)
    if t == "list":
        return [evaluate(e, env) for e in ast[1]]
    if t == "map":
        out = {}
        for ke, ve in ast[1]:
            k = evaluate(ke, env)
            if not isinstance(k, (str, int, bool)):
                raise CelError(f"unsupported map key type: {type_name(k)}")
            if k in out:
                raise CelError(f"Failed with repeated key: {k}")
            out[k] = evaluate(ve, env)
        return out
    if t == "not":
        v = evaluate(ast[1], env)
        if not isinstance(v, bool):
            raise _no_overload("!_", v)
        return not v
    if t == "neg":
        v = evaluate(ast[1], env)
        if isinstance(v, bool) or isinstance(v, UInt) or not _is_num(v):
            raise _no_overload("-_", v)
        return -v if isinstance(v, float) else _check_int(-v)
    if t in ("and", "or"):
        short = t == "or"  # the value that decides: true for ||, false for &&
        errs = []
        for side in (ast[1], ast[2]):
            try:
                v = evaluate(side, env)
            except CelError as e:
                errs.append(e)
                continue
            if not isinstance(v, bool):
                errs.append(_no_overload("_&&_" if t == "and" else "_||_", v))
                continue
            if v == short:
                return short
        if errs:
            raise errs[0]
        return not short
    if t == "cond":
        c = evaluate(ast[1], env)
        if not isinstance(c, bool):
            raise _no_overload("_?_:_", c)
        return evaluate(ast[2] if c else ast[3], env)
    if t == "bin":
        op = ast[1]
        a = evaluate(ast[2], env)
        b = evaluate(ast[3], env)
        if op == "==":
            return cel_equals(a, b)
        if op == "!=":
            return not cel_equals(a, b)
        if op in ("<", "<=", ">", ">="):
            return _compare(op, a, b)
        if op == "in":
            if isinstance(b, list):
                return any(cel_equals(a, x) for x in b)
            if isinstance(b, dict):
                return any(cel_equals(a, x) for x in b)
            if isinstance(b, LazyMap) and isinstance(a, str):
                return b.has(a)
            raise _no_overload("@in", a, b)
        return _arith(op, a, b)
    if t == "macro":
        return _macro(ast, env)
    if t == "call":
        return _call(ast, env)
    raise CelError(f"fakekube CEL: unsupported expression node {t}")


def _macro(ast, env):
    _, name, target, var, body = ast
    coll = evaluate(target, env)
    if isinstance(coll, dict):
        items = list(coll.keys())
    elif isinstance(coll, list):
        items = coll
    else:
        raise _no_overload(name, coll)
    if name in ("all", "exists"):
        decide = name == "exists"  # the element result that decides
        err = None
        for x in items:
            try:
                v = evaluate(body, env.child(var, x))
            except CelError as e:
                err = err or e
                continue
            if not isinstance(v, bool):
                err = err or _no_overload(name, v)
                continue
            if v == decide:
                return decide
        if err is not None:
            raise err
        return not decide
    if name == "exists_one":
        n = 0
        for x in items:
            v = evaluate(body, env.child(var, x))
            if not isinstance(v, bool):
                raise _no_overload(name, v)
            n += 1 if v else 0
        return n == 1
    if name == "map":
        return [evaluate(body, env.child(var, x)) for x in items]
    if name == "map3":
        pred, transform = body
        out = []
        for x in items:
            e = env.child(var, x)
            p = evaluate(pred, e)
            if not isinstance(p, bool):
                raise _no_overload("map", p)
            if p:
                out.append(evaluate(transform, e))
        return out
    if name == "filter":
        out = []
        for x in items:
            v = evaluate(body, env.child(var, x))
            if not isinstance(v, bool):
                raise _no_overload("filter", v)
            if v:
                out.append(x)
        return out
    raise CelError(f"fakekube CEL: unsupported macro {name}")


GLOBAL_FUNCS = {
    "size": lambda v: _size(v),
    "int": lambda v: _to_int(v),
    "uint": lambda v: _to_int(v, True),
    "double": lambda v: _to_double(v),
    "string": lambda v: _to_string(v),
    "bool": lambda v: _to_bool(v),
    "matches": lambda s, p: _matches(s, p),
}


def _call(ast, env):
    _, target, name, arg_asts = ast
    if target is None:
        fn = GLOBAL_FUNCS.get(name)
        if fn is None:
            raise CelError(f"fakekube CEL: unsupported function '{name}'")
        args = [evaluate(a, env) for a in arg_asts]
        try:
            return fn(*args)
        except TypeError:
            raise CelError(f"found no matching overload for '{name}' applied to "
                           f"({', '.join(type_name(a) for a in args)})") from None
    obj = evaluate(target, env)
    args = [evaluate(a, env) for a in arg_asts]
    if hasattr(obj, "cel_call"):
        return obj.cel_call(name, args)
    if isinstance(obj, str):
        r = _string_method(name, obj, args)
        if r is not None:
            return r
    if name == "size" and not args and isinstance(obj, (list, dict)):
        return len(obj)
    if name == "join" and isinstance(obj, list) and len(args) <= 1:
        sep = _want("join", args[0], str) if args else ""
        if not all(isinstance(x, str) for x in obj):
            raise _no_overload("join", obj)
        return sep.join(obj)
    raise CelError(f"fakekube CEL: unsupported function '{name}' on {type_name(obj)} "
                   f"with {len(args)} argument(s)")


def eval_expr(src_or_ast, variables):
    """Evaluate an expression (source text or compiled AST) with the given variables."""
    ast = compile_expr(src_or_ast) if isinstance(src_or_ast, str) else src_or_ast
    return evaluate(ast, variables if isinstance(variables, Env) else Env(variables))
