#!/usr/bin/env python3
"""stats_reference.py - independent reference values for tests/unit/test_stats.c.

Pure python3 standard library (fractions, math, decimal). Every statistic of
collector/stats.h is recomputed here the slow, obvious way -- exact Fractions
straight from the defining formulas of issue 4, no shortcuts shared with
stats.c (which sums Dodge by parts, walks Tang by ratios, integrates E[max]
by Gauss-Legendre). Each printed line has a label [name]; test_stats.c cites
the label next to every number it hardcodes.

Run: python3 tests/unit/stats_reference.py
"""
import math
from decimal import Decimal, getcontext
from fractions import Fraction as F

getcontext().prec = 40


def fmt(x):
    """Fraction/float -> 17 significant digits (round-trips a double)."""
    if isinstance(x, F):
        x = Decimal(x.numerator) / Decimal(x.denominator)
        return f"{x:.20g}"
    return f"{x:.17g}"


def fsqrt(q):
    """sqrt of a non-negative Fraction, to 40 digits."""
    return (Decimal(q.numerator) / Decimal(q.denominator)).sqrt()


def dodge(v, n):
    """Dodge et al. 2019, exactly as written: p_n(i) = (i/N)^n - ((i-1)/N)^n."""
    v = sorted(F(x) for x in v)
    N = len(v)
    p = [F(i, N) ** n - F(i - 1, N) ** n for i in range(1, N + 1)]
    E = sum(vi * pi for vi, pi in zip(v, p))
    var = sum((vi - E) ** 2 * pi for vi, pi in zip(v, p))
    return E, var


def tang(v, n):
    """Tang et al. 2020: E_n = sum_{i=n}^{N} v(i) C(i-1, n-1) / C(N, n)."""
    v = sorted(F(x) for x in v)
    N = len(v)
    return sum(v[i - 1] * F(math.comb(i - 1, n - 1), math.comb(N, n)) for i in range(n, N + 1))


def omega2(v, g):
    groups = {}
    for x, k in zip(v, g):
        groups.setdefault(k, []).append(F(x))
    N, k = len(v), len(groups)
    gm = sum(F(x) for x in v) / N
    sst = sum((F(x) - gm) ** 2 for x in v)
    means = {key: sum(xs) / len(xs) for key, xs in groups.items()}
    ssb = sum(len(xs) * (means[key] - gm) ** 2 for key, xs in groups.items())
    ssw = sum((x - means[key]) ** 2 for key, xs in groups.items() for x in xs)
    msw = ssw / (N - k)
    return (ssb - (k - 1) * msw) / (sst + msw), max(means.values()) - min(means.values())


def pooled_sd(v, g):
    groups = {}
    for x, k in zip(v, g):
        groups.setdefault(k, []).append(F(x))
    ss, dof, rep = F(0), 0, 0
    for xs in groups.values():
        if len(xs) >= 2:
            m = sum(xs) / len(xs)
            ss += sum((x - m) ** 2 for x in xs)
            dof += len(xs) - 1
            rep += 1
    return ss / dof, rep, dof  # variance (exact), groups, dof


def avg_ranks(x):
    """Rank of each value: the mean of the positions (1-based) its ties hold."""
    order = sorted(x)
    return [F(sum(i + 1 for i, y in enumerate(order) if y == a), order.count(a)) for a in x]


def spearman(x, y):
    """Pearson on average ranks, returned as rho^2 (exact) and its sign."""
    rx, ry = avg_ranks(x), avg_ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return sxy, sxx * syy


def Phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


def emax_normal_simpson(N, hi=13.0, m=400000):
    """E[max] = int_0^inf (1 - Phi(x)^N - Phi(-x)^N) dx (E X = int P(X>x) -
    int P(X<-x) over x > 0): a different formula and a different rule
    (composite Simpson, m intervals) from stats.c's x N phi Phi^(N-1) by
    Gauss-Legendre."""
    def f(x):
        q = 0.5 * math.erfc(x / math.sqrt(2))  # 1 - Phi(x) = Phi(-x)
        return -math.expm1(N * math.log1p(-q)) - math.exp(N * math.log(q))
    h = hi / m
    s = math.fsum([f(0), f(hi)] + [(4 if i % 2 else 2) * f(i * h) for i in range(1, m)])
    return s * h / 3


def emax_normal_closed(N):
    """Closed forms (David & Nagaraja, Order Statistics) for N = 2..5."""
    r = 1 / math.sqrt(math.pi)
    a = math.asin(1 / 3)
    return {2: r, 3: 1.5 * r, 4: 3 * r / 2 * (1 + 2 / math.pi * a),
            5: 5 * r / 4 * (1 + 6 / math.pi * a)}[N]


