"""PyTorch: a training process is one trial (framework `torch`), opened when
an optimizer's first step() has run, with that optimizer's param groups and
its LR schedulers; torch.manual_seed is a seed-role param and torch.save
names the trial's model file. Per-epoch metrics still come from printed
lines (--metric, tunetrail.ini): the trial stays the process's current one
until the process ends, and takes its status. Keys and rules:
docs/ADAPTERS.md, "PyTorch (Python)"."""
import functools
import os
import threading
import weakref

from . import api, guard, enabled
from . import nest

FW = "torch"

_lock = threading.Lock()
_st = {"pid": None}


def _state():
    """This process's state (a fork child, e.g. a DataLoader worker, starts
    empty: its parent's trial is not its own)."""
    pid = os.getpid()
    if _st["pid"] != pid:
        _st.clear()
        _st.update(pid=pid, trial=None, opts=[], pending=[], seed=None, seen=weakref.WeakSet(),
                   scheds=weakref.WeakKeyDictionary())
    return _st


def _emit(a, tid, params):
    for k, v in params:
        a.param(tid, k, v)


def _note(params, seed=None):
    """Params that belong to the training, not to one optimizer (a seed, a
    saved model): to the enclosing driver's trial, the process's trial, or
    kept until that opens. The last seed is in effect for every later trial
    of the process too (a sweep's next model draws from the same stream)."""
    a = api()
    outer = nest.enclosing()
    with _lock:
        st = _state()
        if seed is not None:
            st["seed"] = seed
        tid = outer or st["trial"]
        if tid is None:
            st["pending"].extend(params)
            return
    _emit(a, tid, params)


def _sched_params(sched, prefix):
    """A scheduler's class and the constructor arguments it keeps under
    their own names (StepLR: step_size, gamma)."""
    import collections
    import inspect
    out = [(prefix, type(sched).__name__)]
    try:
        names = list(inspect.signature(type(sched).__init__).parameters)
    except (TypeError, ValueError):
        names = []
    attrs = vars(sched)
    for n in names:
        if n in ("self", "optimizer", "last_epoch", "verbose") or n not in attrs:
            continue
        v = attrs[n]
        if isinstance(v, collections.Counter):  # MultiStepLR's milestones
            v = sorted(v.elements())
        out.append((prefix + "." + n, nest.fmt(v)))
    return out


def _opt_params(opt, prefix):
    out = [(prefix, type(opt).__name__)]
    for i, g in enumerate(opt.param_groups):
        p = prefix if i == 0 else "%s.group[%d]" % (prefix, i)
        for k in sorted(g):
            if k != "params":
                out.append((p + "." + k, nest.fmt(g[k])))
    return out


def _other_rank():
    """1 in a distributed job's process of rank > 0: its ranks train one
    model, recorded once, by rank 0."""
    import sys
    dist = sys.modules.get("torch.distributed")
    return bool(dist and dist.is_available() and dist.is_initialized() and dist.get_rank() != 0)


def _first_step(opt):
    if _other_rank():
        return
    a = api()
    outer = nest.enclosing()
    with _lock:
        st = _state()
        if outer is None:
            live = [r for r in st["opts"] if r() is not None]
            if st["trial"] is not None and st["opts"] and not live:
                # every optimizer of the trial is gone: a new model trained
                # after the last one (a sweep inside one process)
                a.end(st["trial"], True)
                st["trial"] = None
            if st["trial"] is None:
                st["trial"] = a.open(FW)
                st["opts"] = []
                if st["seed"] is not None and st["seed"] not in st["pending"]:
                    st["pending"].append(st["seed"])
            tid = st["trial"]
            k = len(st["opts"])
            st["opts"].append(weakref.ref(opt))
            pending, st["pending"] = st["pending"], []
        else:
            tid, k, pending = outer, 0, []
        scheds = [r() for r in st["scheds"].get(opt, ())]
    prefix = FW + (".optimizer" if k == 0 else ".optimizer[%d]" % k)
    params = pending + _opt_params(opt, prefix)
    sprefix = FW + (".scheduler" if k == 0 else ".scheduler[%d]" % k)
    for j, s in enumerate(x for x in scheds if x is not None):
        params += _sched_params(s, sprefix if j == 0 else "%s[%d]" % (sprefix, j))
    _emit(a, tid, params)


