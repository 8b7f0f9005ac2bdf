# tunetrail's Python hook, loaded by every Python process under `tunetrail run`
# (the agent puts this directory first on PYTHONPATH). It installs an import
# hook and then runs the sitecustomize this file shadows (the user's, or
# Debian's), so nothing the user had at start-up is lost. It must never
# change what the program does: any failure disables the hook silently
# (said once under TUNETRAIL_DEBUG).
import sys as _sys


def _tunetrail_start():
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        import tunetrail_hook
        tunetrail_hook.install()
    except Exception as e:  # never break the program
        if os.environ.get("TUNETRAIL_DEBUG"):
            _sys.stderr.write("tunetrail: python hook disabled: %s: %s\n" % (type(e).__name__, e))
    # The sitecustomize we shadow: the next one on sys.path.
    import importlib.machinery
    import importlib.util
    rest = [p for p in _sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    mod = importlib.util.module_from_spec(spec)
    _sys.modules["sitecustomize"] = mod
    spec.loader.exec_module(mod)  # its exceptions are the user's: site.py reports them as usual


_tunetrail_start()
del _tunetrail_start
