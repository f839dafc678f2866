"""Backpropagation through time in a scalar RNN unrolled over three steps.

Conventions (stated in the question): h_t = f(a_t) with a_t = w h_{t-1} + u x_t + b for
t = 1, 2, 3, the initial state h_0 given, the same w, u, b at every step; f is tanh or the
identity (one per slot, by the `activation` constraint); the loss is on the last step only,
L = 1/2 (h_3 - y)^2. The student finds the forward pass, dL/dw as the sum over time steps of
the per-step contributions delta_t h_{t-1} (delta_t = dL/da_t), and dh_3/dh_1 = w f'(a_2) w f'(a_3),
the product of factors that makes early steps' contributions vanish; a short explanation
(marked by a TA) says why.

The parameters are multiples of 0.1 (the inputs x_t small nonzero integers), held as floats in
display form; solve reads them exactly (0.3 is 3/10). With tanh every value past a_1 is
irrational: the question asks for four decimals. With the identity every value is rational.

Fairness: no pre-activation near 0 (a zero hidden state kills a term), none so large that tanh
saturates, every recurrent factor |w f'(a_t)| below 1 (so the vanishing story holds for everyone),
a residual h_3 - y that is not tiny, and every per-step term big enough to show at four decimals.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, as_float, integer_at, sample_until

STEPS = 3      # the diagram and the answers' shapes are drawn for three steps

FAMILY = Family(
    name="rnn_bptt",
    topic="Sequence models",
    title="Backpropagation through time in a scalar RNN unrolled over three steps",
    parts=(
        Part("a", 3, "forward pass: pre-activations, hidden states and the loss"),
        Part("b", 5, "dL/dw by BPTT as the sum of the three per-step contributions"),
        Part("c", 2, "dh3/dh1 as a product of factors, and which factor makes gradients vanish"),
    ),
    params={
        "activation": "the activation f: tanh or identity",
        "w": "the recurrent weight w",
        "u": "the input weight u",
        "b": "the bias b",
        "h0": "the initial hidden state h_0",
        "x": "the inputs [x_1, x_2, x_3]",
        "y": "the target y of the last step",
    },
    answers=(
        Answer("a", "a", "a{i}", "a_{i}", decimals=4),
        Answer("h", "a", "h{i}", "h_{i}", decimals=4),
        Answer("L", "a", "L", "L", decimals=4),
        Answer("terms", "b", "dL/dw step {i}", r"\partial L/\partial w\ \text{(step {i})}", decimals=4),
        Answer("dL_dw", "b", "dL/dw", r"\partial L/\partial w", decimals=4),
        Answer("dh3_dh1", "c", "dh3/dh1", r"\partial h_3/\partial h_1", decimals=4),
    ),
    constraints={
        "activation": Constraint("tanh", "the activation f of every student of the slot",
                                 among=("tanh", "identity")),
        "w_range": Constraint([-0.9, 0.9], "the recurrent weight w is a nonzero multiple of 0.1 in this range"),
        "u_range": Constraint([-1.0, 1.0], "the input weight u is a nonzero multiple of 0.1 in this range"),
        "b_range": Constraint([-0.5, 0.5], "the bias b is a nonzero multiple of 0.1 in this range"),
        "h0_range": Constraint([-1.0, 1.0], "the initial state h_0 is a nonzero multiple of 0.1 in this range"),
        "x_range": Constraint([-2, 2], "each input x_t is a nonzero integer in this range"),
        "y_range": Constraint([-0.9, 0.9], "the target y is a multiple of 0.1 in this range"),
        "max_preactivation": Constraint(2.0, "every |a_t| is at most this (tanh'(2) is about 0.07)", min=0),
    },
    rules={
        "no pre-activation near 0": "every |a_t| >= 0.1, so no hidden state is (nearly) 0 and kills a term",
        "max_preactivation": "every |a_t| <= max_preactivation, so tanh does not saturate",
        "recurrent factors below 1": "|w f'(a_t)| < 1 at steps 2 and 3: the product dh3/dh1 shrinks",
        "residual is not small": "|h_3 - y| >= 0.1, so the loss and its gradient are not (nearly) 0",
        "every BPTT term shows": "every per-step term |delta_t h_{t-1}| >= 0.001 (visible at four decimals)",
    },
)


# --- sampling: floats are enough to test the rules ----------------------------------------------

def _tenths(u: float, lo: float, hi: float, nonzero: bool) -> float:
    """The multiple of 0.1 in [lo, hi] (without 0 if `nonzero`) that a uniform u in [0, 1) selects."""
    klo, khi = math.ceil(round(lo * 10, 9)), math.floor(round(hi * 10, 9))
    return integer_at(u, klo, khi, nonzero) / 10


def _float_pass(p: dict) -> dict:
    """Forward and backward in floats, for the sampling rules only."""
    tanh = p["activation"] == "tanh"
    a, h = [], [p["h0"]]
    for xt in p["x"]:
        a.append(p["w"] * h[-1] + p["u"] * xt + p["b"])
        h.append(math.tanh(a[-1]) if tanh else a[-1])
    fp = [1 - h[t + 1] ** 2 if tanh else 1.0 for t in range(STEPS)]
    delta = [0.0] * STEPS
    delta[-1] = (h[-1] - p["y"]) * fp[-1]
    for t in range(STEPS - 2, -1, -1):
        delta[t] = delta[t + 1] * p["w"] * fp[t]
    return {"a": a, "h": h, "fp": fp, "terms": [delta[t] * h[t] for t in range(STEPS)]}


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    act = constraints["activation"]
    ranges = {k: constraints[f"{k}_range"] for k in ("w", "u", "b", "h0", "y")}
    xlo, xhi = constraints["x_range"]
    amax = constraints["max_preactivation"]

    def draw(r):
        v = r.random(5 + STEPS).tolist()       # one rng call per draw: numpy's per-call cost dominates
        p = {"activation": act}
        for i, k in enumerate(("w", "u", "b", "h0")):
            p[k] = _tenths(v[i], *ranges[k], nonzero=True)
        p["x"] = [integer_at(v[5 + t], xlo, xhi, nonzero=True) for t in range(STEPS)]
        p["y"] = _tenths(v[4], *ranges["y"], nonzero=False)
        return p

    cache: dict = {"p": None}

    def run(p):           # the rules below share one float pass per draw
        if cache["p"] is not p:
            cache.update(p=p, out=_float_pass(p))
        return cache["out"]

    return sample_until(rng, draw, [
        ("no pre-activation near 0", lambda p: all(abs(a) >= 0.1 - 1e-9 for a in run(p)["a"])),
        ("max_preactivation", lambda p: all(abs(a) <= amax + 1e-9 for a in run(p)["a"])),
        ("recurrent factors below 1", lambda p: all(abs(p["w"] * f) < 1 for f in run(p)["fp"][1:])),
        ("residual is not small", lambda p: abs(run(p)["h"][-1] - p["y"]) >= 0.1 - 1e-9),
        ("every BPTT term shows", lambda p: all(abs(t) >= 0.001 for t in run(p)["terms"])),
    ], family=FAMILY.name)


# --- solving: exact, in sympy ----------------------------------------------------------------------

def _exact(v) -> sp.Rational:
    """A parameter in display form (0.3, "0.3", 2) as the exact number it shows."""
    return sp.Rational(str(Fraction(str(v))))


DIGITS = 60     # significant digits of the tanh values (see solve)


def solve(params: dict) -> dict:
    """The unrolled forward pass, then BPTT step by step.

    Identity: every value is an exact rational. tanh: a_1 is exact, and from h_1 = tanh(a_1) on
    the values are sympy Floats of DIGITS significant digits. (Exact nested tanh expressions are
    correct too, but evaluating the products of BPTT from them costs sympy about 0.3 s a variant;
    60 digits round to the four decimals asked exactly but for a value within 1e-55 of a tie.)
    """
    tanh = params["activation"] == "tanh"
    w, u, b, h0, y = (_exact(params[k]) for k in ("w", "u", "b", "h0", "y"))
    x = [sp.Integer(v) for v in params["x"]]

    a, h = [], [h0]
    for xt in x:
        a.append(w * h[-1] + u * xt + b)
        h.append(sp.tanh(a[-1]).evalf(DIGITS) if tanh else a[-1])
    L = (h[-1] - y) ** 2 / 2
    # f'(a_t) = 1 - tanh(a_t)^2 = 1 - h_t^2 (tanh), or 1 (identity)
    fp = [1 - ht ** 2 if tanh else sp.Integer(1) for ht in h[1:]]

    residual = h[-1] - y                         # dL/dh_3
    delta = [None] * STEPS                       # delta_t = dL/da_t
    delta[-1] = residual * fp[-1]
    for t in range(STEPS - 2, -1, -1):
        delta[t] = delta[t + 1] * w * fp[t]      # a_{t+1} = w h_t + ..., h_t = f(a_t)
    terms = [delta[t] * h[t] for t in range(STEPS)]    # the step-t copy of w multiplies h_{t-1}
    factors = [w * f for f in fp]                # dh_t/dh_{t-1} = w f'(a_t)
    dh3_dh1 = factors[1] * factors[2]

    return {
        "answers": {"a": a, "h": h[1:], "L": L, "terms": terms, "dL_dw": sum(terms), "dh3_dh1": dh3_dh1},
        "work": {"tanh": tanh, "fp": fp, "residual": residual, "delta": delta, "factors": factors,
},
    }


# --- checking: a plain-float unrolled RNN and finite differences ---------------------------------

def check(params: dict, answers: dict) -> None:
    """Floats and central differences: dL/dw of the tied net; each step's term as dL/dw_t of a net
    whose step t has its own copy w_t of the weight; dh3/dh1 by perturbing h_1."""
    act = math.tanh if params["activation"] == "tanh" else (lambda z: z)
    w, u, b, h0, y = (float(Fraction(str(params[k]))) for k in ("w", "u", "b", "h0", "y"))
    x = [float(v) for v in params["x"]]
    eps = 1e-6

    def run(ws, start=h0, first=0):
        """Hidden states from step first+1 on, with weight ws[t] at step t+1, from h_first = start."""
        hs, pre = [start], []
        for t in range(first, len(x)):
            pre.append(ws[t] * hs[-1] + u * x[t] + b)
            hs.append(act(pre[-1]))
        return pre, hs[1:]

    def loss(ws):
        return 0.5 * (run(ws)[1][-1] - y) ** 2

    def close(name, got, want):
        try:
            got_f = np.array(as_float(got), dtype=float)
        except (TypeError, ValueError, ZeroDivisionError):
            raise CheckError(f"{FAMILY.name}: {name} = {got!r} is not a number") from None
        if got_f.shape != np.shape(want) or not np.allclose(got_f, want, rtol=1e-6, atol=1e-6):
            raise CheckError(f"{FAMILY.name}: {name} = {got} but the numeric path gives {np.round(want, 6).tolist()}")

    tied = [w] * len(x)
    pre, hs = run(tied)
    close("a", answers["a"], pre)
    close("h", answers["h"], hs)
    close("L", answers["L"], loss(tied))

    def nudged(t, d):
        ws = list(tied)
        ws[t] += d
        return ws

    terms = [(loss(nudged(t, eps)) - loss(nudged(t, -eps))) / (2 * eps) for t in range(len(x))]
    close("terms", answers["terms"], terms)
    close("dL_dw", answers["dL_dw"], (loss([w + eps] * len(x)) - loss([w - eps] * len(x))) / (2 * eps))
    h1 = hs[0]
    close("dh3_dh1", answers["dh3_dh1"],
          (run(tied, h1 + eps, 1)[1][-1] - run(tied, h1 - eps, 1)[1][-1]) / (2 * eps))
