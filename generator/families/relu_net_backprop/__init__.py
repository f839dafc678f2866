"""Q2 of the seed paper: forward and backward pass through a 2-2-1 ReLU network.

Convention (stated in the question): `w[i][j]` = w_{i+1, j+1} joins input x_{i+1} to hidden unit j+1,
`a_j = sum_i w_ij x_i`, `h = ReLU(a)`, `f = h_1 + h_2`. Fairness: exactly the configured
number of dead hidden units (one, as in the original) and no pre-activation equal to 0,
where ReLU has no derivative.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, integers, sample_until

FAMILY = Family(
    name="relu_net_backprop",
    topic="Feed-forward networks and losses",
    title="Forward and backward pass through a two-input ReLU network",
    parts=(
        Part("a", 2, "forward pass: a1, a2, h1, h2"),
        Part("b", 4, "chain rule: df/dh1, df/dh2, df/da1, df/da2"),
        Part("c", 2, "df/dw11, df/dw12, df/dw21, df/dw22"),
        Part("d", 2, "df/dx1, df/dx2"),
    ),
    params={"x": "input [x1, x2]", "w": "weights [[w11, w12], [w21, w22]]; w_ij joins x_i to hidden unit j"},
    answers=(
        Answer("a", "a", "a{i}", "a_{i}"),
        Answer("h", "a", "h{i}", "h_{i}"),
        Answer("f", "a", "f", "f"),
        Answer("df_dh", "b", "df/dh{i}", r"\partial f/\partial h_{i}"),
        Answer("df_da", "b", "df/da{i}", r"\partial f/\partial a_{i}"),
        Answer("df_dw", "c", "df/dw{i}{j}", r"\partial f/\partial w_{{i}{j}}"),
        Answer("df_dx", "d", "df/dx{i}", r"\partial f/\partial x_{i}"),
    ),
    constraints={
        "input_range": Constraint([1, 9], "inputs are integers in this range"),
        "weight_range": Constraint([-4, 4], "weights are nonzero integers in this range"),
        "dead_units": Constraint(1, "hidden units with a negative pre-activation (the original has one)",
                                 among=(0, 1, 2)),
        "distinct_inputs": Constraint(True, "x1 != x2, else df/dw_1j = df/dw_2j and part (c) is trivial"),
        "w12_differs_from_w21": Constraint(True, "w12 != w21, so a student who swaps the w_ij convention is caught"),
    },
    rules={
        "no pre-activation equals 0": "ReLU has a derivative at every pre-activation",
        "dead_units": "exactly dead_units hidden units have a < 0",
        "distinct_inputs": "x1 != x2 (when the constraint is on)",
        "w12_differs_from_w21": "w12 != w21 (when the constraint is on)",
    },
    given=("f",),                    # the diagram shows f, as the seed's figure did
)


def _preactivations(x, w):
    return [w[0][j] * x[0] + w[1][j] * x[1] for j in range(2)]


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    xlo, xhi = constraints["input_range"]
    wlo, whi = constraints["weight_range"]
    dead = constraints["dead_units"]

    def draw(r):
        return {"x": integers(r, xlo, xhi, 2), "w": integers(r, wlo, whi, (2, 2), nonzero=True)}

    rules = [
        ("no pre-activation equals 0", lambda p: all(v != 0 for v in _preactivations(p["x"], p["w"]))),
        ("dead_units", lambda p: sum(v < 0 for v in _preactivations(p["x"], p["w"])) == dead),
    ]
    if constraints["distinct_inputs"]:
        rules.append(("distinct_inputs", lambda p: p["x"][0] != p["x"][1]))
    if constraints["w12_differs_from_w21"]:
        rules.append(("w12_differs_from_w21", lambda p: p["w"][0][1] != p["w"][1][0]))
    return sample_until(rng, draw, rules, family=FAMILY.name)


_X_SYMBOLS = sp.symbols("x1 x2")
_W_SYMBOLS = sp.symbols("w11 w12 w21 w22")


@cache
def _derivation(live: tuple[bool, bool]):
    """The forward pass and chain rule in symbols, for one pattern of live hidden units (a_j > 0),
    derived with sympy matrices once per process; returns them as one function of (x, w) that
    evaluates them exactly in integers."""
    x = sp.Matrix(_X_SYMBOLS)             # 2x1
    W = sp.Matrix(2, 2, _W_SYMBOLS)       # W[i, j] = w_ij
    a = W.T * x
    h = sp.Matrix([a[j] if live[j] else sp.Integer(0) for j in range(2)])     # ReLU on this pattern
    f = sum(h)
    df_dh = sp.Matrix([sp.diff(sp.Symbol("h1") + sp.Symbol("h2"), s) for s in sp.symbols("h1 h2")])
    relu_grad = sp.Matrix([sp.Heaviside(1 if live[j] else -1) for j in range(2)])   # dh_j/da_j: 0 or 1
    df_da = df_dh.multiply_elementwise(relu_grad)
    df_dw = x * df_da.T                            # df/dw_ij = x_i * df/da_j
    df_dx = W * df_da                              # df/dx_i = sum_j w_ij * df/da_j
    if sp.Matrix([sp.diff(f, v) for v in _W_SYMBOLS]) != df_dw.reshape(4, 1) or \
            sp.Matrix([sp.diff(f, v) for v in _X_SYMBOLS]) != df_dx:
        raise ValueError(f"the chain rule disagrees with differentiating f = {f} directly")
    exprs = [list(a), list(h), f, list(df_dh), list(df_da), df_dw.tolist(), list(df_dx), list(relu_grad)]
    return sp.lambdify([*_X_SYMBOLS, *_W_SYMBOLS], exprs, modules=[{}])


def _exact(value):
    """Integers as sympy Integers (anything else, say a float from exam.toml, as sympy has it)."""
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return sp.Integer(value) if isinstance(value, int) else sp.sympify(value)


def solve(params: dict) -> dict:
    """Exact forward pass and chain rule: sympy's symbolic derivation for the variant's pattern
    of live units, evaluated at its integers."""
    x, w = params["x"], params["w"]
    a = _preactivations(x, w)
    if any(v == 0 for v in a):
        raise ValueError(f"pre-activation a = {a} has a 0, where ReLU has no derivative")
    values = _derivation(tuple(v > 0 for v in a))(*x, *w[0], *w[1])
    a, h, f, df_dh, df_da, df_dw, df_dx, relu_grad = map(_exact, values)
    return {
        "answers": {"a": a, "h": h, "f": f, "df_dh": df_dh, "df_da": df_da, "df_dw": df_dw, "df_dx": df_dx},
        "work": {"relu_grad": relu_grad},
    }


def _forward(x, w) -> float:
    return max(0.0, w[0][0] * x[0] + w[1][0] * x[1]) + max(0.0, w[0][1] * x[0] + w[1][1] * x[1])


def _central(fn, v: list, eps: float) -> list:
    """Central differences of fn at v (floats, or rows of floats), one entry at a time."""
    rows = isinstance(v[0], list)
    flat = [e for row in v for e in row] if rows else list(v)
    shape = (lambda f: [f[r * len(v[0]):(r + 1) * len(v[0])] for r in range(len(v))]) if rows else (lambda f: f)
    grad = []
    for idx in range(len(flat)):
        up, down = list(flat), list(flat)
        up[idx] += eps
        down[idx] -= eps
        grad.append((fn(shape(up)) - fn(shape(down))) / (2 * eps))
    return shape(grad)


def check(params: dict, answers: dict) -> None:
    """Recompute in floating point; every derivative by central finite differences."""
    x = [float(v) for v in params["x"]]
    w = [[float(v) for v in row] for row in params["w"]]
    eps = 1e-6

    def close(name, got, want):
        got_f = np.array(got, dtype=float)
        # np.allclose(got_f, want, atol=1e-6) in plain Python, for 1 to 4 numbers.
        if got_f.shape != np.shape(want) or not all(
                abs(g - v) <= 1e-6 + 1e-5 * abs(v) for g, v in zip(got_f.ravel().tolist(), np.ravel(want).tolist())):
            raise CheckError(f"{FAMILY.name}: {name} = {got} but the numeric path gives {np.round(want, 6).tolist()}")

    a = [w[0][j] * x[0] + w[1][j] * x[1] for j in range(2)]
    h = [max(0.0, v) for v in a]
    close("a", answers["a"], a)
    close("h", answers["h"], h)
    close("f", answers["f"], _forward(x, w))
    close("df_dh", answers["df_dh"], _central(sum, h, eps))
    close("df_da", answers["df_da"], _central(lambda av: sum(max(0.0, v) for v in av), a, eps))
    close("df_dw", answers["df_dw"], _central(lambda wv: _forward(x, wv), w, eps))
    close("df_dx", answers["df_dx"], _central(lambda xv: _forward(xv, w), x, eps))
