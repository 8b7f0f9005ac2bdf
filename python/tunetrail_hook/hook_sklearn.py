"""scikit-learn: the trials a search, a cross-validation or a plain fit runs.

What is a trial (docs/ADAPTERS.md, "scikit-learn"):
- each row of a search's cv_results_ (GridSearchCV, RandomizedSearchCV, the
  halving searches: one row per candidate and resource level), reported in
  the parent process after each batch of candidates (evaluate_candidates,
  wrapped through the search's _run_search), whatever n_jobs is;
- the refit of a search's best_estimator_ (its candidate's params and row,
  sklearn.candidate, no score of its own: the record links it with
  refit_of);
- one cross_validate / cross_val_score call;
- a plain fit of a predictor (an estimator with an _estimator_type: not a
  lone transformer) called by the user's code.

A fit called from scikit-learn's own code (a fold inside a search or a
cross-validation, a Pipeline's steps, an ensemble's members, in this
process, a thread or a loky worker) or from inside another wrapped fit is
never a trial: it is part of the trial around it.

RATIONALE (wrapping fit through BaseEstimator.__init_subclass__): every
estimator class is defined after sklearn.base has run, which is when this
hook patches it; each class's own fit / fit_transform / fit_predict is
wrapped once, at class creation (user subclasses included), instead of
walking the class tree or patching instances. A nested call costs a
thread-local read and two increments.
"""
import os
import re
import sys
import threading
import weakref

from . import api, guard, nest

FW = "sklearn"
_PREDICTORS = ("classifier", "regressor", "clusterer", "outlier_detector", "DensityEstimator")
# Frames of these packages are skipped when looking for who called a fit.
_TRANSPORT = ("joblib", "threading", "concurrent", "multiprocessing", "contextlib",
              "functools", "tunetrail_hook")
_MAX_VALUE = 1000

_tls = threading.local()
_sk = {}                 # "clone": sklearn.base.clone, "search": BaseSearchCV
_models = {}             # id(object) -> (weakref, trial hex): what a dump attaches to
_models_lock = threading.Lock()


class _State:
    def __init__(self):
        self.depth = 0        # wrapped fits / searches / cross-validations under way
        self.search = None    # the top-level search of this thread
        self.cv = None        # the top-level cross-validation of this thread
        self.cvs_name = None  # cross_val_score's scoring, for the cross_validate it calls


def _st():
    s = getattr(_tls, "s", None)
    if s is None:
        s = _tls.s = _State()
    return s


def _user_call(frame):
    """1 if frame (the caller of a wrapper) is the program's own code: the
    first frame outside joblib, threading and the like is not scikit-learn.
    A worker's task (only transport frames) is not."""
    f = frame
    while f is not None:
        name = f.f_globals.get("__name__") or ""
        top = name.partition(".")[0]
        if top in _TRANSPORT:
            f = f.f_back
            continue
        return top != "sklearn"
    return False


# ---- values as text -------------------------------------------------------

_ADDR = re.compile(r" at 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{6,}")


def _fmt(v, top=True):
    """A param value as a reader would write it, the same in every run."""
    if isinstance(v, str):
        s = v if top else repr(v)
    elif v is None or isinstance(v, (bool, int, float)):
        s = repr(v)
    elif isinstance(v, type):
        s = v.__qualname__
    elif hasattr(v, "get_params") and hasattr(v, "fit"):
        s = type(v).__name__  # its own params are listed under "<key>__"
    elif isinstance(v, (list, tuple)):
        inner = ", ".join(_fmt(x, False) for x in v)
        s = "[%s]" % inner if isinstance(v, list) else "(%s%s)" % (inner, "," if len(v) == 1 else "")
    elif isinstance(v, dict):
        s = "{%s}" % ", ".join("%s: %s" % (_fmt(k, False), _fmt(x, False)) for k, x in v.items())
    elif callable(v) and hasattr(v, "__qualname__") and hasattr(v, "__module__"):
        s = "%s.%s" % (v.__module__, v.__qualname__)
    else:
        item = getattr(v, "item", None)  # a numpy scalar: its Python value's repr
        if item is not None and getattr(v, "shape", None) == ():
            return _fmt(item(), top)
        s = _ADDR.sub("", repr(v))
    if len(s) > _MAX_VALUE:
        s = s[:_MAX_VALUE - 3] + "..."
    return s


