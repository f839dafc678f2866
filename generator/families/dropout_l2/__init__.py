"""Inverted dropout on an activation vector, and one gradient step on an L2-regularised loss.

(a) A layer's activations h, a given 0/1 mask m and the keep probability p: the training-time
output m_i h_i / p (inverted dropout) and the test-time output h (unchanged). (b) Why the kept
units are divided by p: E[m_i h_i / p] = h_i, so the next layer sees at test time what it saw on
average in training (an explanation, marked by a TA; the key words it in the template).
(c) Weights w, the data-loss gradient g at w, lambda and the learning rate: the gradient of
J = L_data + penalty, with the penalty (lambda/2)||w||^2 ("half") or lambda ||w||^2 ("full") as the
question states, and the weights after one step w - lr * grad J.

Everything is rational. The keep probabilities are decimals like 0.5, 0.75, 0.8; the weights and
gradients multiples of 0.1, so the weight-decay values are exact decimals (a rule keeps them within
four places).
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, sample_until

PENALTIES = ("half", "full")

FAMILY = Family(
    name="dropout_l2",
    topic="Normalisation and regularisation",
    title="Inverted dropout on an activation vector, and one step of L2 weight decay",
    parts=(
        Part("a", 2, "inverted dropout with a given mask: the training-time and the test-time outputs"),
        Part("b", 1, "why the kept activations are divided by p (an explanation, marked by a TA)"),
        Part("c", 2, "one gradient step on the L2-regularised loss: its gradient and the new weights"),
    ),
    params={
        "activations": "the layer's activations [h_1, ..., h_n] (integers)",
        "mask": "the dropout mask drawn in this training step [m_1, ..., m_n], 1 = kept",
        "keep": "the keep probability p (a unit is kept with probability p)",
        "weights": "the weights [w_1, ..., w_k] (multiples of 0.1)",
        "grad": "the data-loss gradient dL/dw at the weights (multiples of 0.1)",
        "lam": "the regularisation strength lambda",
        "lr": "the learning rate eta",
        "penalty": "half: (lambda/2) ||w||^2; full: lambda ||w||^2",
    },
    answers=(
        Answer("train_out", "a", "train out{i}", r"\tilde h_{i}", decimals=4),
        Answer("test_out", "a", "test out{i}", r"h^{\mathrm{test}}_{i}"),
        Answer("reg_grad", "c", "dJ/dw{i}", r"\partial J/\partial w_{i}", decimals=4),
        Answer("new_w", "c", "new w{i}", r"w_{i}'", decimals=4),
    ),
    constraints={
        "units": Constraint(6, "activations in the vector (the same for the whole slot)", among=(3, 4, 5, 6, 7, 8)),
        "activation_range": Constraint([1, 9], "activations are integers in this range (0 is never drawn)"),
        "keep_choices": Constraint([0.5, 0.75, 0.8], "keep probabilities p to draw from (below 1)", min=0.01),
        "weight_count": Constraint(3, "weights in the weight-decay step (the same for the whole slot)",
                                   among=(2, 3, 4, 5)),
        "weight_range": Constraint([-2.0, 2.0], "weights are nonzero multiples of 0.1 in this range"),
        "grad_range": Constraint([-1.0, 1.0], "data-loss gradient entries are nonzero multiples of 0.1 in this range"),
        "lambda_choices": Constraint([0.01, 0.05, 0.1], "regularisation strengths lambda to draw from", min=0.0001),
        "lr_choices": Constraint([0.1, 0.5], "learning rates eta to draw from", min=0.0001),
        "penalty_choices": Constraint(["half", "full"], "penalties to draw from: half = (lambda/2)||w||^2, "
                                      "full = lambda ||w||^2", among=PENALTIES),
    },
    rules={
        "keep probability below 1": "p < 1: with p = 1 nothing is ever dropped",
        "mask drops one and keeps two": "at least one unit dropped and at least two kept, so both cases are worked",
        "regularised gradient is not 0": "g_i + dpenalty/dw_i != 0 for every i (no weight left unchanged)",
        "weight decay is visible": "the penalty's gradient changes the step: it is at least 0.001 in some entry",
        "exact to four decimals": "the gradient of J and the new weights are exact decimals with at most four places, "
                                  "as the question promises",
    },
)


def _exact(x) -> Fraction:
    """A parameter as the exact number it displays: 0.75 -> 3/4 (via its shortest repr)."""
    return Fraction(str(x))


def _multiples_of_tenth(lo: float, hi: float) -> list[int]:
    """The integers k != 0 with k/10 in [lo, hi]."""
    klo, khi = math.ceil(round(lo * 10, 9)), math.floor(round(hi * 10, 9))
    return [k for k in range(klo, khi + 1) if k != 0]


@lru_cache(maxsize=256)
def _digits(x) -> tuple[int, int]:
    """A decimal x as (n, d) with x = n / 10^d: 0.05 -> (5, 2), 0.1 -> (1, 1), 2 -> (2, 0)."""
    d = Decimal(str(x))
    places = max(0, -d.as_tuple().exponent)
    return int(d.scaleb(places)), places


def _penalty_factor(penalty: str) -> int:
    return 1 if penalty == "half" else 2        # dpenalty/dw_i = factor * lambda * w_i


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    n, k = constraints["units"], constraints["weight_count"]
    hlo, hhi = constraints["activation_range"]
    values = [v for v in range(hlo, hhi + 1) if v != 0] or [0]
    weights = [x / 10 for x in _multiples_of_tenth(*constraints["weight_range"])] or [0.0]
    grads = [x / 10 for x in _multiples_of_tenth(*constraints["grad_range"])] or [0.0]
    keeps, lams, lrs = constraints["keep_choices"], constraints["lambda_choices"], constraints["lr_choices"]
    penalties = constraints["penalty_choices"]
    # One rng call draws every index: 20,000 draws of a hopeless constraint stay within seconds.
    sizes = np.array([len(values)] * n + [len(weights)] * k + [len(grads)] * k
                     + [len(keeps), len(lams), len(lrs), len(penalties)])

    def draw(r):
        idx = r.integers(0, sizes).tolist()
        keep = keeps[idx[-4]]
        return {
            "activations": [values[i] for i in idx[:n]],
            "mask": [int(u < keep) for u in r.random(n).tolist()],     # kept with probability p, as in training
            "keep": keep,
            "weights": [weights[i] for i in idx[n:n + k]],
            "grad": [grads[i] for i in idx[n + k:n + 2 * k]],
            "lam": lams[idx[-3]],
            "lr": lrs[idx[-2]],
            "penalty": penalties[idx[-1]],
        }

    memo: dict = {}

    def decimals(p):
        """Exact integers: decay and grad J in units of 10^-(1 + d_lam), w' in 10^-(1 + d_lam + d_lr)."""
        if memo.get("p") is not p:          # holding p keeps its id from being reused
            (lam, dl), (lr, dr) = _digits(p["lam"]), _digits(p["lr"])
            f = _penalty_factor(p["penalty"]) * lam
            ws = [round(w * 10) for w in p["weights"]]
            decay = [f * w for w in ws]
            reg = [round(g * 10) * 10 ** dl + d for g, d in zip(p["grad"], decay)]
            new = [w * 10 ** (dl + dr) - lr * j for w, j in zip(ws, reg)]
            memo["p"], memo["v"] = p, (decay, reg, new, 1 + dl, 1 + dl + dr)
        return memo["v"]

    def visible(p):
        decay, _, _, places, _ = decimals(p)
        return max(abs(d) for d in decay) * 1000 >= 10 ** places

    def four_places(p):
        _, reg, new, places_reg, places_new = decimals(p)
        return (all(j % 10 ** max(0, places_reg - 4) == 0 for j in reg)
                and all(x % 10 ** max(0, places_new - 4) == 0 for x in new))

    return sample_until(rng, draw, [
        ("keep probability below 1", lambda p: p["keep"] < 1),
        ("mask drops one and keeps two", lambda p: 1 <= p["mask"].count(0) and p["mask"].count(1) >= 2),
        ("regularised gradient is not 0", lambda p: all(j != 0 for j in decimals(p)[1])),
        ("weight decay is visible", visible),
        ("exact to four decimals", four_places),
    ], family=FAMILY.name)


