"""XGBoost: a trial per xgboost.train (XGBClassifier / XGBRegressor / XGBRanker
.fit call it: one trial per fit) and per xgboost.cv call; Booster.save_model
names the trial's model file. Keys and rules: docs/ADAPTERS.md, "XGBoost
(Python)"."""
import functools
import os
import threading

from . import api, guard, enabled
from . import nest

FW = "xgboost"

# Positional parameters of train / cv after their third (xgboost deprecates
# them; its decorator maps them onto the keyword-only ones in this order).
_TRAIN_ARGS = ("params", "dtrain", "num_boost_round", "evals", "obj", "feval", "maximize",
               "early_stopping_rounds", "evals_result", "verbose_eval", "xgb_model",
               "callbacks", "custom_metric")
_CV_ARGS = ("params", "dtrain", "num_boost_round", "nfold", "stratified", "folds", "metrics",
            "obj", "feval", "maximize", "early_stopping_rounds", "fpreproc", "as_pandas",
            "verbose_eval", "show_stdv", "seed", "callbacks", "shuffle", "custom_metric")

# XGBoost's own list (callback.EarlyStopping): the metrics it maximises.
_MAXIMIZE = ("auc", "aucpr", "map", "ndcg", "pre", "auc@", "aucpr@", "map@", "ndcg@", "pre@")

_tls = threading.local()      # depth: a train/cv inside one of ours is not a trial
_booster_trial = None         # WeakKeyDictionary: Booster -> the trial that trained it


def _arg(names, args, kwargs, name, default=None):
    i = names.index(name)
    if i < len(args):
        return args[i]
    return kwargs.get(name, default)


def _direction(metric):
    m = metric.lower()
    return "max" if any(m == p or (p.endswith("@") and m.startswith(p)) for p in _MAXIMIZE) else "min"


def _split(name):
    n = name.lower()
    if n.startswith("train"):
        return "train"
    if n.startswith("test"):
        return "test"
    if n.startswith(("valid", "val", "eval", "dev")):
        return "valid"
    return None


def _params(params):
    """The booster params (a dict, or xgboost's list of pairs with repeated
    keys such as eval_metric) as xgboost.<key>; None values are ones xgboost
    itself skips."""
    items = params.items() if isinstance(params, dict) else list(params or ())
    seen = {}
    for k, v in items:
        if v is None:
            continue
        seen.setdefault(str(k), []).append(v)
    return [(FW + "." + k, nest.fmt(vs[0] if len(vs) == 1 else vs)) for k, vs in seen.items()]


class _Call:
    """One train/cv call: its trial (owned, or the enclosing driver's)."""

    def __init__(self, names, args, kwargs, kind):
        get = functools.partial(_arg, names, args, kwargs)
        kv = _params(get("params"))
        kv.append((FW + ".num_boost_round", nest.fmt(get("num_boost_round", 10))))
        esr = get("early_stopping_rounds")
        cbs = get("callbacks") or ()
        # early stopping ran: by the argument, or its callback given
        self.early = esr is not None or any(type(c).__name__ == "EarlyStopping" for c in cbs)
        if esr is not None:
            kv.append((FW + ".early_stopping_rounds", nest.fmt(esr)))
        if kind == "cv":
            kv.append((FW + ".nfold", nest.fmt(get("nfold", 3))))
        dtrain = get("dtrain")
        if hasattr(dtrain, "num_row") and hasattr(dtrain, "num_col"):
            kv.append((FW + ".num_row", str(int(dtrain.num_row()))))
            kv.append((FW + ".num_col", str(int(dtrain.num_col()))))
        self.kwargs = kwargs
        self.history = None
        if kind == "train":
            self.history = get("evals_result")
            if self.history is None and len(args) <= names.index("evals_result"):
                # train fills the dict it is given, nothing else: ours when
                # the caller passed none
                self.history = {}
                self.kwargs = dict(kwargs, evals_result=self.history)
        a = self.a = api()
        if a is None:
            raise RuntimeError("no shim API")
        self.outer = nest.enclosing()
        self.owned = self.outer is None
        self.tid = a.open(FW) if self.owned else self.outer
        for k, v in kv:
            a.param(self.tid, k, v)

    def metric(self, name, value, step, split, direction):
        # inside a driver's trial the driver's objective is the one with a
        # direction (the record's default objective)
        self.a.metric(self.tid, name, value, step, split, direction if self.owned else None)

    def trained(self, bst):
        # step = the round as XGBoost prints it: from 0 in each train call,
        # also when it continues an xgb_model
        for ev_name, metrics in (self.history or {}).items():
            for m, values in metrics.items():
                for i, v in enumerate(values):
                    self.metric("%s-%s" % (ev_name, m), float(v), i, _split(ev_name), _direction(m))
        best = bst.attr("best_iteration")
        if self.early and best is not None and bst.attr("best_score") is not None:
            self.a.param(self.tid, FW + ".best_iteration", str(int(best)))
        _booster_trial[bst] = self.tid
        self.end(None)

    def cv_done(self, res):
        cols = list(res.keys())
        if self.early and cols:  # cv cuts its result after the best round
            self.a.param(self.tid, FW + ".best_iteration", str(len(res[cols[0]]) - 1))
        for col in cols:
            # "<set>-<metric>-mean" / "-std"
            base, _, stat = col.rpartition("-")
            ev_name, _, m = base.partition("-")
            values = list(res[col])
            d = _direction(m) if stat == "mean" else None
            for i, v in enumerate(values):
                self.metric(col, float(v), i, _split(ev_name), d)
        self.end(None)

    def end(self, exc):
        if not self.owned:
            return
        if exc is None:
            self.a.end(self.tid, True)
        else:
            self.a.end(self.tid, False, "%s: %s" % (type(exc).__name__, exc))