def _params(est):
    """key -> text of est's get_params(deep=True), plus sklearn.estimator."""
    out = {"sklearn.estimator": type(est).__name__}
    try:
        p = est.get_params(deep=True)
    except Exception:
        return out
    for k in sorted(p):
        try:
            out[k] = _fmt(p[k])
        except Exception:  # a value whose repr fails: its type, not the hook's end
            out[k] = "<%s>" % type(p[k]).__name__
    return out


def _send_params(a, t, params):
    for k, v in params.items():
        a.param(t, k, v)


def _error_text(e):
    if isinstance(e, BaseException):
        msg = "%s: %s" % (type(e).__name__, e)
    else:  # a traceback's text (sklearn's fit_error): its last line
        lines = [x for x in str(e).strip().splitlines() if x.strip()]
        msg = lines[-1] if lines else "fit failed"
    msg = msg.strip().splitlines()[0] if msg.strip() else type(e).__name__
    return msg[:500]


def _remember(obj, trial):
    """obj's later dump is an output of trial."""
    try:
        ref = weakref.ref(obj)
    except TypeError:
        return
    key = id(obj)

    def gone(_r, key=key):
        with _models_lock:
            cur = _models.get(key)
            if cur is not None and cur[0] is _r:
                del _models[key]

    ref = weakref.ref(obj, gone)
    with _models_lock:
        _models[key] = (ref, trial)


def _trial_of(obj):
    with _models_lock:
        cur = _models.get(id(obj))
    if cur is not None and cur[0]() is obj:
        return cur[1]
    return None


def _objective_sfx(names, refit):
    """The cv_results_ suffix of the score the search selects on: the only
    scorer, or the one `refit` names; None when that is not clear."""
    if len(names) == 1:
        return names[0][0]
    if isinstance(refit, str):
        for sfx, name in names:
            if refit in (sfx, name):
                return sfx
    return None


def _metric_names(scoring, sfxs):
    """(cv_results_ / cross_validate suffix, metric name) pairs: a single
    scorer is "score" in sklearn's keys; tunetrail names it by its string."""
    if sfxs == ["score"] and isinstance(scoring, str):
        return [("score", scoring)]
    return [(s, s) for s in sfxs]


# ---- the generic fit wrapper ------------------------------------------------

def _deeper(st, t, call):
    """Runs call() one wrapped level deeper; if it raises, ends trial t (if
    any) failed with the exception's text, and re-raises it unchanged."""
    st.depth += 1
    try:
        return call()
    except BaseException as e:
        if t:
            guard(lambda: api().end(t, False, _error_text(e)))
        raise
    finally:
        st.depth -= 1


def _wrap_fit(orig):
    def fit(self, *args, **kwargs):
        st = _st()
        kind = None
        if st.depth == 0:
            if _user_call(sys._getframe(1)) and api() is not None:
                kind = guard(lambda: _kind(self))
        elif st.search is not None and st.search.est.__dict__.get("best_estimator_") is self \
                and st.search.refit is None and api() is not None:
            kind = "refit"
        if kind == "search":
            return _run_search_fit(st, self, orig, args, kwargs)
        t = guard(lambda: _open_fit(st, self, kind)) if kind in ("fit", "refit") else None
        # What the fit runs inside (XGBoost's train under an XGBClassifier):
        # the plain fit's own trial; nothing for a search's or a
        # cross-validation's fits, or a refit (its candidate's row says it);
        # left to the framework for a top-level fit that is not our trial.
        inner = t if kind == "fit" else nest.QUIET if (st.depth or kind == "refit" or
                                                        not _user_call(sys._getframe(1))) else None
        if inner:
            nest.push(inner)
        try:
            r = _deeper(st, t, lambda: orig(self, *args, **kwargs))
        finally:
            if inner:
                nest.pop(inner)
        if t:
            guard(lambda: _end_fit(self, t))
        return r
    _copy_meta(fit, orig)
    return fit


def _copy_meta(w, orig):
    for a in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(w, a, getattr(orig, a))
        except AttributeError:
            pass
    w.__dict__.update(getattr(orig, "__dict__", {}))
    w.__wrapped__ = orig  # inspect.signature(est.fit) sees the original's
    w._tunetrail = True


