"""One time step of an LSTM or a GRU cell with a scalar input and a scalar state.

The slot's constraint `cell` chooses the cell (every student of a slot gets the same one, so the
answer columns line up). The question states the equations, in PyTorch's form, with one weight on
x_t, one on h_{t-1} and a bias per gate (the GRU candidate has two biases, as in PyTorch, because
the reset gate multiplies its recurrent part together with its bias):

    LSTM  i = s(w_xi x + w_hi h + b_i)     f, o likewise       g = tanh(w_xg x + w_hg h + b_g)
          c_t = f c_{t-1} + i g            h_t = o tanh(c_t)
    GRU   r = s(w_xr x + w_hr h + b_r)     z likewise
          n = tanh(w_xn x + b_xn + r (w_hn h + b_hn))          h_t = (1 - z) n + z h_{t-1}

Fairness: h_{t-1} is a possible hidden state (0 < |h| < 1, a tanh output; 1/2 by default), every
pre-activation is a small nonzero integer (sigma(0) = 1/2 and tanh(0) = 0 would make a gate
trivial), and the sigmoid gates' pre-activations differ in size (no value computed once and copied,
none read off another as sigma(-z) = 1 - sigma(z)).
The answers of the cell not asked are empty lists: no columns, so a slot's CSV has only the
columns of its own cell.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, sample_until

_GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}     # PyTorch's order of the stacked weights
_SIGMOID_GATES = {"lstm": ("i", "f", "o"), "gru": ("r", "z")}
_ANSWERS = {"lstm": ("i", "f", "o", "g", "c", "h"), "gru": ("r", "z", "n", "h")}

FAMILY = Family(
    name="lstm_gru_step",
    topic="Sequence models",
    title="One time step of an LSTM or GRU cell with scalar state",
    parts=(
        Part("a", 3, "the gates: i_t, f_t, o_t (LSTM) or r_t, z_t (GRU)"),
        Part("b", 2, "the candidate g_t and the new cell state c_t (LSTM), or the candidate n_t (GRU)"),
        Part("c", 1, "the new hidden state h_t"),
    ),
    params={
        "cell": "the cell: lstm or gru",
        "x": "the input x_t (an integer)",
        "prev": "the previous state: {h: h_{t-1}, c: c_{t-1}} (LSTM) or {h: h_{t-1}} (GRU)",
        "weights": "per gate [w_x, w_h, b] (weight on x_t, weight on h_{t-1}, bias); "
                   "the GRU candidate n has [w_xn, w_hn, b_xn, b_hn]",
    },
    answers=(
        Answer("i", "a", "i_t", "i_t", decimals=4),
        Answer("f", "a", "f_t", "f_t", decimals=4),
        Answer("o", "a", "o_t", "o_t", decimals=4),
        Answer("r", "a", "r_t", "r_t", decimals=4),
        Answer("z", "a", "z_t", "z_t", decimals=4),
        Answer("g", "b", "g_t", "g_t", decimals=4),
        Answer("c", "b", "c_t", "c_t", decimals=4),
        Answer("n", "b", "n_t", "n_t", decimals=4),
        Answer("h", "c", "h_t", "h_t", decimals=4),
    ),
    constraints={
        "cell": Constraint("lstm", "the cell every student of the slot gets: lstm or gru", among=("lstm", "gru")),
        "x_range": Constraint([-2, 2], "the input x_t is a nonzero integer in this range"),
        "h_prev_choices": Constraint([-0.5, 0.5], "values h_{t-1} may take (nonzero, strictly between -1 and 1, "
                                                  "as a tanh output is)"),
        "c_prev_range": Constraint([-2, 2], "LSTM: the previous cell state c_{t-1} is a nonzero integer in this range"),
        "input_weight_range": Constraint([-2, 2], "weights on x_t are nonzero integers in this range"),
        "hidden_weight_range": Constraint([-4, 4], "weights on h_{t-1} are nonzero integers in this range "
                                                   "(only those that make w_h h_{t-1} whole are kept)"),
        "bias_range": Constraint([-2, 2], "biases are integers in this range"),
        "preact_max": Constraint(3, "every pre-activation is a nonzero integer of size at most this (the GRU "
                                    "candidate: its input part and its recurrent part)", min=1),
    },
    rules={
        "h_prev is a possible hidden state": "0 < |h_{t-1}| < 1, as for the output of a tanh",
        "pre-activations are whole numbers": "w_h h_{t-1} is an integer for every gate, so every pre-activation is",
        "pre-activations are nonzero": "no gate is sigma(0) = 1/2 or tanh(0) = 0; the GRU reset gate always "
                                       "matters (w_hn h_{t-1} + b_hn != 0)",
        "pre-activations are small": "|pre-activation| <= preact_max",
        "gate pre-activations differ": "the sigmoid gates' pre-activations differ in size: no value is copied, "
                                       "and none is 1 minus another (sigma(-z) = 1 - sigma(z))",
        "candidate pre-activation is small": "GRU: |w_xn x_t + b_xn + r_t (w_hn h_{t-1} + b_hn)| <= preact_max, "
                                             "so tanh does not saturate at 1",
    },
)


def _frac(v) -> Fraction:
    """A param value exactly: 0.5 (a float from TOML or a choice) is 1/2, not its binary float."""
    return Fraction(str(v))


def _parts(params: dict) -> list[list[Fraction]]:
    """Per gate (in PyTorch's order) its integer-valued pieces: [pre-activation] or, for the GRU
    candidate, [x part, h part]."""
    x, w, h = params["x"], params["weights"], _frac(params["prev"]["h"])
    out = []
    for gate in _GATES[params["cell"]]:
        if gate == "n":
            wx, wh, bx, bh = w["n"]
            out.append([Fraction(wx * x + bx), wh * h + bh])
        else:
            wx, wh, b = w[gate]
            out.append([wx * x + wh * h + b])
    return out


def _span(bounds, nonzero: bool) -> tuple[int, ...]:
    lo, hi = bounds
    return tuple(v for v in range(lo, hi + 1) if not (nonzero and v == 0)) or (0,)


@lru_cache(maxsize=64)
def _tables(xs: tuple, hs: tuple, wxs: tuple, whs: tuple, bs: tuple, top: int):
    """For each (x_t, h_{t-1}): the (w_x, w_h, b) of one gate whose pre-activation is a nonzero integer
    of size <= top, and the GRU candidate's (w_xn, w_hn, b_xn, b_hn) whose two parts are. These are what
    the rules on single gates keep, so drawing from them wastes no draws; an empty table is replaced
    by every combination, so that the rules reject the draws and name what cannot be met."""
    def ok(v):
        return v.denominator == 1 and v != 0 and abs(v) <= top

    gate, cand = {}, {}
    for x in xs:
        for h in hs:
            hf = _frac(h)
            gate[x, h] = [(wx, wh, b) for wx in wxs for wh in whs for b in bs if ok(wx * x + wh * hf + b)] or \
                [(wx, wh, b) for wx in wxs for wh in whs for b in bs]
            xpart = [(wx, bx) for wx in wxs for bx in bs if ok(Fraction(wx * x + bx))]
            hpart = [(wh, bh) for wh in whs for bh in bs if ok(wh * hf + bh)]
            cand[x, h] = [(wx, wh, bx, bh) for wx, bx in xpart for wh, bh in hpart] or \
                [(wx, wh, bx, bh) for wx in wxs for wh in whs for bx in bs for bh in bs]
    return gate, cand


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    cell = constraints["cell"]
    gates = _GATES[cell]
    top = constraints["preact_max"]
    xs, cs = _span(constraints["x_range"], True), _span(constraints["c_prev_range"], True)
    hs = tuple(constraints["h_prev_choices"])
    gate_table, cand_table = _tables(xs, hs, _span(constraints["input_weight_range"], True),
                                     _span(constraints["hidden_weight_range"], True),
                                     _span(constraints["bias_range"], False), top)
    possible = {h: 0 < abs(_frac(h)) < 1 for h in hs}
    n_sig = len(_SIGMOID_GATES[cell])
    first = math.lcm(len(xs), len(hs), len(cs))

    def draw(r):
        # x_t, h_{t-1}, c_{t-1}: one call, each index reduced modulo its size (the bound is a multiple of each).
        i, j, m = r.integers(0, first, 3).tolist()
        x, h = xs[i % len(xs)], hs[j % len(hs)]
        table = gate_table[x, h]
        if cell == "lstm":
            picks = [table[v] for v in r.integers(0, len(table), 4).tolist()]
            weights = {g: list(w) for g, w in zip(gates, picks)}
            prev = {"h": h, "c": cs[m % len(cs)]}
        else:
            cands = cand_table[x, h]
            size = math.lcm(len(table), len(cands))
            a, b, c = r.integers(0, size, 3).tolist()
            weights = {"r": list(table[a % len(table)]), "z": list(table[b % len(table)]),
                       "n": list(cands[c % len(cands)])}
            prev = {"h": h}
        return {"cell": cell, "x": x, "prev": prev, "weights": weights}

    last: list = [None, None]           # the latest params and their _parts: its rules share one computation

    def parts_of(p):
        if last[0] is not p:
            last[:] = [p, _parts(p)]
        return last[1]

    def pieces(p):
        return [v for vs in parts_of(p) for v in vs]

    def sigmoid_pre(p):
        parts = parts_of(p)
        return [parts[g][0] for g, gate in enumerate(gates) if gate in _SIGMOID_GATES[cell]]

    def candidate_pre(p):
        """GRU: w_xn x + b_xn + r (w_hn h + b_hn), in floats (only compared with preact_max)."""
        parts = parts_of(p)
        r = 1 / (1 + math.exp(-parts[0][0]))
        return parts[2][0] + r * parts[2][1]

    return sample_until(rng, draw, [
        ("h_prev is a possible hidden state", lambda p: possible[p["prev"]["h"]]),
        ("pre-activations are whole numbers", lambda p: all(v.denominator == 1 for v in pieces(p))),
        ("pre-activations are nonzero", lambda p: all(v != 0 for v in pieces(p))),
        ("pre-activations are small", lambda p: all(abs(v) <= top for v in pieces(p))),
        ("gate pre-activations differ", lambda p: len({abs(v) for v in sigmoid_pre(p)}) == n_sig),
        ("candidate pre-activation is small", lambda p: cell == "lstm" or abs(candidate_pre(p)) <= top),
    ], family=FAMILY.name)


def _sigma(z):
    return 1 / (1 + sp.exp(-z))


def solve(params: dict) -> dict:
    """Exact in sympy: integer pre-activations, then sigma and tanh of them (e stays symbolic)."""
    cell = params["cell"]
    x = sp.Integer(params["x"])
    h_prev = sp.Rational(str(params["prev"]["h"]))
    w = {g: [sp.Rational(str(v)) for v in vs] for g, vs in params["weights"].items()}
    pre, act = {}, {}
    for gate in _GATES[cell]:
        if gate == "n":
            continue
        wx, wh, b = w[gate]
        z = wx * x + wh * h_prev + b
        if not z.is_Integer or z == 0:
            raise ValueError(f"gate {gate}: pre-activation {z} is not a nonzero integer")
        pre[gate] = z
        act[gate] = sp.tanh(z) if gate == "g" else _sigma(z)
    work = {"pre": pre, "h_prev": h_prev}
    empty = {k: [] for k in FAMILY.answer_keys}
    if cell == "lstm":
        c_prev = sp.Integer(params["prev"]["c"])
        c = act["f"] * c_prev + act["i"] * act["g"]
        tanh_c = sp.tanh(c)
        h = act["o"] * tanh_c
        work.update(c_prev=c_prev, tanh_c=tanh_c, forget_term=act["f"] * c_prev, input_term=act["i"] * act["g"])
        answers = {**empty, "i": act["i"], "f": act["f"], "o": act["o"], "g": act["g"], "c": c, "h": h}
    else:
        wx, wh, bx, bh = w["n"]
        n_x, n_h = wx * x + bx, wh * h_prev + bh
        if not (n_x.is_Integer and n_h.is_Integer) or n_x == 0 or n_h == 0:
            raise ValueError(f"candidate: parts {n_x}, {n_h} are not nonzero integers")
        n_pre = n_x + act["r"] * n_h
        n = sp.tanh(n_pre)
        h = (1 - act["z"]) * n + act["z"] * h_prev
        work.update(n_x=n_x, n_h=n_h, n_pre=n_pre, reset_term=act["r"] * n_h,
                    one_minus_z=1 - act["z"], new_term=(1 - act["z"]) * n, keep_term=act["z"] * h_prev)
        answers = {**empty, "r": act["r"], "z": act["z"], "n": n, "h": h}
    return {"answers": answers, "work": work}


def check(params: dict, answers: dict) -> None:
    """Another way: the stacked (vector) form in numpy floats, sigma(z) written as (1 + tanh(z/2)) / 2."""
    cell = params["cell"]
    gates = _GATES[cell]
    x, h = float(params["x"]), float(params["prev"]["h"])
    rows = np.array([params["weights"][g][:3] for g in gates], dtype=float)   # [w_x, w_h, b] per gate
    W, U, B = rows[:, 0], rows[:, 1], rows[:, 2]

    def sig(v):
        return 0.5 * (1.0 + np.tanh(0.5 * v))

    if cell == "lstm":
        pre = W * x + U * h + B                       # i, f, g, o stacked
        i, f, o = sig(pre[[0, 1, 3]])
        g = np.tanh(pre[2])
        c = f * float(params["prev"]["c"]) + i * g
        want = {"i": i, "f": f, "o": o, "g": g, "c": c, "h": o * np.tanh(c)}
    else:
        bh_n = float(params["weights"]["n"][3])
        gi = W * x + np.array([B[0], B[1], B[2]])     # input side (the candidate's b_xn)
        gh = U * h + np.array([0.0, 0.0, bh_n])       # hidden side (the candidate's b_hn)
        r, z = sig(gi[:2] + gh[:2])
        n = np.tanh(gi[2] + r * gh[2])
        want = {"r": r, "z": z, "n": n, "h": (1.0 - z) * n + z * h}
    for key in FAMILY.answer_keys:
        got = answers[key]
        if key not in _ANSWERS[cell]:
            if not (isinstance(got, list) and not got):
                raise CheckError(f"{FAMILY.name}: {key} = {got} but a {cell.upper()} has no {key}_t (expected [])")
            continue
        if isinstance(got, list) or not np.isclose(float(got), want[key], rtol=1e-8, atol=1e-8):
            raise CheckError(f"{FAMILY.name}: {key}_t = {got} but the numpy {cell.upper()} step gives {want[key]:.10f}")
