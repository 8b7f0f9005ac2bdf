#!/usr/bin/python3
"""selbias_ref.py - an independent reference for the selection-bias statistics
(docs/RECORD.md, "Selection bias"), written from the papers' definitions and
the documented generator, not from collector/record/selbias.c:

  BBC-CV  Tsamardinos, Greasidou, Borboudakis (2018), Machine Learning 107:
          bootstrap the rows of the out-of-fold matrix, pick the best column
          in-bag, score it out-of-bag; mean and percentile interval.
  T&T     Tibshirani & Tibshirani (2009), Ann. Appl. Stat. 3(2).
  PBO     Bailey, Borwein, Lopez de Prado, Zhu (2017), J. Comput. Finance:
          CSCV over S blocks, logit of the out-of-sample relative rank.

Where the C engine must match to the last bit (BBC-CV), sums are taken in
the documented order with plain float additions; everything else uses numpy
freely. Debian's /usr/bin/python3 with python3-numpy.

usage: selbias_ref.py ref TABLE SEED_HEX B S     prints the statistics as JSON
       selbias_ref.py record REC TABLE           rebuilds a record's table (its
                                                 predicate.predictions, pooled as
                                                 docs/RECORD.md says) into TABLE,
                                                 prints {"seed", "table"} as JSON
       selbias_ref.py gen OUT CASE SEED          writes a synthetic table
       selbias_ref.py compare C.json REF.json    exit 1 on any difference
"""
import itertools
import json
import math
import sys

import numpy as np

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
MIN_BLOCK = 10
MIN_EXAMPLES = 10


def splitmix64(seed, count, start=0):
    """Draws start .. start+count-1 of SplitMix64 seeded `seed` (Steele et al. 2014)."""
    out = []
    state = (seed + start * GAMMA) & MASK
    for _ in range(count):
        state = (state + GAMMA) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def read_table(path):
    lines = [l.rstrip("\n") for l in open(path) if not l.startswith("#")]
    it = iter(lines)
    assert next(it) == "tunetrail-selbias-table 1"
    kind = next(it).split()[1:]
    n = int(next(it).split()[1])
    m = int(next(it).split()[1])
    t = {"kind": kind[0], "loss": kind[1] if len(kind) > 1 else None, "n": n, "m": m,
         "folds": None}
    if m and t["kind"] == "regression":
        y = np.array([float(v) for v in next(it).split()[1:]])
    rows = []
    for c in range(n if m else 0):
        f = next(it).split()
        assert f[0] == "row" and int(f[1]) == c
        if t["kind"] == "classification":
            rows.append([ch == "1" for ch in f[2]])
        else:
            rows.append([float(v) for v in f[2:]])
    if m and t["kind"] == "classification":
        t["correct"] = np.array(rows, dtype=np.int64)  # n x m, 1 = correct
    elif m:
        d = np.array(rows) - y[None, :]
        t["L"] = d * d if t["loss"] == "squared" else np.abs(d)  # n x m losses
    rest = list(it)
    if rest:
        k, direction = int(rest[0].split()[1]), rest[0].split()[2]
        t["folds"] = np.array([[float(v) for v in l.split()[2:]] for l in rest[1:1 + k]])
        t["fold_max"] = direction == "max"
    return t


def plain_sum(xs):
    s = 0.0
    for x in xs:
        s += float(x)
    return s


def full_perf(t):
    """Each configuration's performance on all examples; best (first on ties)."""
    if t["kind"] == "classification":
        perf = [int(r.sum()) / t["m"] for r in t["correct"]]
        return perf, int(np.argmax(perf))
    perf = [plain_sum(r) / t["m"] for r in t["L"]]
    return perf, int(np.argmin(perf))


def percentile7(sorted_vals, q):
    h = (len(sorted_vals) - 1) * q
    lo = math.floor(h)
    if lo + 1 >= len(sorted_vals):
        return sorted_vals[-1]
    return sorted_vals[lo] + (h - lo) * (sorted_vals[lo + 1] - sorted_vals[lo])