# Frameworks whose own hook records their scikit-learn API's fit (one trial,
# with the framework's params and per-round metrics): hook_xgboost.
_OWN_HOOK = ("xgboost",)


def _kind(est):
    search = _sk.get("search")
    if search is not None and isinstance(est, search):
        return "search"
    if (type(est).__module__ or "").partition(".")[0] in _OWN_HOOK:
        return None
    try:  # a property (Pipeline's: its last step's) may raise on a bad estimator
        t = getattr(est, "_estimator_type", None)
    except Exception:
        return None  # the fit itself will say what is wrong
    return "fit" if t in _PREDICTORS else None


def _open_fit(st, est, kind):
    a = api()
    t = a.open(FW)
    _send_params(a, t, _params(est))
    if kind == "refit":
        st.search.refit = t
        best = getattr(st.search.est, "best_index_", None)
        if best is not None:
            a.param(t, "sklearn.candidate", _fmt(best))
    return t


def _end_fit(est, t):
    api().end(t, True, None)
    _remember(est, t)


# ---- searches ---------------------------------------------------------------

class _Search:
    def __init__(self, est, depth):
        self.est = est
        self.depth = depth      # depth inside the search's fit: its own batches' calls
        self.base = None
        self.base_params = None
        self.done = 0           # cv_results_ rows reported
        self.errors = []        # fit_error of every fit, in all_out's order
        self.refit = None       # the refit's trial


def _run_search_fit(st, est, orig, args, kwargs):
    ctx = guard(lambda: _Search(est, st.depth + 1))
    if ctx is None:
        return orig(est, *args, **kwargs)
    def base():
        ctx.base = _sk["clone"](est.estimator)
        ctx.base_params = _params(ctx.base)
    guard(base)
    prev = st.search
    st.search = ctx
    st.depth += 1
    try:
        r = orig(est, *args, **kwargs)
    finally:
        st.depth -= 1
        st.search = prev
    if ctx.refit:
        guard(lambda: _remember(est, ctx.refit))
    return r


def _wrap_run_search(orig):
    def _run_search(self, evaluate_candidates, *args, **kwargs):
        ctx = _st().search
        if ctx is None or ctx.est is not self or getattr(ctx, "wrapped", False):
            return orig(self, evaluate_candidates, *args, **kwargs)
        ctx.wrapped = True  # a subclass's _run_search calling its parent's

        def evaluate(candidate_params, *a, **k):
            cands = list(candidate_params)
            try:
                results = evaluate_candidates(cands, *a, **k)
            except BaseException as e:
                guard(lambda: _report_failed(ctx, cands, e))
                raise
            guard(lambda: _report(ctx, results))
            return results
        return orig(self, evaluate, *args, **kwargs)
    _copy_meta(_run_search, orig)
    return _run_search


def _cand_params(ctx, cand):
    try:
        # Plain values of keys the base estimator has: its params with the
        # candidate's (what set_params then get_params gives, without the
        # clones: ~0.2 ms a candidate). An estimator as a value changes the
        # keys below it: then the refit's own way.
        bp = ctx.base_params
        if bp is not None and all(k in bp and not hasattr(v, "get_params") for k, v in cand.items()):
            p = dict(bp)
            p.update((k, _fmt(v)) for k, v in cand.items())
            return p
        clone = _sk["clone"]
        return _params(clone(clone(ctx.base).set_params(**cand)))
    except Exception:  # the candidate's own fits fail the same way: its trial is failed
        p = {"sklearn.estimator": type(ctx.est.estimator).__name__}
        p.update((k, _fmt(v)) for k, v in cand.items())
        return p


def _report_failed(ctx, cands, e):
    a = api()
    for i, cand in enumerate(cands, ctx.done):
        t = a.open(FW)
        _send_params(a, t, _cand_params(ctx, cand))
        a.param(t, "sklearn.candidate", str(i))
        a.end(t, False, _error_text(e))
    ctx.done += len(cands)


