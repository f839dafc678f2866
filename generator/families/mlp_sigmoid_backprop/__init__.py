"""A 2-2-1 network with biases and sigmoid hidden units: forward pass, loss, all nine
gradients by backpropagation, and one SGD step.

Convention (stated in the question): `w[i][j]` = w_{i+1, j+1} joins input x_{i+1} to hidden
unit j+1, `z_j = w_1j x_1 + w_2j x_2 + b_j`, `h_j = sigma(z_j)`, `o = v_1 h_1 + v_2 h_2 + c`,
and the output is `yhat = o` (linear) or `yhat = sigma(o)` (sigmoid); which one, and the loss
(`L = (yhat - y)^2 / 2`, or the binary cross-entropy with the natural log, which needs a
sigmoid output), are fixed per slot by constraints and copied into the params, so that the
question can state them. The step is `theta <- theta - eta dL/dtheta` for all nine parameters.

Fairness: hidden pre-activations nonzero, different and small (no saturated sigmoid), a
prediction clearly off its target, every gradient large enough to keep two significant
digits at four decimals, x1 != x2 and w12 != w21 (a swapped w_ij convention shows).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import sympy as sp
from sympy.core.evalf import dps_to_prec

from generator.family import (
    Answer, CheckError, Constraint, ConstraintError, Family, Part, as_float, mixed_radix, sample_until,
)

OUTPUTS = ("linear", "sigmoid")
LOSSES = ("squared", "cross_entropy")

FAMILY = Family(
    name="mlp_sigmoid_backprop",
    topic="Feed-forward networks and losses",
    title="Backpropagation and one SGD step in a 2-2-1 sigmoid network with biases",
    parts=(
        Part("a", 3, "forward pass: z1, z2, h1, h2, o, yhat, and the loss L"),
        Part("b", 3, "output layer: dL/do, dL/dv1, dL/dv2, dL/dc"),
        Part("c", 4, "hidden layer: dL/dz1, dL/dz2, dL/dw11..dL/dw22, dL/db1, dL/db2"),
        Part("d", 2, "all nine parameters after one SGD step"),
    ),
    params={
        "x": "input [x1, x2]",
        "w": "hidden weights [[w11, w12], [w21, w22]]; w_ij joins x_i to hidden unit j",
        "b": "hidden biases [b1, b2]",
        "v": "output weights [v1, v2]; v_j joins hidden unit j to the output",
        "c": "output bias c",
        "y": "the target y",
        "lr": "the learning rate eta of the SGD step",
        "output": "the output unit: linear (yhat = o) or sigmoid (yhat = sigma(o))",
        "loss": "the loss: squared (L = (yhat - y)^2 / 2) or cross_entropy (binary, natural log)",
    },
    answers=(
        Answer("z", "a", "z{i}", "z_{i}"),
        Answer("h", "a", "h{i}", "h_{i}", decimals=4),
        Answer("o", "a", "o", "o", decimals=4),
        Answer("yhat", "a", "yhat", r"\hat y", decimals=4),
        Answer("loss", "a", "L", "L", decimals=4),
        Answer("dL_do", "b", "dL/do", r"\partial L/\partial o", decimals=4),
        Answer("dL_dv", "b", "dL/dv{i}", r"\partial L/\partial v_{i}", decimals=4),
        Answer("dL_dc", "b", "dL/dc", r"\partial L/\partial c", decimals=4),
        Answer("dL_dz", "c", "dL/dz{i}", r"\partial L/\partial z_{i}", decimals=4),
        Answer("dL_dw", "c", "dL/dw{i}{j}", r"\partial L/\partial w_{{i}{j}}", decimals=4),
        Answer("dL_db", "c", "dL/db{i}", r"\partial L/\partial b_{i}", decimals=4),
        Answer("w_new", "d", "new w{i}{j}", r"w_{{i}{j}}^{\text{new}}", decimals=4),
        Answer("b_new", "d", "new b{i}", r"b_{i}^{\text{new}}", decimals=4),
        Answer("v_new", "d", "new v{i}", r"v_{i}^{\text{new}}", decimals=4),
        Answer("c_new", "d", "new c", r"c^{\text{new}}", decimals=4),
    ),
    constraints={
        "output": Constraint("linear", "the output unit, the same for the whole slot", among=OUTPUTS),
        "loss": Constraint("squared", "the loss, the same for the whole slot (cross_entropy needs output = sigmoid)",
                           among=LOSSES),
        "input_range": Constraint([-2, 2], "inputs x1, x2 are nonzero integers in this range"),
        "weight_range": Constraint([-2, 2], "weights w_ij and v_j are nonzero integers in this range"),
        "bias_range": Constraint([-2, 2], "biases b_j and c are nonzero integers in this range"),
        "target_range": Constraint([-3, 3], "the target y of a linear output is an integer in this range "
                                            "(a sigmoid output has y = 0 or 1)"),
        "lr_choices": Constraint([0.1, 0.2, 0.5], "the learning rate eta is one of these", min=0.01),
        "max_preactivation": Constraint(3, "|z1|, |z2| (and |o| for a sigmoid output) are at most this", min=1),
        "min_error": Constraint(0.2, "|yhat - y| is at least this", min=0),
        "min_gradient": Constraint(0.01, "every one of the nine gradients is at least this in size", min=0),
    },
    rules={
        "cross-entropy needs a sigmoid output": "loss = cross_entropy only with output = sigmoid (log of yhat)",
        "no hidden pre-activation is 0": "sigma(0) = 1/2 would make a hidden unit trivial",
        "hidden pre-activations differ in size": "|z1| != |z2|: two different hidden units, and h2 is not 1 - h1",
        "distinct_inputs": "x1 != x2, so dL/dw_1j and dL/dw_2j differ",
        "w12_differs_from_w21": "w12 != w21, so a student who swaps the w_ij convention is caught",
        "max_preactivation": "no sigmoid is saturated: |z_j| (and |o| for a sigmoid output) <= max_preactivation",
        "min_error": "the prediction is clearly off its target: |yhat - y| >= min_error",
        "min_gradient": "all nine gradients are at least min_gradient in size (two significant digits at 4 decimals)",
    },
)


# --- sampling: plain floats, a few microseconds per draw ---------------------------------------

def _sig(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


def _hidden(p: dict) -> list[int]:
    x, w, b = p["x"], p["w"], p["b"]
    return [w[0][j] * x[0] + w[1][j] * x[1] + b[j] for j in range(2)]


def _summary(p: dict) -> dict:
    """The output pre-activation, the error and the nine gradients of a draw, in floats."""
    x, v, c, y = p["x"], p["v"], p["c"], p["y"]
    h = [_sig(t) for t in _hidden(p)]
    o = v[0] * h[0] + v[1] * h[1] + c
    yhat = o if p["output"] == "linear" else _sig(o)
    if p["output"] == "linear" or p["loss"] == "cross_entropy":
        d_o = yhat - y
    else:
        d_o = (yhat - y) * yhat * (1 - yhat)
    d_z = [d_o * v[j] * h[j] * (1 - h[j]) for j in range(2)]
    grads = [d_o * h[0], d_o * h[1], d_o] + d_z + [d_z[j] * x[i] for i in range(2) for j in range(2)]
    return {"o": o, "error": yhat - y, "grads": grads}


def _values(name: str, lo: int, hi: int, nonzero: bool = True) -> list[int]:
    found = [t for t in range(lo, hi + 1) if t != 0 or not nonzero]
    if len(found) < 2:
        raise ConstraintError(f"family {FAMILY.name}: constraint '{name}' = [{lo}, {hi}] leaves "
                              f"{len(found)} {'nonzero ' if nonzero else ''}value(s); it needs at least 2", name)
    return found


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    output, loss = constraints["output"], constraints["loss"]
    if loss == "cross_entropy" and output != "sigmoid":
        raise ConstraintError(f"family {FAMILY.name}: constraint 'cross-entropy needs a sigmoid output' could not "
                              "be met: loss = cross_entropy takes log(yhat), so set output = \"sigmoid\"", "loss")
    xs = _values("input_range", *constraints["input_range"])
    ws = _values("weight_range", *constraints["weight_range"])
    bs = _values("bias_range", *constraints["bias_range"])
    ys = _values("target_range", *constraints["target_range"], nonzero=False) if output == "linear" else [0, 1]
    rates = list(constraints["lr_choices"])
    top = constraints["max_preactivation"]
    min_error, min_gradient = constraints["min_error"], constraints["min_gradient"]
    nx, nw, nb = len(xs), len(ws), len(bs)
    # x1, x2 (as an offset: x2 != x1), w11, w12, w21 (an offset: w21 != w12), w22, v1, v2, b1, b2,
    # c, y, lr. The offsets make distinct_inputs and w12_differs_from_w21 hold by construction,
    # uniformly over the allowed pairs.
    draw_indexes = mixed_radix([nx, nx - 1, nw, nw, nw - 1, nw, nw, nw, nb, nb, nb, len(ys), len(rates)])

    def draw(r):
        i1, di, k11, k12, dk, k22, kv1, kv2, kb1, kb2, kc, ky, kr = draw_indexes(r)
        w12 = ws[k12]
        return {"x": [xs[i1], xs[(i1 + 1 + di) % nx]],
                "w": [[ws[k11], w12], [ws[(k12 + 1 + dk) % nw], ws[k22]]],
                "b": [bs[kb1], bs[kb2]], "v": [ws[kv1], ws[kv2]], "c": bs[kc],
                "y": ys[ky], "lr": rates[kr], "output": output, "loss": loss}

    last: dict = {}

    def s(p):                      # one float pass per draw, shared by the rules below
        if last.get("params") is not p:          # holding p keeps its id from being reused
            last.update(params=p, summary=_summary(p))
        return last["summary"]

    def z(p):
        return _hidden(p)

    return sample_until(rng, draw, [
        ("distinct_inputs", lambda p: p["x"][0] != p["x"][1]),
        ("w12_differs_from_w21", lambda p: p["w"][0][1] != p["w"][1][0]),
        ("no hidden pre-activation is 0", lambda p: 0 not in z(p)),
        ("hidden pre-activations differ in size", lambda p: abs(z(p)[0]) != abs(z(p)[1])),
        ("max_preactivation", lambda p: max(map(abs, z(p))) <= top
         and (output == "linear" or abs(s(p)["o"]) <= top)),
        ("min_error", lambda p: abs(s(p)["error"]) >= min_error),
        ("min_gradient", lambda p: min(map(abs, s(p)["grads"])) >= min_gradient),
    ], family=FAMILY.name)


# --- solving: exact sympy, the chain rule written out factor by factor -------------------------

_DIGITS = 60                # every remembered number is worked out to this many digits


def _mp(e) -> mpmath.mpf:
    """The number of an exact expression built by solve(): rationals, +, *, integer powers, log
    and the remembered nodes below, in mpmath at _DIGITS digits (set by the caller)."""
    if isinstance(e, _Memo):
        return e.number()
    if e.is_Rational:
        return mpmath.mpf(e.p) / e.q
    if e.is_Add:
        return mpmath.fsum(_mp(t) for t in e.args)
    if e.is_Mul:
        return mpmath.fprod(_mp(t) for t in e.args)
    if e.is_Pow and e.exp.is_Integer:
        return _mp(e.base) ** int(e.exp)
    if isinstance(e, sp.log):
        return mpmath.log(_mp(e.args[0]))
    raise TypeError(f"no number for {e!r}")


class _Memo(sp.Function):
    """An exact value whose number is worked out once and then reused.

    Every answer here nests sigmoids (yhat = sigma(v1 sigma(z1) + v2 sigma(z2) + c)). sympy
    evaluates an expression node by node, again for every use: some 15 ms per gradient in the
    exp form (mpmath's pure-Python backend), and each answer is evaluated several times
    (answers.json, every printed step of the key, check). So each value the answers build on
    is a node that remembers its number; the expressions themselves stay exact (tests compare
    every answer with its `.rewrite(sp.exp)` form evaluated by sympy).
    """

    nargs = 1
    _numbers: dict = {}

    def _compute(self) -> mpmath.mpf:
        raise NotImplementedError

    def number(self) -> mpmath.mpf:
        hit = self._numbers.get(self)
        if hit is None:
            with mpmath.workdps(_DIGITS + 10):
                hit = self._compute()
            if len(self._numbers) > 200_000:
                self._numbers.clear()
            self._numbers[self] = hit
        return hit

    def _eval_evalf(self, prec):
        """Inside a larger expression (sympy's evalf recursion)."""
        return sp.Float._new(self.number()._mpf_, prec)

    def evalf(self, n=15, subs=None, maxn=100, chop=False, strict=False, quad=None, verbose=False):
        """float(v) and sp.N(v, n) of the value itself, straight from the remembered number
        (sympy's evalf would wrap even a ready Float in re() and im(), whose cache lookups
        cost more than the arithmetic)."""
        if subs is None and not chop and n <= _DIGITS:
            return sp.Float._new(self.number()._mpf_, dps_to_prec(n))
        return super().evalf(n, subs=subs, maxn=maxn, chop=chop, strict=strict, quad=quad, verbose=verbose)

    n = evalf

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real


class _Sigmoid(_Memo):
    """sigma(t) = 1 / (1 + e^(-t)), exactly (`.rewrite(sp.exp)` gives that form)."""

    def _compute(self):
        return 1 / (1 + mpmath.exp(-_mp(self.args[0])))

    def _eval_rewrite_as_exp(self, t, **kwargs):
        return 1 / (1 + sp.exp(-t.rewrite(sp.exp)))

    def fdiff(self, argindex=1):
        return self * _Sigmoid(-self.args[0])

    def _eval_is_positive(self):
        return True if self.args[0].is_extended_real else None

    def _latex(self, printer, exp=None):
        power = "" if exp is None else f"^{{{exp}}}"
        return rf"\sigma{power}\left({printer._print(self.args[0])}\right)"

    def _sympystr(self, printer):
        return f"sigma({printer._print(self.args[0])})"


class _Shared(_Memo):
    """A value several answers build on (o, dL/do, dL/dz_j), exactly its argument (`.doit()`)."""

    def _compute(self):
        return _mp(self.args[0])

    def doit(self, **hints):
        return self.args[0].doit(**hints)

    def _eval_rewrite_as_exp(self, e, **kwargs):
        return e.rewrite(sp.exp)

    def _eval_is_positive(self):
        return self.args[0].is_positive

    def _eval_is_negative(self):
        return self.args[0].is_negative

    def _latex(self, printer, exp=None):
        inner = printer._print(self.args[0])
        if exp is not None or not (self.args[0].is_Atom or isinstance(self.args[0], sp.Function)):
            inner = rf"\left({inner}\right)"
        return inner if exp is None else f"{inner}^{{{exp}}}"

    def _sympystr(self, printer):
        return f"({printer._print(self.args[0])})"


def _share(value):
    """`value` as a node that remembers its number (rational values stay as they are)."""
    value = sp.sympify(value)
    return value if value.is_Rational or isinstance(value, _Memo) else _Shared(value)


def _exact(value) -> sp.Rational:
    """An int, a float from exam.toml (0.1) or a decimal string ("0.1"), as the rational it reads as."""
    return sp.Rational(str(value))


def solve(params: dict) -> dict:
    output, loss = params["output"], params["loss"]
    if output not in OUTPUTS or loss not in LOSSES:
        raise ValueError(f"output {output!r} / loss {loss!r}: expected one of {OUTPUTS} / {LOSSES}")
    if loss == "cross_entropy" and output != "sigmoid":
        raise ValueError("the cross-entropy loss needs a sigmoid output (log of yhat)")
    x = [sp.Integer(t) for t in params["x"]]
    w = [[sp.Integer(t) for t in row] for row in params["w"]]
    b = [sp.Integer(t) for t in params["b"]]
    v = [sp.Integer(t) for t in params["v"]]
    c, y, eta = sp.Integer(params["c"]), sp.Integer(params["y"]), _exact(params["lr"])
    if output == "sigmoid" and y not in (0, 1):
        raise ValueError(f"a sigmoid output needs the target 0 or 1, not {y}")

    S = _share              # every value below is exact; S only makes it remember its number

    # Forward: z_j, h_j = sigma(z_j), o, yhat.
    z = [w[0][j] * x[0] + w[1][j] * x[1] + b[j] for j in range(2)]
    h = [_Sigmoid(t) for t in z]
    o = S(v[0] * h[0] + v[1] * h[1] + c)
    if output == "linear":
        yhat, one_minus_yhat, dyhat_do = o, S(1 - o), sp.Integer(1)
        error = S(o - y)
    else:
        yhat, one_minus_yhat = _Sigmoid(o), _Sigmoid(-o)          # 1 - sigma(o) = sigma(-o)
        dyhat_do = S(yhat * one_minus_yhat)
        error = yhat if y == 0 else S(-one_minus_yhat)            # yhat - y, without cancellation

    # The loss and dL/dyhat.
    if loss == "squared":
        L = S(error ** 2 / 2)
        dL_dyhat = error
    elif y == 1:
        L, dL_dyhat = S(-sp.log(yhat)), S(-1 / yhat)
    else:
        L, dL_dyhat = S(-sp.log(one_minus_yhat)), S(1 / one_minus_yhat)

    # Backward. For sigmoid + cross-entropy dL/dyhat * dyhat/do is exactly yhat - y.
    dL_do = error if loss == "cross_entropy" else S(dL_dyhat * dyhat_do)
    dL_dv = [S(dL_do * h[j]) for j in range(2)]
    dL_dc = dL_do
    dL_dh = [S(dL_do * v[j]) for j in range(2)]
    one_minus_h = [_Sigmoid(-t) for t in z]                        # 1 - sigma(z) = sigma(-z)
    dh_dz = [S(h[j] * one_minus_h[j]) for j in range(2)]
    dL_dz = [S(dL_dh[j] * dh_dz[j]) for j in range(2)]
    dL_dw = [[S(dL_dz[j] * x[i]) for j in range(2)] for i in range(2)]
    dL_db = list(dL_dz)

    # One SGD step.
    w_new = [[S(w[i][j] - eta * dL_dw[i][j]) for j in range(2)] for i in range(2)]
    b_new = [S(b[j] - eta * dL_db[j]) for j in range(2)]
    v_new = [S(v[j] - eta * dL_dv[j]) for j in range(2)]
    c_new = S(c - eta * dL_dc)

    answers = {"z": z, "h": h, "o": o, "yhat": yhat, "loss": L, "dL_do": dL_do, "dL_dv": dL_dv,
               "dL_dc": dL_dc, "dL_dz": dL_dz, "dL_dw": dL_dw, "dL_db": dL_db,
               "w_new": w_new, "b_new": b_new, "v_new": v_new, "c_new": c_new}
    work = {"linear": output == "linear", "cross_entropy": loss == "cross_entropy", "minus_z": [-t for t in z],
            "one_minus_yhat": one_minus_yhat, "one_minus_h": one_minus_h,
            "dL_dyhat": dL_dyhat, "dyhat_do": dyhat_do, "dL_dh": dL_dh, "dh_dz": dh_dz,
            "error": error, "eta": eta}
    return {"answers": answers, "work": work}


# --- checking: plain floats, every gradient by central finite differences -----------------------

def check(params: dict, answers: dict) -> None:
    """A plain-float network, written as loops; gradients of the loss by central differences
    with respect to every parameter (and to o and z_j), the step from those gradients."""
    sigmoid_out = params["output"] == "sigmoid"
    bce = params["loss"] == "cross_entropy"
    x = [float(t) for t in params["x"]]
    y = float(params["y"])
    eta = as_float(params["lr"])
    theta0 = np.array([*(float(t) for row in params["w"] for t in row), *map(float, params["b"]),
                       *map(float, params["v"]), float(params["c"])])   # w11 w12 w21 w22 b1 b2 v1 v2 c

    def head(o: float) -> float:
        """The loss from the output pre-activation o."""
        out = 1.0 / (1.0 + math.exp(-o)) if sigmoid_out else o
        if bce:
            return -(y * math.log(out) + (1.0 - y) * math.log(1.0 - out))
        return 0.5 * (out - y) ** 2

    def from_z(zs, th) -> float:
        """The loss from the hidden pre-activations."""
        o = th[8]
        for j in range(2):
            o += th[6 + j] / (1.0 + math.exp(-zs[j]))
        return head(o)

    def pre(th):
        return [th[j] * x[0] + th[2 + j] * x[1] + th[4 + j] for j in range(2)]

    def loss(th) -> float:
        return from_z(pre(th), th)

    def central(fn, at):
        at = np.array(at, dtype=float)
        out = np.zeros_like(at)
        for k in range(at.size):
            eps = 1e-6 * max(1.0, abs(at[k]))
            up, down = at.copy(), at.copy()
            up[k] += eps
            down[k] -= eps
            out[k] = (fn(up) - fn(down)) / (2 * eps)
        return out

    def close(name, got, want, tol=1e-6):
        have = np.array(got, dtype=float)
        want = np.array(want, dtype=float)
        if have.shape != want.shape or not np.allclose(have, want, rtol=tol, atol=tol):
            raise CheckError(f"{FAMILY.name}: {name} = {np.round(have, 6).tolist()} but the numeric path "
                             f"gives {np.round(want, 6).tolist()}")

    zs = pre(theta0)
    hs = [1.0 / (1.0 + math.exp(-t)) for t in zs]
    o = theta0[6] * hs[0] + theta0[7] * hs[1] + theta0[8]
    yhat = 1.0 / (1.0 + math.exp(-o)) if sigmoid_out else o
    close("z", answers["z"], zs)
    close("h", answers["h"], hs)
    close("o", answers["o"], o)
    close("yhat", answers["yhat"], yhat)
    close("loss", answers["loss"], loss(theta0))

    grad = central(loss, theta0)
    close("dL_do", answers["dL_do"], central(lambda t: head(t[0]), [o])[0])
    close("dL_dz", answers["dL_dz"], central(lambda t: from_z(t, theta0), zs))
    close("dL_dw", answers["dL_dw"], grad[:4].reshape(2, 2))
    close("dL_db", answers["dL_db"], grad[4:6])
    close("dL_dv", answers["dL_dv"], grad[6:8])
    close("dL_dc", answers["dL_dc"], grad[8])

    stepped = theta0 - eta * grad
    close("w_new", answers["w_new"], stepped[:4].reshape(2, 2))
    close("b_new", answers["b_new"], stepped[4:6])
    close("v_new", answers["v_new"], stepped[6:8])
    close("c_new", answers["c_new"], stepped[8])