def _wrap_step_code(orig):
    # Optimizer._optimizer_step_code: the no-op every optimizer's step()
    # calls after stepping (torch's profiler hook point), so one wrapper on
    # the base class sees every optimizer, built-in or the user's own.
    # The common case, the same optimizer as last time, costs a weakref
    # call (~0.1 us a step instead of ~0.6 with the pid and set lookup).
    last = [None]

    @functools.wraps(orig)
    def _optimizer_step_code(self):
        orig(self)
        r = last[0]
        if (r is not None and r() is self) or not enabled():
            return
        seen = _state()["seen"]
        if self not in seen:
            seen.add(self)
            guard(lambda: _first_step(self))
        last[0] = weakref.ref(self)

    _optimizer_step_code.__tunetrail_orig__ = orig
    return _optimizer_step_code


def _wrap_sched_init(orig):
    @functools.wraps(orig)
    def __init__(self, optimizer, *args, **kwargs):
        orig(self, optimizer, *args, **kwargs)

        def keep():
            st = _state()
            st["scheds"].setdefault(optimizer, []).append(weakref.ref(self))
            if optimizer in st["seen"]:  # made after the optimizer's first step
                outer = nest.enclosing()
                tid = outer or st["trial"]
                if tid is not None:
                    _emit(api(), tid, _sched_params(self, FW + ".scheduler"))
        if enabled():
            guard(keep)

    __init__.__tunetrail_orig__ = orig
    return __init__


def _wrap_seed(orig):
    @functools.wraps(orig)
    def manual_seed(seed, *args, **kwargs):
        out = orig(seed, *args, **kwargs)
        if enabled():
            def note():
                kv = (FW + ".manual_seed", str(int(seed)))
                _note([kv], seed=kv)
            guard(note)
        return out

    manual_seed.__tunetrail_orig__ = orig
    return manual_seed


def _wrap_save(orig):
    @functools.wraps(orig)
    def save(obj, f, *args, **kwargs):
        out = orig(obj, f, *args, **kwargs)
        if enabled():
            def note():
                # a path, or a file object opened on one (open(path, "wb"))
                path = f if isinstance(f, (str, bytes, os.PathLike)) else getattr(f, "name", None)
                if isinstance(path, (str, bytes, os.PathLike)) and os.path.isfile(path):
                    _note([(FW + ".model_file", os.path.abspath(os.fsdecode(os.fspath(path))))])
            guard(note)
        return out

    save.__tunetrail_orig__ = orig
    return save


def _rebind(mods, attr, orig, wrapped):
    for m in mods:
        if m is not None and getattr(m, attr, None) is orig:
            setattr(m, attr, wrapped)


def patch(torch):
    """Patches torch once imported (it imports torch.optim, random and
    serialization itself)."""
    import sys
    optim = sys.modules.get("torch.optim.optimizer")
    sched = sys.modules.get("torch.optim.lr_scheduler")
    rnd = sys.modules.get("torch.random")
    ser = sys.modules.get("torch.serialization")
    if optim is None or not hasattr(optim.Optimizer, "_optimizer_step_code"):
        return  # another torch: nothing is hooked
    O = optim.Optimizer
    if not hasattr(O._optimizer_step_code, "__tunetrail_orig__"):
        O._optimizer_step_code = _wrap_step_code(O._optimizer_step_code)
    for name in ("_LRScheduler", "LRScheduler", "ReduceLROnPlateau"):
        cls = getattr(sched, name, None) if sched is not None else None
        if cls is not None and "__init__" in vars(cls) and not hasattr(cls.__init__, "__tunetrail_orig__"):
            cls.__init__ = _wrap_sched_init(cls.__init__)
    if rnd is not None and not hasattr(rnd.manual_seed, "__tunetrail_orig__"):
        orig = rnd.manual_seed
        _rebind((torch, rnd), "manual_seed", orig, _wrap_seed(orig))
    if ser is not None and not hasattr(ser.save, "__tunetrail_orig__"):
        orig = ser.save
        _rebind((torch, ser), "save", orig, _wrap_save(orig))
    a = api()
    if a is not None:
        a.framework_loaded(FW)