@lru_cache(maxsize=64)
def _penalty_gradient(k: int, penalty: str) -> tuple:
    """d/dw_i of the penalty by sympy, as functions of (lambda, w_i): lambda w_i or 2 lambda w_i."""
    lam = sp.Symbol("lambda", positive=True)
    ws = sp.symbols(f"w1:{k + 1}")
    norm2 = sum(w ** 2 for w in ws)
    expr = lam / 2 * norm2 if penalty == "half" else lam * norm2
    return tuple(sp.Lambda((lam, w), sp.diff(expr, w)) for w in ws)


def _rational(x) -> sp.Rational:
    f = _exact(x)
    return sp.Rational(f.numerator, f.denominator)


def solve(params: dict) -> dict:
    h = [sp.Integer(v) for v in params["activations"]]
    m = [sp.Integer(v) for v in params["mask"]]
    if any(v not in (0, 1) for v in m) or len(m) != len(h):
        raise ValueError(f"the mask {params['mask']} must be 0/1, one entry per activation")
    p = _rational(params["keep"])
    if not 0 < p <= 1:
        raise ValueError(f"keep probability {p} is not in (0, 1]")
    train = [mi * hi / p for mi, hi in zip(m, h)]

    w = [_rational(v) for v in params["weights"]]
    g = [_rational(v) for v in params["grad"]]
    lam, lr, penalty = _rational(params["lam"]), _rational(params["lr"]), params["penalty"]
    if penalty not in PENALTIES:
        raise ValueError(f"penalty {penalty!r} is not one of {', '.join(PENALTIES)}")
    decay = [d(lam, wi) for d, wi in zip(_penalty_gradient(len(w), penalty), w)]
    reg = [gi + di for gi, di in zip(g, decay)]
    new = [wi - lr * ji for wi, ji in zip(w, reg)]
    factor = 1 if penalty == "half" else 2
    return {
        "answers": {"train_out": train, "test_out": list(h), "reg_grad": reg, "new_w": new},
        "work": {
            "p": p, "inv_p": 1 / p, "drop": 1 - p,
            "kept": [i + 1 for i, mi in enumerate(m) if mi == 1],
            "dropped": [i + 1 for i, mi in enumerate(m) if mi == 0],
            "train_sum": sum(train), "test_sum": sum(h),
            "decay": decay,                              # dpenalty/dw_i
            "shrink": 1 - factor * lr * lam,            # w' = shrink * w - lr * g
            "factor_lam": factor * lam,
        },
    }