def _report(ctx, results):
    a = api()
    n = len(results["params"])
    sfxs = sorted(k[len("mean_test_"):] for k in results if k.startswith("mean_test_"))
    names = _metric_names(ctx.est.scoring, sfxs)
    nsplit = 0
    while sfxs and "split%d_test_%s" % (nsplit, sfxs[0]) in results:
        nsplit += 1
    for i in range(ctx.done, n):
        t = a.open(FW)
        _send_params(a, t, _cand_params(ctx, results["params"][i]))
        a.param(t, "sklearn.n_splits", str(nsplit))
        a.param(t, "sklearn.candidate", str(i))
        for col in ("iter", "n_resources"):  # halving searches: the resource level
            if col in results:
                a.param(t, "sklearn." + col, _fmt(results[col][i]))
        for sfx, name in names:
            for split in ("train", "test"):
                for k in range(nsplit):
                    col = "split%d_%s_%s" % (k, split, sfx)
                    if col in results:
                        a.metric(t, "split_%s_%s" % (split, name), float(results[col][i]), k,
                                 "valid" if split == "test" else "train", None)
                col = "mean_%s_%s" % (split, sfx)
                if col in results:
                    a.metric(t, "mean_%s_%s" % (split, name), float(results[col][i]), -1,
                             "valid" if split == "test" else "train",
                             "max" if split == "test" else None)
        obj = _objective_sfx(names, getattr(ctx.est, "refit", None))
        folds = [results.get("split%d_test_%s" % (k, obj)) for k in range(nsplit)] if obj else []
        if folds and all(f is not None for f in folds):
            a.fold_scores(t, [f[i] for f in folds])
        if "mean_fit_time" in results:
            a.metric(t, "mean_fit_time", float(results["mean_fit_time"][i]))
        errs = [x for x in ctx.errors[i * nsplit:(i + 1) * nsplit] if x is not None]
        a.end(t, not errs, _error_text(errs[0]) if errs else None)
    ctx.done = n


# ---- cross-validation -------------------------------------------------------

class _CV:
    def __init__(self, depth):
        self.depth = depth
        self.errors = []


def _wrap_cross_validate(orig):
    def cross_validate(estimator, *args, **kwargs):
        st = _st()
        name, st.cvs_name = st.cvs_name, None
        if st.depth or api() is None or (name is None and not _user_call(sys._getframe(1))):
            return orig(estimator, *args, **kwargs)
        scoring = name[1] if name else kwargs.get("scoring")
        ctx = _CV(st.depth + 1)
        t = guard(lambda: _open_cv(estimator))
        st.cv = ctx
        try:
            r = _deeper(st, t, lambda: orig(estimator, *args, **kwargs))
        finally:
            st.cv = None
        if t:
            guard(lambda: _end_cv(t, ctx, scoring, r))
        return r
    _copy_meta(cross_validate, orig)
    return cross_validate


def _wrap_cross_val_score(orig):
    def cross_val_score(estimator, *args, **kwargs):
        st = _st()
        if st.depth == 0 and api() is not None and _user_call(sys._getframe(1)):
            # the cross_validate it calls is the user's call
            st.cvs_name = ("cross_val_score", kwargs.get("scoring"))
        try:
            return orig(estimator, *args, **kwargs)
        finally:
            st.cvs_name = None
    _copy_meta(cross_val_score, orig)
    return cross_val_score


def _open_cv(est):
    a = api()
    t = a.open(FW)
    _send_params(a, t, _params(est))
    return t


def _end_cv(t, ctx, scoring, r):
    a = api()
    sfxs = sorted(k[len("test_"):] for k in r if k.startswith("test_"))
    nsplit = 0
    for sfx, name in _metric_names(scoring, sfxs):
        for split in ("train", "test"):
            vals = r.get("%s_%s" % (split, sfx))
            if vals is None:
                continue
            vals = [float(v) for v in vals]
            nsplit = len(vals)
            for k, v in enumerate(vals):
                a.metric(t, "split_%s_%s" % (split, name), v, k,
                         "valid" if split == "test" else "train", None)
            a.metric(t, "mean_%s_%s" % (split, name), sum(vals) / len(vals) if vals else float("nan"),
                     -1, "valid" if split == "test" else "train", "max" if split == "test" else None)
    a.param(t, "sklearn.n_splits", str(nsplit))
    names = _metric_names(scoring, sfxs)
    obj = _objective_sfx(names, None)
    if obj and r.get("test_%s" % obj) is not None:
        a.fold_scores(t, r["test_%s" % obj])
    if "fit_time" in r and len(r["fit_time"]):
        a.metric(t, "mean_fit_time", float(sum(r["fit_time"]) / len(r["fit_time"])))
    errs = [x for x in ctx.errors if x is not None]
    a.end(t, not errs, _error_text(errs[0]) if errs else None)


