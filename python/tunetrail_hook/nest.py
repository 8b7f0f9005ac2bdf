"""Shared by the framework hooks: which trial a framework call belongs to,
and how values are written.

A search driver's trial (an Optuna trial) encloses the framework calls its
objective makes on the same thread: XGBoost trained inside an Optuna
objective is that Optuna trial's training, not a trial of its own (the
configuration is counted once). A driver pushes its trial for the time its
objective runs; a framework hook asks enclosing() before opening a trial
and, when there is one, reports its params and metrics into it instead.
Per thread: Optuna's n_jobs runs objectives on threads, each in its own
trial.
"""
import threading

_tls = threading.local()

# Pushed by a hook for a framework call that is part of another's trial but
# not a trial itself (a scikit-learn search's fold fit, in the parent or a
# loky worker): what runs inside records nothing. Without it an XGBClassifier
# in a GridSearchCV would be a trial per fold on top of its candidate's.
QUIET = "quiet"


def enclosing():
    """The trial id a driver on this thread holds open, QUIET, or None."""
    stack = getattr(_tls, "stack", None)
    return stack[-1] if stack else None


def push(trial):
    stack = getattr(_tls, "stack", None)
    if stack is None:
        stack = _tls.stack = []
    stack.append(trial)


def pop(trial):
    stack = getattr(_tls, "stack", None)
    if stack and stack[-1] == trial:
        stack.pop()
    elif stack and trial in stack:
        stack.remove(trial)


def _scalar(v):
    """numpy / torch scalars as Python numbers (without importing either)."""
    mod = type(v).__module__ or ""
    if (mod.startswith("numpy") or mod.startswith("torch")) and hasattr(v, "item"):
        try:
            if getattr(v, "ndim", 0) == 0 or getattr(v, "numel", lambda: 0)() == 1:
                return v.item()
        except Exception:
            pass
    return v


def fmt(v):
    """A param value as text: numbers in the shortest form that reads back
    exactly (Python's repr), booleans true/false, lists [a, b], callables by
    name (never an address, which would differ between runs)."""
    v = _scalar(v)
    if v is True or v is False:
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float, str)):
        return v if isinstance(v, str) else repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%s: %s" % (k, fmt(x)) for k, x in v.items()) + "}"
    if callable(v):
        return getattr(v, "__qualname__", None) or type(v).__name__
    return str(v)