def check(params: dict, answers: dict) -> None:
    """Floats and brute force: the training output recomputed; the test output must be the
    expectation of the training output over all 2^n masks (each unit kept with probability p);
    the gradient of J by central differences of a loss with that data gradient; the step again."""
    def floats(key):
        try:
            return np.array([float(Fraction(x)) if isinstance(x, str) else float(x) for x in answers[key]])
        except (TypeError, ValueError) as exc:
            raise CheckError(f"{FAMILY.name}: {key} = {answers[key]!r} is not a list of numbers: {exc}") from None

    def close(key, want):
        got = floats(key)
        if got.shape != np.shape(want) or not np.allclose(got, want, rtol=1e-7, atol=1e-7):
            raise CheckError(f"{FAMILY.name}: {key} = {np.round(got, 6).tolist()} but the numeric path gives "
                             f"{np.round(want, 6).tolist()}")

    h = np.array(params["activations"], dtype=float)
    mask = np.array(params["mask"], dtype=float)
    p = float(params["keep"])
    close("train_out", np.where(mask == 1, h / p, 0.0))

    expected = np.zeros_like(h)
    for kept in itertools.product((0, 1), repeat=h.size):
        prob = math.prod(p if b else 1 - p for b in kept)
        expected += prob * np.array(kept) * h / p
    close("test_out", expected)

    w = np.array(params["weights"], dtype=float)
    g = np.array(params["grad"], dtype=float)
    lam, lr = float(params["lam"]), float(params["lr"])
    scale = 0.5 if params["penalty"] == "half" else 1.0

    def J(v):   # any data loss with gradient g at w: the linear one; plus the penalty, by a loop
        total = float(np.dot(g, v - w))
        for x in v:
            total += scale * lam * x * x
        return total

    step = 1e-4
    fd = np.array([(J(w + step * e) - J(w - step * e)) / (2 * step) for e in np.eye(w.size)])
    close("reg_grad", fd)
    close("new_w", w - lr * fd)
