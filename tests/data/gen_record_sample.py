#!/usr/bin/env python3
"""gen_record_sample.py - writes a provenance record Statement (docs/RECORD.md)
for tests of `tunetrail report`, with statistics computed here independently.

  gen_record_sample.py              -> the 12-trial sample (tests/data/record-sample.json)
  gen_record_sample.py --trials N   -> a synthetic random search of N trials (benchmarks)

The 12-trial sample: an svm grid over c and g (both varied, numeric), kernel
never varied, one failed and one killed trial, (c=8, g=0.5) run with two seeds
(the noise floor), and the released model evaluated on one test file."""
import json
import math
import random
import sys

T0 = 1795800000000000000


def iso(ns):
    s, frac = divmod(ns, 10**9)
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%03dZ" % (frac // 10**6)


def uid(i):
    return "%032x" % (0x5a17 * 10**6 + i)


def dodge(v, ns):
    N = len(v)
    mean, sd = [], []
    for n in ns:
        p = [(i / N) ** n - ((i - 1) / N) ** n for i in range(1, N + 1)]
        e = sum(a * b for a, b in zip(v, p))
        mean.append(e)
        sd.append(math.sqrt(sum((a - e) ** 2 * b for a, b in zip(v, p))))
    return mean, sd


def tang(v, ns):
    N = len(v)
    out = []
    for n in ns:
        lc = math.lgamma(N + 1) - math.lgamma(n + 1) - math.lgamma(N - n + 1)
        e = 0.0
        for i in range(n, N + 1):
            lw = math.lgamma(i) - math.lgamma(n) - math.lgamma(i - n + 1) - lc
            e += v[i - 1] * math.exp(lw)
        out.append(e)
    return out


def emax_normal(N):
    if N == 1:
        return 0.0
    h, tot = 1e-3, 0.0
    x = -12.0
    while x < 12.0:
        phi = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        Phi = 0.5 * (1 + math.erf(x / math.sqrt(2)))
        tot += x * N * phi * Phi ** (N - 1) * h
        x += h
    return tot


