"""argparse: the namespace a program's command line parses into is the
params of its process's trials (docs/ADAPTERS.md "Python", "argparse").

A value given on the command line has source "argparse"; a default (the
parser's, or set_defaults) "argparse:default". The params go to the shim as
params of the process (Api.process_params): the agent puts them on every
trial of the process, the ones it opens itself (--trial, the root fallback,
failed runs) included, in place of the argv params it would have guessed.

Only a parse of this process's command line is reported: args None
(sys.argv[1:]) or a non-empty tail of sys.argv. A library parsing a list of
its own (parse_args(["--x", "1"]), or [] to get its defaults) says nothing
about the command line. Nested parses (subparsers call parse_known_args
inside the outer one) are part of the outer one. A key reported again by a
later parse replaces its value, except that a default never replaces a value
given on the command line.
"""
import sys
import _thread

from . import api, guard

_active = {}  # thread id -> set of dests the command line gave, during the outermost parse
_sent = {}    # key -> (value, source) reported so far in this process


def patch(argparse):
    P = argparse.ArgumentParser
    if not hasattr(P, "_get_values"):
        return  # another argparse: leave it alone; the agent's argv params stand
    orig_args, orig_known, orig_values = P.parse_args, P.parse_known_args, P._get_values

    def outer_parse(orig, self, args, namespace):
        tid = _thread.get_ident()
        outer = tid not in _active
        if outer:
            _active[tid] = set()
        try:
            result = orig(self, args, namespace)
        finally:
            given = _active.pop(tid, None) if outer else None
        if outer:
            ns = result[0] if isinstance(result, tuple) else result
            guard(lambda: _report(self, args, ns, given))
        return result

    def parse_args(self, args=None, namespace=None):
        return outer_parse(orig_args, self, args, namespace)

    def parse_known_args(self, args=None, namespace=None):
        return outer_parse(orig_known, self, args, namespace)

    def _get_values(self, action, arg_strings):
        values = orig_values(self, action, arg_strings)
        seen = _active.get(_thread.get_ident())
        # an optional is taken only when its flag is there; a positional
        # with nargs '?' or '*' is taken with nothing, meaning its default
        if seen is not None and (arg_strings or action.option_strings):
            seen.add(action.dest)
        return values

    for name, fn in (("parse_args", parse_args), ("parse_known_args", parse_known_args),
                     ("_get_values", _get_values)):
        orig = getattr(P, name)
        fn.__name__, fn.__qualname__, fn.__doc__ = orig.__name__, orig.__qualname__, orig.__doc__
        fn.__wrapped__ = orig
        setattr(P, name, fn)


def _command_line(args):
    if args is None:
        return True
    try:
        args = list(args)
    except TypeError:
        return False
    return 0 < len(args) < len(sys.argv) and args == sys.argv[len(sys.argv) - len(args):]


def _dests(parser, out, seen):
    """The names parser (and its subparsers) can set: its actions' dests and
    set_defaults keys; a namespace passed in may hold other attributes."""
    if id(parser) in seen:
        return out
    seen.add(id(parser))
    out.update(parser._defaults)
    for a in parser._actions:
        out.add(a.dest)
        for sub in getattr(a, "_name_parser_map", {}).values():
            _dests(sub, out, seen)
    return out


def _plain(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return _text(v)


def _text(v):
    """The canonical text of a parsed value, or None to leave it out: None
    (nothing set), callables and classes (set_defaults(func=...)), and
    objects that print as their address, which differs in every run."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return str(v)
    if isinstance(v, (list, tuple)):
        import json
        return json.dumps([_plain(x) for x in v])
    if hasattr(v, "name") and (hasattr(v, "read") or hasattr(v, "write")):
        return str(v.name)  # argparse.FileType: the file named
    if callable(v) or isinstance(v, type(sys)):
        return None
    t = type(v)
    if t.__str__ is object.__str__ and t.__repr__ is object.__repr__:
        return None
    return str(v)


def _report(parser, args, ns, given):
    if given is None or not _command_line(args):
        return
    dests = _dests(parser, set(), set())
    items = []
    for key, value in sorted(vars(ns).items()):
        if key not in dests:
            continue
        text = _text(value)
        if text is None:
            continue
        src = "argparse" if key in given else "argparse:default"
        old = _sent.get(key)
        if old == (text, src) or (old and old[1] == "argparse" and src != "argparse"):
            continue
        _sent[key] = (text, src)
        items.append((key, text, src))
    a = api() if items else None  # the API costs ctypes' import: only when there is something to say
    if a is not None:
        a.process_params(items)