def bbc(t, seed, B):
    n, m = t["n"], t["m"]
    if m == 0:
        return {"omitted": "no out-of-fold predictions recorded"}
    if n < 2:
        return {"omitted": "one configuration"}
    if m < MIN_EXAMPLES:
        return {"omitted": "too few examples"}
    if t["kind"] == "regression" and not np.isfinite(t["L"]).all():
        return {"omitted": "a loss is not finite"}
    draws = splitmix64(seed, B * m)
    vals = []
    for b in range(B):
        idx = [((x >> 11) * m) >> 53 for x in draws[b * m:(b + 1) * m]]
        w = np.bincount(np.array(idx), minlength=m)
        oob = w == 0
        if not oob.any():
            continue
        if t["kind"] == "classification":
            sel = int(np.argmax(t["correct"] @ w))  # exact integers; first best
            vals.append(int(t["correct"][sel, oob].sum()) / int(oob.sum()))
        else:
            S = np.zeros(n)
            for i in range(m):  # example order, as documented
                if w[i]:
                    S = S + float(w[i]) * t["L"][:, i]
            sel = int(np.argmin(S))
            vals.append(plain_sum(t["L"][sel, oob]) / int(oob.sum()))
    if not vals:
        return {"omitted": "every out-of-bag set empty"}
    perf, best = full_perf(t)
    est = plain_sum(vals) / len(vals)
    sv = sorted(vals)
    lo, hi = percentile7(sv, 0.025), percentile7(sv, 0.975)
    # numpy's own linear percentile agrees to rounding (it interpolates from the other end past 0.5)
    assert np.allclose(np.percentile(vals, [2.5, 97.5]), [lo, hi], rtol=0, atol=1e-12)
    infl = perf[best] - est if t["kind"] == "classification" else est - perf[best]
    return {"values": {
        "metric": "accuracy" if t["kind"] == "classification" else
                  ("mean_squared_error" if t["loss"] == "squared" else "mean_absolute_error"),
        "generator": "splitmix64", "replicates": B, "replicates_used": len(vals),
        "seed": "%016x" % seed, "best_configuration": best, "best_value": perf[best],
        "estimate": est, "interval_95": [lo, hi], "inflation": infl}}


def tibshirani(t):
    F = t["folds"]
    if F is None:
        return {"omitted": "no per-fold scores"}
    if t["n"] < 2:
        return {"omitted": "one configuration"}
    k = F.shape[0]
    if k < 2:
        return {"omitted": "fewer than 2 folds"}
    sign = 1.0 if t["fold_max"] else -1.0
    cv = F.mean(axis=0)
    chosen = int(np.argmax(sign * cv))
    # bias = mean_k (fold best - fold chosen), oriented so that it is >= 0
    bias = float(np.mean(sign * (np.max(sign * F, axis=1) * sign - F[:, chosen])))
    return {"values": {"folds": k, "direction": "max" if t["fold_max"] else "min",
                       "chosen_configuration": chosen, "cv_value": float(cv[chosen]),
                       "bias": bias, "corrected": float(cv[chosen] - sign * bias)}}


