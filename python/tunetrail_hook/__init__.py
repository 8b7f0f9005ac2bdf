"""tunetrail's in-process hook for Python programs.

Loaded by sitecustomize under `tunetrail run`. It imports nothing heavy: a
meta-path finder watches the imports of the modules in PATCHES and, right
after such a module has run, calls its patch function (in a submodule of
this package, imported then). A program that never imports a framework pays
for this finder and nothing else.

What the patches see is reported through the shim already loaded in the
process (its C API, plugin/hook_api.c, reached with ctypes): the same
datagrams, keep copies and spools as the C adapters' events.

Rules for every patch:
- the program's results, exceptions and output are never changed: a
  wrapper calls the original and returns or raises exactly what it did;
- a failure inside tunetrail's code calls disable(), which stops all
  reporting in this process (said once under TUNETRAIL_DEBUG=1);
- nothing is imported at start-up beyond this package (os and sys are
  site.py's already): a patch imports what it needs when it runs.
"""
import os
import sys

__all__ = ["install", "start", "api", "disable", "enabled", "register", "guard"]

DEBUG = os.environ.get("TUNETRAIL_DEBUG") == "1"  # the shim's rule

# module name -> [(submodule of this package, function name)]: called with
# the module object once the module has been executed.
PATCHES = {}

_state = {"enabled": True, "api": None, "said": False}


def register(module, hook_module, func):
    PATCHES.setdefault(module, []).append((hook_module, func))


def enabled():
    return _state["enabled"]


def disable(why):
    """Stops reporting in this process; says why once under TUNETRAIL_DEBUG."""
    _state["enabled"] = False
    if DEBUG and not _state["said"]:
        _state["said"] = True
        try:
            sys.stderr.write("tunetrail: python hook disabled: %s\n" % why)
        except Exception:
            pass


def guard(fn):
    """Runs fn() (tunetrail's own bookkeeping); on any exception disables the
    hook and returns None. Never raises."""
    if not _state["enabled"]:
        return None
    try:
        return fn()
    except Exception as e:
        disable("%s: %s" % (type(e).__name__, e))
        return None


class Api:
    """The shim's C API. Trials are hex uuid strings; None is the current trial."""

    OK, FAILED = 1, 2

    def __init__(self):
        import ctypes
        lib = ctypes.CDLL(None)  # the process's global scope: the preloaded shim
        if lib.tunetrail_api_version() != 1:
            raise RuntimeError("shim API version %d, hook expects 1" % lib.tunetrail_api_version())
        c_char_p, c_int = ctypes.c_char_p, ctypes.c_int
        self._buf = ctypes.create_string_buffer
        self._open = lib.tunetrail_trial_open
        self._open.argtypes = [c_char_p, c_char_p]
        self._param = lib.tunetrail_trial_param
        self._param.argtypes = [c_char_p, c_char_p, c_char_p, c_char_p]
        self._metric = lib.tunetrail_trial_metric
        self._metric.argtypes = [c_char_p, c_char_p, ctypes.c_double, ctypes.c_longlong, c_char_p, c_char_p]
        self._end = lib.tunetrail_trial_end
        self._end.argtypes = [c_char_p, c_int, c_char_p]
        self._fw = lib.tunetrail_framework_loaded
        self._fw.argtypes = [c_char_p]
        self._pparams = lib.tunetrail_process_params
        self._pparams.argtypes = [c_char_p]
        self._c_double = ctypes.c_double
        self._folds = lib.tunetrail_trial_fold_scores
        self._folds.argtypes = [c_char_p, ctypes.POINTER(ctypes.c_double), ctypes.c_uint]
        for f in (self._open, self._param, self._metric, self._end, self._fw, self._pparams,
                  self._folds):
            f.restype = c_int

    @staticmethod
    def _b(s):
        if s is None:
            return None
        return s.encode("utf-8", "surrogateescape") if isinstance(s, str) else bytes(s)

    def open(self, framework):
        """Opens a trial (now the current one); returns its id. Raises when
        the shim opened none (its process has ended): a None id would mean
        "the current trial" to the other calls."""
        buf = self._buf(33)
        self._open(self._b(framework), buf)
        if len(buf.value) != 32:
            raise RuntimeError("the shim opened no trial")
        return buf.value.decode("ascii")

    def param(self, trial, key, value, source=None):
        self._param(self._b(trial), self._b(key), self._b(value), self._b(source))

    def metric(self, trial, name, value, step=-1, split=None, direction=None):
        self._metric(self._b(trial), self._b(name), float(value), int(step), self._b(split), self._b(direction))

    def end(self, trial, ok=True, error=None):
        self._end(self._b(trial), self.OK if ok else self.FAILED, self._b(error))

    def fold_scores(self, trial, scores):
        """The score of each fold of a cross-validation (greater is better),
        in fold order: the record's selection statistics read them."""
        scores = [float(s) for s in scores]
        if 0 < len(scores) < 256:
            self._folds(self._b(trial), (self._c_double * len(scores))(*scores), len(scores))

    def framework_loaded(self, framework):
        self._fw(self._b(framework))

    def process_params(self, items):
        """Params of this process image, not of one trial: [(key, value,
        source)], strings. The agent puts them on every trial of the image
        (those it opens for --trial, the root and failed runs included) in
        place of the argv params; a key sent again replaces its value."""
        import json
        chunk, size = [], 0
        for k, v, src in items:
            e = [_text(k), _text(v)[:4096], _text(src)]
            n = len(json.dumps(e)) + 2
            if chunk and size + n > 12000:  # the shim takes 16 KiB per note
                self._pparams(json.dumps(chunk).encode("ascii"))
                chunk, size = [], 0
            chunk.append(e)
            size += n
        if chunk:
            self._pparams(json.dumps(chunk).encode("ascii"))


def _text(s):
    """s as valid UTF-8 text: undecodable argv bytes (surrogate escapes)
    become U+FFFD, as the store's readers show them."""
    if not isinstance(s, str):
        s = str(s)
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def api():
    """The shim's API, or None when the hook is disabled or no shim is loaded."""
    if not _state["enabled"]:
        return None
    if _state["api"] is None:
        try:
            _state["api"] = Api()
        except Exception as e:
            disable("no shim API in this process (%s: %s)" % (type(e).__name__, e))
            return None
    return _state["api"]


class _Loader:
    """Runs the real loader, then the module's patches."""

    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def __getattr__(self, attr):
        return getattr(self._loader, attr)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)  # the user's import: its errors propagate
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        _patch(self._name, module)


def _patch(name, module):
    for hook_module, func in PATCHES.get(name, ()):
        def run(hook_module=hook_module, func=func):
            import importlib
            m = importlib.import_module("tunetrail_hook." + hook_module)
            getattr(m, func)(module)
        guard(run)


class _Finder:
    """A meta-path finder for the modules in PATCHES only."""

    def __init__(self):
        self._busy = set()

    def find_spec(self, name, path=None, target=None):
        if name not in PATCHES or name in self._busy or not _state["enabled"]:
            return None
        self._busy.add(name)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._busy.discard(name)
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader, name)
        return spec

    def invalidate_caches(self):
        pass


def install():
    """Installs the import hook; patches modules already imported."""
    if os.environ.get("TUNETRAIL_PYTHON") == "0":
        return
    from . import frameworks  # noqa: F401 (registers PATCHES; imports no framework)
    sys.meta_path.insert(0, _Finder())
    for name in list(PATCHES):
        mod = sys.modules.get(name)
        if mod is not None:
            _patch(name, mod)


def start():
    """install() for sitecustomize: a failure disables the hook, never raises."""
    guard(install)
