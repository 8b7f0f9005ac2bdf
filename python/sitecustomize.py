# tunetrail's Python hook, loaded by every Python process under `tunetrail run`
# (the agent puts this directory first on PYTHONPATH). It installs an import
# hook and then runs the sitecustomize this file shadows (the user's, or
# Debian's), so nothing the user had at start-up is lost. It must never
# change what the program does: any failure disables the hook (said once
# under TUNETRAIL_DEBUG=1).
#
# Start-up cost is paid by every Python process, so this file imports
# nothing that site.py has not already imported: the import system's own
# frozen modules stand in for importlib.util (which alone costs ~3 ms).
import sys as _sys


def _tunetrail_start():
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    if os.environ.get("TUNETRAIL_PYTHON") != "0":
        try:
            import tunetrail_hook
        except Exception as e:  # never break the program
            if os.environ.get("TUNETRAIL_DEBUG") == "1":
                _sys.stderr.write("tunetrail: python hook disabled: %s: %s\n" % (type(e).__name__, e))
        else:
            tunetrail_hook.start()  # never raises
    # The sitecustomize we shadow: the next one on sys.path.
    try:
        import _frozen_importlib
        import _frozen_importlib_external
    except ImportError:  # not CPython 3: leave it be rather than print site.py's error
        return
    rest = [p for p in _sys.path if os.path.abspath(p or ".") != here]
    spec = _frozen_importlib_external.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    mod = _frozen_importlib.module_from_spec(spec)
    _sys.modules["sitecustomize"] = mod
    spec.loader.exec_module(mod)  # its exceptions are the user's: site.py reports them as usual


_tunetrail_start()
del _tunetrail_start
