"""Batch normalisation of a mini-batch of scalars: forward pass, then the backward pass.

Conventions (stated in the question): one feature, a mini-batch x_1..x_N (N fixed per slot by
`batch_size`); mu = (1/N) sum x_i, the *biased* variance sigma^2 = (1/N) sum (x_i - mu)^2,
x^_i = (x_i - mu) / sqrt(sigma^2 + eps), y_i = gamma x^_i + beta; the upstream gradients
g_i = dL/dy_i are given, and the student finds dL/dgamma, dL/dbeta and every dL/dx_i (the
batch statistics depend on x, so the full batch-norm backward formula is needed).

Nice numbers: the inputs are integers with a whole mean and a variance that is a perfect square,
so with eps = 0 (the default) sigma is a whole number and every value is a fraction. With
eps > 0 (a constraint) the square root is irrational and the question asks for four decimals.

Fairness: distinct inputs (ties would halve the work), no input at the mean (x^_i = 0 kills a
term), |gamma| != 1, and no vanishing sum or gradient: sum g_i != 0, sum g_i x^_i != 0 and every
dL/dx_i != 0.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import isqrt

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, as_float, integer_at, sample_until

FAMILY = Family(
    name="batchnorm_forward_backward",
    topic="Normalisation and regularisation",
    title="Batch normalisation of a mini-batch of scalars: forward and backward pass",
    parts=(
        Part("a", 2, "batch mean and (biased) batch variance"),
        Part("b", 3, "normalised values and outputs y_i"),
        Part("c", 2, "dL/dgamma and dL/dbeta"),
        Part("d", 3, "dL/dx_i for every input"),
    ),
    params={
        "x": "the mini-batch [x_1, ..., x_N] (integers)",
        "gamma": "the scale gamma",
        "beta": "the shift beta",
        "epsilon": "epsilon added to the variance (0: the question says to take it as 0)",
        "dy": "the upstream gradients [dL/dy_1, ..., dL/dy_N]",
    },
    answers=(
        Answer("mean", "a", "mu", r"\mu"),
        Answer("var", "a", "sigma^2", r"\sigma^2"),
        Answer("x_hat", "b", "xhat{i}", r"\hat{x}_{i}", decimals=4),
        Answer("y", "b", "y{i}", "y_{i}", decimals=4),
        Answer("dL_dgamma", "c", "dL/dgamma", r"\partial L/\partial\gamma", decimals=4),
        Answer("dL_dbeta", "c", "dL/dbeta", r"\partial L/\partial\beta"),
        Answer("dL_dx", "d", "dL/dx{i}", r"\partial L/\partial x_{i}", decimals=4),
    ),
    constraints={
        "batch_size": Constraint(4, "inputs in the mini-batch (the same for every student of a slot)", among=(4, 5)),
        "mean_range": Constraint([-3, 6], "the batch mean is an integer in this range"),
        "std_range": Constraint([4, 8], "the batch standard deviation sigma is a whole number in this range "
                                        "(N = 4 allows 5 and 7 there, N = 5 allows 4, 6 and 8)", min=1),
        "gamma_range": Constraint([-3, 3], "gamma is an integer in this range, not 0, 1 or -1"),
        "beta_range": Constraint([-3, 3], "beta is a nonzero integer in this range"),
        "grad_range": Constraint([-3, 3], "each upstream gradient dL/dy_i is a nonzero integer in this range"),
        "epsilon": Constraint(0.0, "epsilon of the normalisation; 0 keeps every value a fraction, "
                                   "more makes the square root irrational (answers to 4 decimals)", min=0),
    },
    rules={
        "mean is a whole number": "mu is an integer",
        "variance is a perfect square": "sigma^2 is the square of a whole number in std_range",
        "inputs are distinct": "no two x_i are equal (ties would repeat work)",
        "no input equals the mean": "every normalised value is nonzero (x^_i = 0 kills a term)",
        "|gamma| is not 1": "gamma = 1 or -1 would make y_i = +-x^_i + beta and the backward pass trivial",
        "upstream gradients do not sum to 0": "dL/dbeta != 0, so the mean term of dL/dx_i does not vanish",
        "dL/dgamma is not 0": "sum g_i x^_i != 0, so the variance term of dL/dx_i does not vanish",
        "no input gradient is 0": "every dL/dx_i is nonzero",
    },
)


# --- sampling ------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _deviation_patterns(n: int, sigma: int) -> tuple[tuple[int, ...], ...]:
    """Every non-increasing integer n-tuple d with sum 0 and sum d^2 = n sigma^2 (ties and zeros included)."""
    total = n * sigma * sigma
    bound = isqrt(total)
    found: list[tuple[int, ...]] = []

    def extend(prefix: list[int], left: int, rem_sum: int, rem_sq: int, top: int) -> None:
        if left == 2:       # p + q = rem_sum, p^2 + q^2 = rem_sq: p, q = (rem_sum +- root) / 2
            disc = 2 * rem_sq - rem_sum * rem_sum
            root = isqrt(disc) if disc >= 0 else -1
            if root >= 0 and root * root == disc and (rem_sum + root) % 2 == 0 and (rem_sum + root) // 2 <= top:
                found.append((*prefix, (rem_sum + root) // 2, (rem_sum - root) // 2))
            return
        for v in range(min(top, bound), -bound - 1, -1):
            sq = rem_sq - v * v
            if sq < 0:
                continue
            rest, s = left - 1, rem_sum - v
            # the rest are <= v, sum to s, and their squares to sq: s <= rest * v and s^2 <= rest * sq
            if rest == 0:
                if s == 0 and sq == 0:
                    found.append((*prefix, v))
                continue
            if s > rest * v or s * s > rest * sq:
                continue
            extend([*prefix, v], rest, s, sq, v)

    extend([], n, 0, total, bound)
    return tuple(found)


def _sigmas(n: int, lo: int, hi: int) -> tuple[int, ...]:
    """The whole sigmas in [lo, hi] with a pattern of distinct nonzero deviations (else those with any)."""
    some = [s for s in range(lo, hi + 1) if _deviation_patterns(n, s)]
    good = [s for s in some if any(0 not in d and len(set(d)) == n for d in _deviation_patterns(n, s))]
    return tuple(good or some)


def _deviations(x: list[int]) -> tuple[int, list[int]] | None:
    """The integer mean and the deviations x_i - mu, or None when the mean is not whole."""
    total, n = sum(x), len(x)
    if total % n:
        return None
    mean = total // n
    return mean, [v - mean for v in x]


def _whole_std(x: list[int]) -> int | None:
    """sigma when the mean is whole and the biased variance the square of a whole number, else None."""
    found = _deviations(x)
    if found is None:
        return None
    sq = sum(d * d for d in found[1])
    if sq % len(x):
        return None
    root = isqrt(sq // len(x))
    return root if root * root * len(x) == sq else None


def _no_zero_input_gradient(p: dict, eps: Fraction) -> bool:
    """Every dL/dx_i != 0, exactly. dL/dx_i = gamma / (N s) * (N g_i - sum g - d_i (sum_j g_j d_j) / s^2)
    with d = x - mu and s^2 = sigma^2 + eps, so (N g_i - sum g) s^2 != d_i sum_j g_j d_j decides."""
    _, d = _deviations(p["x"])
    g, n = p["dy"], len(p["x"])
    s2 = Fraction(sum(v * v for v in d), n) + eps
    proj = sum(gi * di for gi, di in zip(g, d))
    return all((n * gi - sum(g)) * s2 != di * proj for gi, di in zip(g, d))


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    n = constraints["batch_size"]
    mlo, mhi = constraints["mean_range"]
    slo, shi = constraints["std_range"]
    glo, ghi = constraints["gamma_range"]
    blo, bhi = constraints["beta_range"]
    dlo, dhi = constraints["grad_range"]
    sigmas = _sigmas(n, slo, shi)

    def draw(r):
        # One call to the rng per draw (numpy's per-call cost dominates): sigma, pattern, mean,
        # gamma, beta, then n upstream gradients and n keys whose order permutes the deviations.
        u = r.random(5 + 2 * n).tolist()
        if sigmas:
            sigma = sigmas[integer_at(u[0], 0, len(sigmas) - 1)]
            patterns = _deviation_patterns(n, sigma)
            dev = patterns[integer_at(u[1], 0, len(patterns) - 1)]
            keys = u[5 + n:]
            dev = [dev[i] for i in sorted(range(n), key=keys.__getitem__)]
        else:       # no whole sigma in std_range has a pattern: random deviations summing to 0,
            dev = [integer_at(v, -shi, shi) for v in u[5 + n:-1]]        # which the variance rule rejects
            dev.append(-sum(dev))
        mean = integer_at(u[2], mlo, mhi)
        return {
            "x": [mean + v for v in dev],
            "gamma": integer_at(u[3], glo, ghi, nonzero=True),
            "beta": integer_at(u[4], blo, bhi, nonzero=True),
            "epsilon": constraints["epsilon"],
            "dy": [integer_at(v, dlo, dhi, nonzero=True) for v in u[5:5 + n]],
        }

    eps = Fraction(str(constraints["epsilon"]))

    def square_variance(p):
        sigma = _whole_std(p["x"])
        return sigma is not None and slo <= sigma <= shi

    return sample_until(rng, draw, [
        ("mean is a whole number", lambda p: _deviations(p["x"]) is not None),
        ("variance is a perfect square", square_variance),
        ("inputs are distinct", lambda p: len(set(p["x"])) == n),
        ("no input equals the mean", lambda p: 0 not in _deviations(p["x"])[1]),
        ("|gamma| is not 1", lambda p: abs(p["gamma"]) != 1),
        ("upstream gradients do not sum to 0", lambda p: sum(p["dy"]) != 0),
        ("dL/dgamma is not 0", lambda p: sum(gi * di for gi, di in zip(p["dy"], _deviations(p["x"])[1])) != 0),
        ("no input gradient is 0", lambda p: _no_zero_input_gradient(p, eps)),
    ], family=FAMILY.name)


# --- solving: exact, in sympy ----------------------------------------------------------------------

def solve(params: dict) -> dict:
    """The batch statistics, the normalisation and the batch-norm backward formula, exactly."""
    x = [sp.Integer(v) for v in params["x"]]
    g = [sp.Integer(v) for v in params["dy"]]
    gamma, beta = sp.Integer(params["gamma"]), sp.Integer(params["beta"])
    eps = sp.Rational(str(params["epsilon"]))
    n = len(x)
    N = sp.Integer(n)

    mean = sum(x) / N
    dev = [v - mean for v in x]
    sq = [d ** 2 for d in dev]
    var = sum(sq) / N
    s = sp.sqrt(var + eps)                         # a whole number when eps = 0 (sampling's rule)
    x_hat = [d / s for d in dev]
    y = [gamma * xh + beta for xh in x_hat]

    dL_dbeta = sum(g)
    dL_dgamma = sum(gi * xh for gi, xh in zip(g, x_hat))     # sympy collects the common 1/s
    dxh = [gamma * gi for gi in g]                 # dL/dx^_i = gamma g_i
    sum_dxh = sum(dxh)
    sum_dxh_xh = sum(a * b for a, b in zip(dxh, x_hat))
    bracket = [sp.expand(N * a - sum_dxh - xh * sum_dxh_xh) for a, xh in zip(dxh, x_hat)]
    dL_dx = [sp.expand(b / (N * s)) for b in bracket]

    return {
        "answers": {"mean": mean, "var": var, "x_hat": x_hat, "y": y, "dL_dgamma": dL_dgamma,
                    "dL_dbeta": dL_dbeta, "dL_dx": dL_dx},
        "work": {"n": n, "dev": dev, "sq": sq, "sum_x": sum(x), "sum_sq": sum(sq), "s": s,
                 "exact": eps == 0, "dxh": dxh, "sum_dxh": sum_dxh, "sum_dxh_xh": sum_dxh_xh,
                 "bracket": bracket, "n_s": N * s},
    }


# --- checking: plain floats, another way ---------------------------------------------------------

def _forward(x: list[float], gamma: float, beta: float, eps: float) -> tuple[float, float, list[float], list[float]]:
    """A plain-float batch-norm forward pass by explicit loops."""
    n = len(x)
    total = 0.0
    for v in x:
        total += v
    mean = total / n
    acc = 0.0
    for v in x:
        acc += (v - mean) * (v - mean)
    var = acc / n
    root = (var + eps) ** 0.5
    x_hat = [(v - mean) / root for v in x]
    return mean, var, x_hat, [gamma * xh + beta for xh in x_hat]


def check(params: dict, answers: dict) -> None:
    """Forward by loops in floats; every gradient by central differences of L = sum g_i y_i."""
    x = [float(v) for v in params["x"]]
    g = [float(v) for v in params["dy"]]
    gamma, beta, eps = float(params["gamma"]), float(params["beta"]), float(params["epsilon"])
    h = 1e-5

    def loss(xs, gm, bt):
        return sum(gi * yi for gi, yi in zip(g, _forward(xs, gm, bt, eps)[3]))

    def close(name, got, want):
        try:
            got_f = np.array(as_float(got), dtype=float)
        except (TypeError, ValueError, ZeroDivisionError):
            raise CheckError(f"{FAMILY.name}: {name} = {got!r} is not a number") from None
        if got_f.shape != np.shape(want) or not np.allclose(got_f, want, rtol=1e-6, atol=1e-6):
            raise CheckError(f"{FAMILY.name}: {name} = {got} but the numeric path gives {np.round(want, 6).tolist()}")

    mean, var, x_hat, y = _forward(x, gamma, beta, eps)
    close("mean", answers["mean"], mean)
    close("var", answers["var"], var)
    close("x_hat", answers["x_hat"], x_hat)
    close("y", answers["y"], y)
    close("dL_dgamma", answers["dL_dgamma"], (loss(x, gamma + h, beta) - loss(x, gamma - h, beta)) / (2 * h))
    close("dL_dbeta", answers["dL_dbeta"], (loss(x, gamma, beta + h) - loss(x, gamma, beta - h)) / (2 * h))
    dx = []
    for i in range(len(x)):
        up, down = list(x), list(x)
        up[i] += h
        down[i] -= h
        dx.append((loss(up, gamma, beta) - loss(down, gamma, beta)) / (2 * h))
    close("dL_dx", answers["dL_dx"], dx)
