"""Optuna: every Optuna trial is a tunetrail trial, opened by Study.ask (which
Study.optimize calls for each trial) and reported and ended when the trial is
told (optuna.study._tell._tell_with_warning: the one function both
Study.optimize and Study.tell finish a trial through). Keys and rules:
docs/ADAPTERS.md, "Optuna (Python)"."""
import functools
import sys
import threading

from . import api, guard, enabled
from . import nest

FW = "optuna"

_lock = threading.Lock()
_open = {}  # (id(storage), optuna trial id) -> tunetrail trial id


def _key(study, trial_id):
    return (id(study._storage), trial_id)


def _wrap_ask(orig):
    @functools.wraps(orig)
    def ask(self, *args, **kwargs):
        trial = orig(self, *args, **kwargs)

        def opened():
            tid = api().open(FW)
            with _lock:
                _open[_key(self, trial._trial_id)] = tid
            nest.push(tid)
        if enabled():
            guard(opened)
        return trial

    ask.__tunetrail_orig__ = orig
    return ask


def _report(study, frozen, err):
    a = api()
    with _lock:
        tid = _open.pop(_key(study, frozen._trial_id), None)
    if tid is None:  # asked in another process, or told twice
        return
    nest.pop(tid)
    for k, v in frozen.params.items():
        a.param(tid, k, nest.fmt(v))
    state = frozen.state.name  # COMPLETE, PRUNED, FAIL
    a.param(tid, FW + ".number", str(frozen.number))
    a.param(tid, FW + ".state", state)
    for step in sorted(frozen.intermediate_values):
        a.metric(tid, "intermediate_value", float(frozen.intermediate_values[step]), int(step))
    # Optuna gives a pruned trial its last intermediate value as its value;
    # that is not what the objective returned, so only a completed trial
    # has a `value` (the record's N then counts completed trials)
    values = frozen.values if state == "COMPLETE" else None
    if values is not None:
        dirs = ["max" if d.name == "MAXIMIZE" else "min" for d in study.directions]
        for i, v in enumerate(values):
            name = "value" if len(values) == 1 else "value_%d" % i
            a.metric(tid, name, float(v), -1, None, dirs[i] if i < len(dirs) else None)
    if state == "FAIL":
        why = err
        if why is None:
            why = frozen.system_attrs.get("STUDY_TELL_WARNING") or "the objective failed"
        a.end(tid, False, why)
    else:
        a.end(tid, True)


def _caller_error(frame):
    """The exception _run_trial caught from the objective (its local
    func_err), as "Type: message"; None for any other caller."""
    if frame is None or frame.f_code.co_name != "_run_trial":
        return None
    e = frame.f_locals.get("func_err")
    if e is None:
        return None
    return "%s: %s" % (type(e).__name__, e)


def _wrap_tell(orig):
    @functools.wraps(orig)
    def tell(study, trial, *args, **kwargs):
        caller = sys._getframe(1)
        try:
            frozen = orig(study, trial, *args, **kwargs)
        except BaseException:
            # the state may be set before a later step raised (optuna reads
            # it back from the storage too)
            def after_raise():
                if isinstance(trial, int):  # a trial number
                    tid = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, trial)
                else:
                    tid = trial._trial_id
                ft = study._storage.get_trial(tid)
                if ft.state.is_finished():
                    _report(study, ft, _caller_error(caller))
            if enabled():
                guard(after_raise)
            raise
        if enabled():
            guard(lambda: _report(study, frozen, _caller_error(caller)))
        return frozen

    tell.__tunetrail_orig__ = orig
    return tell


def patch(optuna):
    """Patches the optuna package once imported: Study.ask, and the
    _tell_with_warning bindings of optuna.study.study (Study.tell) and
    optuna.study._optimize (Study.optimize)."""
    study_mod = sys.modules.get("optuna.study.study")
    tell_mod = sys.modules.get("optuna.study._tell")
    if study_mod is None or tell_mod is None:
        return
    Study = study_mod.Study
    if not hasattr(Study.ask, "__tunetrail_orig__"):
        Study.ask = _wrap_ask(Study.ask)
    orig = tell_mod._tell_with_warning
    wrapped = _wrap_tell(orig)
    for name in ("optuna.study.study", "optuna.study._optimize"):
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "_tell_with_warning", None) is orig:
            mod._tell_with_warning = wrapped
    a = api()
    if a is not None:
        a.framework_loaded(FW)