def main():
    # Hand-checkable: v = {1,2,3}, n = 2: p = (1/9, 3/9, 5/9), E = 22/9,
    # Var = sum (v - 22/9)^2 p = 38/81.
    t3 = [1, 2, 3]
    for n in (1, 2, 3):
        E, var = dodge(t3, n)
        print(f"[dodge123 n={n}] E={E} = {fmt(E)} var={var} sd={fsqrt(var):.20g}")
    for n in (1, 2, 3):
        print(f"[tang123 n={n}] E={tang(t3, n)} = {fmt(tang(t3, n))}")

    # Ties and a min objective: losses, negated so larger is better.
    losses = [0.5, 0.25, 0.5, 0.125, 1.0, 0.25]
    tie = sorted(-x for x in losses)
    print(f"[tie table] sorted negated = {tie}")
    for n in range(1, 7):
        E, var = dodge(tie, n)
        print(f"[dodge_tie n={n}] E={E} = {fmt(E)} sd={fsqrt(var):.20g}")
    for n in range(1, 7):
        print(f"[tang_tie n={n}] E={tang(tie, n)} = {fmt(tang(tie, n))}")

    # N = 1.
    E, var = dodge([7.5], 1)
    print(f"[dodge_one n=1] E={E} var={var}; tang={tang([7.5], 1)}")
    E, var = dodge([7.5], 50)
    print(f"[dodge_one n=50] E={E} var={var}")

    # An offset table (accuracies near 0.97): the doubles exactly as C sees them.
    off = [0.97 + 0.001 * ((i * 7) % 20) for i in range(20)]
    print("[off table] " + ", ".join(f"{x!r}" for x in off))
    for n in (1, 3, 10, 20, 100):
        E, var = dodge(off, n)
        print(f"[dodge_off n={n}] E={fmt(E)} sd={fsqrt(var):.20g}")
    for n in (1, 3, 10, 20):
        print(f"[tang_off n={n}] E={fmt(tang(off, n))}")

    # Larger table, exact: v(i) = i^2 mod 101 for i = 1..300 (many ties).
    big = [(i * i) % 101 for i in range(1, 301)]
    for n in (1, 2, 50, 300, 1000):
        E, var = dodge(big, n)
        print(f"[dodge_big n={n}] E={fmt(E)} sd={fsqrt(var):.20g}")
    for n in (1, 2, 50, 299, 300):
        print(f"[tang_big n={n}] E={fmt(tang(big, n))}")

    # omega2 on 3 groups: {1,2,3}, {4,5,6,7}, {2,9}.
    ov = [1, 2, 3, 4, 5, 6, 7, 2, 9]
    og = [0, 0, 0, 1, 1, 1, 1, 2, 2]
    w2, rng = omega2(ov, og)
    print(f"[omega2 3 groups] omega2={w2} = {fmt(w2)} range={rng} = {fmt(rng)}")
    # Same, no effect at all: identical group means -> negative omega2.
    w2, rng = omega2([1, 3, 2, 2, 0, 4], [0, 0, 1, 1, 2, 2])
    print(f"[omega2 equal means] omega2={w2} = {fmt(w2)} range={rng}")

    # Pooled SD: groups {1,3} {10} {4,4,7} {5,6,7,10}.
    pv = [1, 3, 10, 4, 4, 7, 5, 6, 7, 10]
    pg = [0, 0, 1, 2, 2, 2, 3, 3, 3, 3]
    var, rep, dof = pooled_sd(pv, pg)
    print(f"[pooled] var={var} sd={fsqrt(var):.20g} repeated={rep} dof={dof}")

    # Spearman with ties on both sides.
    sx = [1, 2, 2, 3, 4, 4, 4, 5]
    sy = [2, 1, 3, 3, 5, 4, 6, 6]
    num, den2 = spearman(sx, sy)
    rho = Decimal(num.numerator) / Decimal(num.denominator) / fsqrt(den2)
    print(f"[spearman ties] rho={rho:.20g} (num={num}, den^2={den2})")
    num, den2 = spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])
    print(f"[spearman reversed] rho={num / F(math.isqrt(den2.numerator), math.isqrt(den2.denominator))}")

    # Quantile bins: the rule of stats.h in words -- sort, walk runs of equal
    # values, close a bin at a run start once it holds (N - start)/(bins left).
    def qbins(x, maxbins):
        order = sorted(range(len(x)), key=lambda i: x[i])
        N, b, start, edges, out = len(x), 0, 0, [x[order[0]]], [0] * len(x)
        s = 0
        while s < N:
            if s > 0 and b + 1 < maxbins and (s - start) * (maxbins - b) >= N - start:
                b, start = b + 1, s
                edges.append(x[order[s]])
            e = s
            while e < N and x[order[e]] == x[order[s]]:
                out[order[e]] = b
                e += 1
            s = e
        return out, edges + [x[order[-1]]]
    qx = [1] * 50 + list(range(2, 52))
    out, edges = qbins(qx, 10)
    print(f"[qbins] nb={len(edges) - 1} edges={edges}")
    qx = [5, 1, 3, 3, 3, 2, 8, 7, 7, 4, 6, 9]
    out, edges = qbins(qx, 4)
    print(f"[qbins small] bins={out} edges={edges}")

    # E[max of N standard normals].
    for N in (2, 3, 4, 5):
        print(f"[emax closed N={N}] {emax_normal_closed(N):.17g}")
    for N in (2, 3, 5, 10, 100, 1000, 100000, 10000000):
        print(f"[emax simpson N={N}] {emax_normal_simpson(N):.15g}")


if __name__ == "__main__":
    main()