def pbo(t, S_req):
    n, m = t["n"], t["m"]
    if m == 0:
        return {"omitted": "no out-of-fold predictions recorded"}
    if n < 2:
        return {"omitted": "one configuration"}
    S = min(S_req, 20)
    S -= S % 2
    while S >= 2 and m // S < MIN_BLOCK:
        S -= 2
    if S < 2:
        return {"omitted": "too few examples"}
    if t["kind"] == "regression" and not np.isfinite(t["L"]).all():
        return {"omitted": "a loss is not finite"}
    # performance matrix, examples x configurations; larger = better
    M = t["correct"].T.astype(float) if t["kind"] == "classification" else -t["L"].T
    bounds = [b * m // S for b in range(S + 1)]
    blocks = [np.array([plain_sum(M[bounds[b]:bounds[b + 1], c]) for c in range(n)])
              for b in range(S)]
    logits = []
    for J in itertools.combinations(range(S), S // 2):
        IS = np.zeros(n)
        OS = np.zeros(n)
        for b in range(S):
            if b in J:
                IS = IS + blocks[b]
            else:
                OS = OS + blocks[b]
        star = int(np.argmax(IS))
        # relative rank of the in-sample best out of sample, ties at their mean rank
        r = float(np.sum(OS < OS[star])) + (float(np.sum(OS == OS[star])) + 1) / 2
        omega = r / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    lam = np.array(logits)
    bins = np.floor(2 * lam).astype(int)
    uniq, cnt = np.unique(bins, return_counts=True)
    return {"values": {"blocks": S, "splits": len(logits),
                       "overfit_splits": int(np.sum(lam <= 0)),
                       "pbo": float(np.mean(lam <= 0)), "logit_mean": float(np.mean(lam)),
                       "logit_histogram": {"width": 0.5, "lo": [u / 2 for u in uniq.tolist()],
                                           "count": cnt.tolist()}}}


def reference(path, seed, B, S):
    t = read_table(path)
    return {"bbc_cv": bbc(t, seed, B), "tibshirani": tibshirani(t), "pbo_cscv": pbo(t, S)}


# ---- synthetic tables -------------------------------------------------------

def write_table(path, kind, correct=None, y=None, pred=None, folds=None, fold_dir="max"):
    with open(path, "w") as f:
        f.write("tunetrail-selbias-table 1\n# synthetic, tests/ref/selbias_ref.py gen\n")
        n = len(correct) if correct is not None else (len(pred) if pred is not None else
                                                      len(folds[0]))
        m = len(correct[0]) if correct is not None and n else (len(y) if y is not None else 0)
        f.write("kind %s\nconfigurations %d\nexamples %d\n" % (kind, n, m))
        if y is not None and m:
            f.write("truth " + " ".join(repr(float(v)) for v in y) + "\n")
        for c in range(n if m else 0):
            if correct is not None:
                f.write("row %d %s\n" % (c, "".join("1" if v else "0" for v in correct[c])))
            else:
                f.write("row %d %s\n" % (c, " ".join(repr(float(v)) for v in pred[c])))
        if folds is not None:
            f.write("folds %d %s\n" % (len(folds), fold_dir))
            for k, row in enumerate(folds):
                f.write("fold %d %s\n" % (k, " ".join(repr(float(v)) for v in row)))


def fold_scores_cls(correct, k):
    m = correct.shape[1]
    b = [i * m // k for i in range(k + 1)]
    return [correct[:, b[i]:b[i + 1]].mean(axis=1) for i in range(k)]


def gen(out, case, seed):
    rng = np.random.default_rng(seed)
    if case.startswith("cls"):
        # cls:N:M:K:SPREAD - accuracies around 0.8, configuration c's truth
        # shifted by SPREAD * c / N; examples share a difficulty (correlated errors)
        _, n, m, k, spread = case.split(":")
        n, m, k, spread = int(n), int(m), int(k), float(spread)
        p = 0.8 + spread * (np.arange(n) / max(n - 1, 1) - 0.5)
        hard = rng.random(m) < 0.15
        pc = np.where(hard[None, :], 0.3, np.minimum(p[:, None] + 0.05, 0.99))
        correct = rng.random((n, m)) < pc
        write_table(out, "classification", correct=correct,
                    folds=fold_scores_cls(correct.astype(float), k) if k else None)
    elif case.startswith("same"):
        # same:N:M - every configuration predicts identically (ties everywhere)
        _, n, m = case.split(":")
        row = rng.random(int(m)) < 0.7
        write_table(out, "classification", correct=np.tile(row, (int(n), 1)),
                    folds=[[0.7] * int(n), [0.6] * int(n)])
    elif case.startswith("reg"):
        # reg:LOSS:N:M:K[:inf] - predictions = truth + noise of configuration-dependent
        # size (inf: one prediction 1e200, whose squared loss overflows)
        _, loss, n, m, k = case.split(":")[:5]
        n, m, k = int(n), int(m), int(k)
        y = rng.normal(size=m) * 3
        pred = y[None, :] + rng.normal(size=(n, m)) * (1 + 0.05 * rng.random(n))[:, None]
        if case.endswith(":inf"):
            pred[1, 3] = 1e200
        d = pred - y[None, :]
        L = d * d if loss == "squared" else np.abs(d)
        b = [i * m // k for i in range(k + 1)] if k else []
        folds = [L[:, b[i]:b[i + 1]].mean(axis=1) for i in range(k)] if k else None
        write_table(out, "regression " + loss, y=y, pred=pred, folds=folds, fold_dir="min")
    elif case.startswith("foldsonly"):
        _, n, k = case.split(":")
        write_table(out, "classification", correct=None, y=None,
                    folds=rng.random((int(k), int(n))).tolist())
    else:
        sys.exit("unknown case " + case)


def from_record(rec_path, out):
    """The pooled table of a record, rebuilt from docs/RECORD.md's rules alone."""
    import base64, hashlib, struct
    env = json.load(open(rec_path))
    st = json.loads(base64.b64decode(env["payload"]))
    pr = st["predicate"]
    leaves = pr["trials"]
    excluded = {e["trial"] for e in pr["search"].get("excluded", [])}
    last = {}
    for i, leaf in enumerate(leaves):
        last[leaf["trial"]] = i
    order = sorted((i, u) for u, i in last.items() if u not in excluded)
    data = {e["trial"]: e for e in pr.get("predictions", [])}
    have = [(u, leaves[i]["predictions"]) for i, u in order
            if "sha256" in leaves[i].get("predictions", {}) and u in data]
    key = lambda p: (p["kind"], p["n"], p.get("labels_fnv", ""))
    # the reference group: the released trial's, else its refit's first match, else the largest
    released = (pr.get("producedBy") or {}).get("trial")
    refit = ((pr.get("producedBy") or {}).get("refit_of") or {}).get("trials", [])
    ref = None
    for u in [released] + refit:
        for v, p in have:
            if v == u and ref is None:
                ref = key(p)
    if ref is None:
        counts = {}
        for _, p in have:
            counts[key(p)] = counts.get(key(p), 0) + 1
        for _, p in have:  # the first trial of a largest group
            if ref is None or counts[key(p)] > counts[ref]:
                ref = key(p)
    pool = [(u, p) for u, p in have if key(p) == ref]
    seed = int.from_bytes(hashlib.sha256("".join(p["sha256"] for _, p in pool).encode()).digest()[:8], "big")
    kind, m = ref[0], ref[1]
    raw = [base64.b64decode(data[u]["data"]) for u, _ in pool]
    entries = pr.get("predictions", [])
    def fold_of(e):  # an entry's folds, or those of the earlier entry it names
        if "fold" in e:
            return base64.b64decode(e["fold"])
        if "fold_same_as" in e:
            return fold_of(entries[e["fold_same_as"]])
        return None
    folds = [fold_of(data[u]) for u, _ in pool]
    same = kind != "fold_scores" and all(f is not None and f == folds[0] for f in folds)
    n = len(pool)
    with open(out, "w") as f:
        f.write("tunetrail-selbias-table 1\n# from record %s\n" % rec_path)
        if kind == "fold_scores":
            f.write("kind classification\nconfigurations %d\nexamples 0\n" % n)
            sc = [struct.unpack("<%dd" % m, r) for r in raw]
            f.write("folds %d max\n" % m)
            for k in range(m):
                f.write("fold %d %s\n" % (k, " ".join(repr(sc[c][k]) for c in range(n))))
            return seed, n
        if kind == "correct":
            bits = [[(r[i // 8] >> (i % 8)) & 1 for i in range(m)] for r in raw]
            f.write("kind classification\nconfigurations %d\nexamples %d\n" % (n, m))
            for c in range(n):
                f.write("row %d %s\n" % (c, "".join(str(b) for b in bits[c])))
            per_ex = [[float(b) for b in row] for row in bits]
        else:
            vals = [struct.unpack("<%dd" % (2 * m), r) for r in raw]
            y = vals[0][m:]
            f.write("kind regression squared\nconfigurations %d\nexamples %d\n" % (n, m))
            f.write("truth " + " ".join(repr(v) for v in y) + "\n")
            for c in range(n):
                f.write("row %d %s\n" % (c, " ".join(repr(v) for v in vals[c][:m])))
            per_ex = [[(vals[c][i] - vals[c][m + i]) ** 2 for i in range(m)] for c in range(n)]
        if same:
            k = max(folds[0]) + 1
            size = [folds[0].count(j) for j in range(k)]
            if all(size):
                f.write("folds %d %s\n" % (k, "max" if kind == "correct" else "min"))
                for j in range(k):
                    sc = [plain_sum(per_ex[c][i] for i in range(m) if folds[0][i] == j) / size[j]
                          for c in range(n)]
                    f.write("fold %d %s\n" % (j, " ".join(repr(v) for v in sc)))
    return seed, n


def compare(cpath, rpath):
    c, r = json.load(open(cpath)), json.load(open(rpath))
    bad = []

    def num_eq(a, b, exact):
        if exact:
            return a == b
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))

    def walk(a, b, where, exact):
        if isinstance(b, dict):
            if not isinstance(a, dict) or set(a) != set(b):
                bad.append("%s: keys %s vs %s" % (where, sorted(a) if isinstance(a, dict) else a,
                                                  sorted(b)))
                return
            for k in b:
                walk(a[k], b[k], where + "." + k, exact)
        elif isinstance(b, list):
            if not isinstance(a, list) or len(a) != len(b):
                bad.append("%s: %r vs %r" % (where, a, b))
                return
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, "%s[%d]" % (where, i), exact)
        elif isinstance(b, (int, float)) and not isinstance(b, bool):
            if not isinstance(a, (int, float)) or not num_eq(a, b, exact):
                bad.append("%s: C %r, reference %r" % (where, a, b))
        elif a != b:
            bad.append("%s: C %r, reference %r" % (where, a, b))

    for stat in ("bbc_cv", "tibshirani", "pbo_cscv"):
        cs, rs = c[stat], r[stat]
        if ("omitted" in cs) != ("omitted" in rs):
            bad.append("%s: C %s, reference %s" % (stat, json.dumps(cs)[:200], json.dumps(rs)[:200]))
            continue
        if "omitted" in rs:
            continue
        for k in ("method", "assumption"):
            if not cs.get(k):
                bad.append("%s: no %s" % (stat, k))
        # BBC-CV is reproducible exactly from the generator; the rest to 1e-9
        walk(cs["values"], rs["values"], stat, stat == "bbc_cv")
    for b in bad:
        print("DIFF " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "ref" and len(a) == 5:
        print(json.dumps(reference(a[1], int(a[2], 16), int(a[3]), int(a[4])), sort_keys=True))
    elif a and a[0] == "gen" and len(a) == 4:
        gen(a[1], a[2], int(a[3]))
    elif a and a[0] == "record" and len(a) == 3:
        seed, n = from_record(a[1], a[2])
        print(json.dumps({"seed": "%016x" % seed, "configurations": n}))
    elif a and a[0] == "compare" and len(a) == 3:
        sys.exit(compare(a[1], a[2]))
    else:
        sys.exit(__doc__)