def _wrap_warn(orig):
    """sklearn's check of a batch's fits: the one place the parent sees each
    fit's error (fit_error) before they become error_score values."""
    def _warn_or_raise_about_fit_failures(results, error_score):
        st = _st()
        for ctx in (st.search, st.cv):
            if ctx is not None and st.depth == ctx.depth:
                guard(lambda: ctx.errors.extend(r.get("fit_error") for r in results))
        return orig(results, error_score)
    _copy_meta(_warn_or_raise_about_fit_failures, orig)
    return _warn_or_raise_about_fit_failures


# ---- dumps ------------------------------------------------------------------

def _link_dump(obj, path):
    t = _trial_of(obj)
    if t is None or path is None:
        return
    if isinstance(path, (str, bytes, os.PathLike)):
        p = os.fsdecode(os.fspath(path))
    else:
        p = getattr(path, "name", None)  # an open file
        if not isinstance(p, str):
            return
    api().param(t, "sklearn.model_file", os.path.abspath(p))


def _wrap_dump(orig, file_arg):
    def dump(obj, *args, **kwargs):
        if _models and api() is not None:
            f = args[0] if args else kwargs.get(file_arg)
            guard(lambda: _link_dump(obj, f))
        return orig(obj, *args, **kwargs)
    _copy_meta(dump, orig)
    return dump


def _patch_attr(mod, name, wrapper):
    orig = getattr(mod, name, None)
    if orig is None or getattr(orig, "_tunetrail", False):
        return
    setattr(mod, name, wrapper(orig))


# ---- patch functions (frameworks.py) ----------------------------------------

_WRAP = {"fit": _wrap_fit, "fit_transform": _wrap_fit, "fit_predict": _wrap_fit,
         "_run_search": _wrap_run_search}


def _wrap_class(cls):
    for name, wrapper in _WRAP.items():
        f = cls.__dict__.get(name)
        if callable(f) and not isinstance(f, (staticmethod, classmethod, type)) \
                and hasattr(f, "__code__") and not getattr(f, "_tunetrail", False):
            setattr(cls, name, wrapper(f))


def patch_base(mod):
    """sklearn.base: every estimator class defined from now on (and any
    defined already) gets its fit wrapped; joblib's and pickle's dump link a
    fitted estimator's file to its trial."""
    _sk["clone"] = mod.clone
    base = mod.BaseEstimator
    own = base.__dict__.get("__init_subclass__")

    def __init_subclass__(cls, **kwargs):
        if own is not None:
            own.__get__(None, cls)(**kwargs)
        else:
            super(base, cls).__init_subclass__(**kwargs)
        guard(lambda: _wrap_class(cls))
    base.__init_subclass__ = classmethod(__init_subclass__)

    todo = list(base.__subclasses__())
    while todo:
        c = todo.pop()
        _wrap_class(c)
        todo.extend(c.__subclasses__())
    import pickle
    _patch_attr(pickle, "dump", lambda o: _wrap_dump(o, "file"))
    jp = sys.modules.get("joblib.numpy_pickle")
    if jp is not None:
        patch_joblib(jp)
    a = api()
    if a is not None:
        a.framework_loaded(FW)


def patch_joblib(mod):
    """joblib.numpy_pickle (joblib's __init__ binds its dump after, unless
    joblib was imported before the hook: then it is rebound here)."""
    orig = getattr(mod, "dump", None)
    _patch_attr(mod, "dump", lambda o: _wrap_dump(o, "filename"))
    top = sys.modules.get("joblib")
    if top is not None and orig is not None and getattr(top, "dump", None) is orig:
        top.dump = mod.dump


def patch_validation(mod):
    """sklearn.model_selection._validation (_search imports its checker)."""
    _patch_attr(mod, "cross_validate", _wrap_cross_validate)
    _patch_attr(mod, "cross_val_score", _wrap_cross_val_score)
    _patch_attr(mod, "_warn_or_raise_about_fit_failures", _wrap_warn)


def patch_search(mod):
    """sklearn.model_selection._search."""
    _sk["search"] = mod.BaseSearchCV
    _patch_attr(mod, "_warn_or_raise_about_fit_failures", _wrap_warn)