def ranks(a):
    idx = sorted(range(len(a)), key=lambda i: a[i])
    r = [0.0] * len(a)
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and a[idx[j + 1]] == a[idx[i]]:
            j += 1
        for k in range(i, j + 1):
            r[idx[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(x, y):
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy)


def omega2(v, groups):
    gs = {}
    for a, g in zip(v, groups):
        gs.setdefault(g, []).append(a)
    N, k = len(v), len(gs)
    m = sum(v) / N
    sst = sum((a - m) ** 2 for a in v)
    ssb = sum(len(x) * (sum(x) / len(x) - m) ** 2 for x in gs.values())
    msw = (sst - ssb) / (N - k)
    means = [sum(x) / len(x) for x in gs.values()]
    return (ssb - (k - 1) * msw) / (sst + msw), max(means) - min(means), k


def trials_small():
    # (c, g, seed, status, cv_accuracy or None)
    grid = [(0.5, 0.125, 1, "ok", 79.3), (0.5, 0.5, 1, "ok", 81.1), (0.5, 2, 1, "ok", 74.8),
            (2, 0.125, 1, "ok", 82.2), (2, 0.5, 1, "ok", 83.0), (2, 2, 1, "failed", None),
            (8, 0.125, 1, "ok", 83.3), (8, 0.5, 1, "ok", 84.1), (8, 2, 1, "ok", 77.4),
            (32, 0.125, 1, "ok", 82.6), (32, 0.5, 1, "killed", None), (8, 0.5, 2, "ok", 83.5)]
    return grid, 7  # the released trial: c=8 g=0.5 seed=1


def trials_random(N):
    rnd = random.Random(42)
    out = []
    for i in range(N):
        c = 2 ** rnd.uniform(-5, 15)
        g = 2 ** rnd.uniform(-15, 3)
        st = "ok"
        r = rnd.random()
        if r < 0.03:
            st = "failed"
        elif r < 0.04:
            st = "killed"
        acc = 60 + 25 * math.exp(-((math.log2(c) - 5) ** 2) / 40 - ((math.log2(g) + 5) ** 2) / 30)
        acc += rnd.gauss(0, 0.8)
        out.append((round(c, 6), round(g, 8), i % 3, st, None if st != "ok" else round(acc, 4)))
    best = max((t for t in range(N) if out[t][4] is not None), key=lambda t: out[t][4])
    return out, best


def main():
    N = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] == "--trials" else 0
    grid, rel = trials_random(N) if N else trials_small()
    data_sha = "9f" * 32
    test_sha = "3c" * 32
    model_sha = "e1" * 32
    leaves = []
    for i, (c, g, seed, st, acc) in enumerate(grid):
        s = T0 + i * 2_150_000_000
        leaf = {"v": 1, "trial": uid(i), "study": "heart-svm", "status": st, "framework": "libsvm",
                "opened_by": "adapter", "process": uid(100000 + i), "session": uid(999999),
                "started_ns": s, "ended_ns": s + 1_900_000_000,
                "exit_code": 0 if st == "ok" else (1 if st == "failed" else None),
                "exe": "/usr/bin/svm-train", "exe_sha256": "ab" * 32,
                "argv": ["svm-train", "-v", "5", "-c", str(c), "-g", str(g), "-s", "0",
                         "-t", "2", "/data/heart_scale"],
                "params": {"c": str(c), "g": str(g), "kernel": "rbf", "seed": str(seed)},
                "sources": {"c": "argv", "g": "argv", "kernel": "adapter", "seed": "argv"},
                "metrics": {} if acc is None else
                {"cv_accuracy": {"value": acc, "step": 0, "split": "valid", "direction": "max"}},
                "inputs": [{"path": "/data/heart_scale", "sha256": data_sha, "size": 27670}],
                "outputs": [], "cpu_us": 1_700_000 + 1000 * i, "maxrss_kb": 3400 + i}
        if st == "killed":
            leaf["signal"] = 9
            del leaf["exit_code"]
            leaf["ended_ns"] = s + 600_000_000
        if st == "failed":
            leaf["error"] = "svm-train: gamma too large for this data"
        leaf = {k: v for k, v in leaf.items() if v is not None}
        leaves.append(leaf)
    leaves[rel]["outputs"] = [{"path": "/w/heart.model", "sha256": model_sha, "size": 3010}]

    vals = [(i, t[4]) for i, t in enumerate(grid) if t[4] is not None]
    v = sorted(a for _, a in vals)
    Nv = len(v)
    ns = list(range(1, Nv + 1)) if Nv <= 1000 else sorted(set(
        list(range(1, 101)) + [int(round(math.exp(math.log(100) + k * (math.log(Nv) - math.log(100)) / 199)))
                               for k in range(200)] + [Nv]))
    dm, dsd = dodge(v, ns)
    tm = tang(v, ns)
    released = grid[rel][4]
    rank = 1 + sum(1 for a in v if a > released)
    ties = sum(1 for a in v if a == released)
    med = v[Nv // 2] if Nv % 2 else (v[Nv // 2 - 1] + v[Nv // 2]) / 2

    by_status = {s: 0 for s in ("ok", "failed", "crashed", "killed", "exec", "running")}
    for t in grid:
        by_status[t[3]] += 1
    nt = len(grid)

    # noise floor: groups of identical (c, g) among trials with a value
    groups = {}
    for i, a in vals:
        groups.setdefault((grid[i][0], grid[i][1]), []).append(a)
    rep = [x for x in groups.values() if len(x) > 1]
    if rep:
        ssw = sum(sum((a - sum(x) / len(x)) ** 2 for a in x) for x in rep)
        dof = sum(len(x) - 1 for x in rep)
        sd = math.sqrt(ssw / dof)
        mean = sum(v) / Nv
        en = emax_normal(Nv)
        noise = {"assumption": "trials with identical params apart from seed-like keys differ only by noise;"
                 " the noise is normal with one sigma for all configurations",
                 "seed_keys": ["seed"], "sd": sd, "repeated_configurations": len(rep), "dof": dof,
                 "emax_std_normal": en, "noise_only_expected_best": mean + sd * en,
                 "released_above_noise_sd": (released - (mean + sd * en)) / sd}
    else:
        noise = {"omitted": "no configuration was repeated"}

    choices = []
    for key, col in (("c", 0), ("g", 1), ("kernel", None), ("seed", 2)):
        allv = [str(t[col]) if col is not None else "rbf" for t in grid]
        counts = {}
        for a in allv:
            counts[a] = counts.get(a, 0) + 1
        distinct = len(counts)
        numeric = col is not None
        ch = {"key": key, "source": "adapter" if key == "kernel" else "argv",
              "released": allv[rel], "varied": distinct > 1, "numeric": numeric, "distinct": distinct}
        if numeric:
            nums = [float(a) for a in allv]
            ch["min"], ch["max"] = min(nums), max(nums)
        vs = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ch["values"] = [{"value": a, "trials": n} for a, n in vs[:50]]
        if len(vs) > 50:
            ch["values_truncated"] = len(vs) - 50
        if distinct == 1:
            ch["note"] = "never varied: an untested default, no importance claimed"
        else:
            yv = [a for _, a in vals]
            xv = [float(grid[i][col]) for i, _ in vals]
            binned = len(set(xv)) > 8
            if binned:
                srt = sorted(xv)
                edges = [srt[int(len(srt) * b / 8)] for b in range(8)] + [srt[-1]]
                gx = [sum(1 for e in edges[1:-1] if x >= e) for x in xv]
            else:
                gx = xv
            o2, rg, k = omega2(yv, gx)
            logs = min(xv) > 0
            rho = spearman([math.log(x) for x in xv] if logs else xv, yv)
            ch["effect"] = {"assumption": "other keys varied independently of this one (grid or random search)",
                            "groups": k, "binned": binned, "omega2": o2, "range_of_means": rg,
                            "spearman_rho": rho, "log_scale": logs}
            if binned:
                ch["effect"]["bin_edges"] = edges
        choices.append(ch)

    evals = 3 if not N else 40
    pred = {
        "study": "heart-svm", "created": iso(T0 + nt * 2_150_000_000 + 60 * 10**9),
        "tool": {"name": "tunetrail", "version": "0.1.0"},
        "producedBy": {k: leaves[rel][k] for k in ("trial", "status", "exe", "argv", "params",
                                                   "metrics", "inputs", "outputs")}
        | {"leaf_index": rel, "git_commit": "4dbf464" + "0" * 33, "git_dirty": False,
           "evaluations": [{"metric": "accuracy", "value": 85.2, "split": "test",
                            "data_sha256": test_sha, "data_path": "/data/heart_scale.t"}]},
        "search": {
            "trials": nt, "by_status": by_status,
            "failure_rate": (by_status["failed"] + by_status["crashed"] + by_status["killed"]) / nt,
            "excluded": [], "revisions": 0, "sessions": 1,
            "first": iso(T0), "last": iso(T0 + (nt - 1) * 2_150_000_000 + 1_900_000_000),
            "distinct_configurations": len({(t[0], t[1], t[2]) for t in grid}),
            "kind": {"kind": "random", "reason": "c and g take many distinct values"} if N else
            {"kind": "grid", "reason": "c x g is a full 4 x 3 product"},
            "compute": {
                "trials": {"processes": nt, "cpu_seconds": sum(l["cpu_us"] for l in leaves) / 1e6,
                           "wall_seconds": sum(l["ended_ns"] - l["started_ns"] for l in leaves) / 1e9,
                           "peak_rss_kb": max(l["maxrss_kb"] for l in leaves)},
                "failed": {"processes": by_status["failed"] + by_status["killed"], "cpu_seconds": 2.1,
                           "wall_seconds": 2.5, "peak_rss_kb": 3411},
                "all_processes": {"processes": nt + 2, "cpu_seconds": 21.4, "wall_seconds": 27.0,
                                  "peak_rss_kb": 9120}}},
        "selection": {
            "objective": {"name": "cv_accuracy", "direction": "max", "chosen": "flag"},
            "n": Nv, "missing": {"failed": by_status["failed"], "killed": by_status["killed"]},
            "treatment": "trials without a value (failed, killed) are left out of the curve and counted in the failure rate",
            "released": {"value": released, "from": "producedBy", "rank": rank, "ties": ties, "of": Nv,
                         "percentile": 100.0 * (Nv - rank + 1) / Nv},
            "best": v[-1], "median": med, "worst": v[0],
            "expected_max": {"assumption": "trials are i.i.d. draws from the search distribution",
                             "method": "Dodge et al. 2019, with replacement", "n": ns, "mean": dm, "sd": dsd},
            "expected_max_without_replacement": {
                "assumption": "trials are i.i.d. draws from the search distribution",
                "method": "Tang et al. 2020, unbiased, without replacement", "n": ns, "mean": tm},
            "noise_floor": noise},
        "choices": choices,
        "holdout": {"assumption": "an evaluation data file is identified by its SHA-256",
                    "files": [{"sha256": test_sha, "paths": ["/data/heart_scale.t"], "trials_evaluated": 1,
                               "evaluations": evals, "first_evaluated": iso(T0 + nt * 2_150_000_000),
                               "adaptive": False, "reason": "no trial started after its first evaluation"}]},
        "log": {"hash": "RFC 9162 SHA-256", "tree_size": nt, "root": "7d" * 32,
                "checkpoint": {"tree_size": nt, "root": "7d" * 32, "key": "AAAA", "keyid": "c0" * 32,
                               "sig": "AAAA"},
                "proofs": [{"leaf_index": rel, "trial": uid(rel), "path": ["11" * 32, "22" * 32]}]},
        "trials": leaves,
    }
    st = {"_type": "https://in-toto.io/Statement/v1",
          "subject": [{"name": "heart.model", "digest": {"sha256": model_sha}}],
          "predicateType": "https://tunetrail.dev/search-provenance/v1", "predicate": pred}
    json.dump(st, sys.stdout, indent=None if N else 1, sort_keys=True)
    sys.stdout.write("\n")


main()