def _wrap(orig, names, kind):
    @functools.wraps(orig)
    def wrapper(*args, **kwargs):
        if getattr(_tls, "depth", 0) or not enabled() or nest.enclosing() is nest.QUIET:
            return orig(*args, **kwargs)
        call = guard(lambda: _Call(names, args, kwargs, kind))
        if call is None:
            return orig(*args, **kwargs)
        _tls.depth = 1
        try:
            out = orig(*args, **call.kwargs)
        except BaseException as e:
            guard(lambda: call.end(e))
            raise
        finally:
            _tls.depth = 0
        guard(lambda: call.trained(out) if kind == "train" else call.cv_done(out))
        return out

    wrapper.__tunetrail_orig__ = orig
    return wrapper


def _wrap_save(orig):
    @functools.wraps(orig)
    def save_model(self, fname, *args, **kwargs):
        out = orig(self, fname, *args, **kwargs)

        def note():
            tid = _booster_trial.get(self)
            if tid is not None and isinstance(fname, (str, bytes, os.PathLike)):
                path = os.path.abspath(os.fsdecode(os.fspath(fname)))
                api().param(tid, FW + ".model_file", path)
        if enabled():
            guard(note)
        return out

    save_model.__tunetrail_orig__ = orig
    return save_model


def patch(xgb):
    """Patches the xgboost package once it has been imported: the train and
    cv bindings of xgboost, xgboost.training and xgboost.sklearn (one wrapper
    each, so sklearn's fit -> train is one trial), Booster.save_model."""
    global _booster_trial
    import sys
    import weakref
    _booster_trial = weakref.WeakKeyDictionary()
    training = sys.modules.get("xgboost.training")
    core = sys.modules.get("xgboost.core")
    if training is None or core is None:
        return
    wrapped = {}
    for fn, names, kind in ((training.train, _TRAIN_ARGS, "train"), (training.cv, _CV_ARGS, "cv")):
        if not hasattr(fn, "__tunetrail_orig__"):
            wrapped[fn] = _wrap(fn, names, kind)
    for modname in ("xgboost", "xgboost.training", "xgboost.sklearn"):
        mod = sys.modules.get(modname)
        for attr in ("train", "cv"):
            cur = getattr(mod, attr, None) if mod is not None else None
            if cur in wrapped:
                setattr(mod, attr, wrapped[cur])
    save = core.Booster.save_model
    if not hasattr(save, "__tunetrail_orig__"):
        core.Booster.save_model = _wrap_save(save)
    a = api()
    if a is not None:
        a.framework_loaded(FW)
