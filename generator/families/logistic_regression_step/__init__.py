"""Logistic regression on a few labelled points: predictions, the mean binary cross-entropy,
its gradient, and one step of gradient descent.

Convention (stated in the question): point i has features x_i (one or two, the same for the
whole slot) and label y_i in {0, 1}; the model predicts p_i = sigma(z_i) with
z_i = w . x_i + b; the loss is the mean over the n points of
-[y_i ln p_i + (1 - y_i) ln(1 - p_i)] (natural log); one full-batch step
w <- w - eta dL/dw, b <- b - eta dL/db.

Fairness: the same number of points and features for every student of a slot (a constraint),
distinct points of both classes, no logit 0 (p = 1/2) and none saturated, at least one point
that the model misclassifies (so the step has something to correct), and every gradient
component large enough to keep two significant digits at four decimals.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from generator.family import (
    Answer, CheckError, Constraint, ConstraintError, Family, Part, as_float, mixed_radix, sample_until,
)

FAMILY = Family(
    name="logistic_regression_step",
    topic="Feed-forward networks and losses",
    title="Logistic regression: predictions, mean cross-entropy, gradient and one descent step",
    parts=(
        Part("a", 2, "the logit z_i and the prediction p_i = sigma(z_i) of every point"),
        Part("b", 2, "the mean binary cross-entropy L"),
        Part("c", 3, "the gradient dL/dw and dL/db"),
        Part("d", 1, "w and b after one gradient-descent step"),
    ),
    params={
        "x": "the points: one list of features [x_i1, (x_i2)] per point",
        "y": "the labels y_i (0 or 1), one per point",
        "w": "the weights [w_1, (w_2)], one per feature",
        "b": "the bias b",
        "lr": "the learning rate eta",
    },
    answers=(
        Answer("z", "a", "z{i}", "z_{i}"),
        Answer("p", "a", "p{i}", "p_{i}", decimals=4),
        Answer("loss", "b", "L", "L", decimals=4),
        Answer("dL_dw", "c", "dL/dw{i}", r"\partial L/\partial w_{i}", decimals=4),
        Answer("dL_db", "c", "dL/db", r"\partial L/\partial b", decimals=4),
        Answer("w_new", "d", "new w{i}", r"w_{i}^{\text{new}}", decimals=4),
        Answer("b_new", "d", "new b", r"b^{\text{new}}", decimals=4),
    ),
    constraints={
        "points": Constraint(4, "labelled points, the same for the whole slot", among=(3, 4)),
        "features": Constraint(2, "features per point, the same for the whole slot", among=(1, 2)),
        "feature_range": Constraint([-2, 2], "every feature value is an integer in this range"),
        "weight_range": Constraint([-2, 2], "every weight is a nonzero integer in this range"),
        "bias_range": Constraint([-2, 2], "the bias is a nonzero integer in this range"),
        "lr_choices": Constraint([0.1, 0.2, 0.5], "the learning rate eta is one of these", min=0.01),
        "max_logit": Constraint(3, "every |z_i| is at most this (no saturated prediction)", min=1),
        "min_gradient": Constraint(0.01, "every component of the gradient is at least this in size", min=0),
    },
    rules={
        "distinct points": "no two points have the same features",
        "both classes": "at least one point of each label",
        "no logit is 0": "z_i != 0: p_i = 1/2 would make a point trivial",
        "max_logit": "no prediction is saturated: |z_i| <= max_logit",
        "no gradient component cancels": "in no component of the gradient do the sigmoid terms cancel "
                                         "(sigma(z) + sigma(-z) = 1), which would leave a plain fraction like 1/4",
        "a point is misclassified": "the model puts at least one point on the wrong side of 1/2, so the step "
                                    "has something to correct",
        "min_gradient": "every gradient component is at least min_gradient in size (two significant digits "
                        "at 4 decimals)",
    },
)


# --- sampling: integers and floats, a few microseconds per draw ---------------------------------

def _values(name: str, lo: int, hi: int, nonzero: bool) -> list[int]:
    found = [t for t in range(lo, hi + 1) if t != 0 or not nonzero]
    if not found:
        raise ConstraintError(f"family {FAMILY.name}: constraint '{name}' = [{lo}, {hi}] leaves no "
                              f"{'nonzero ' if nonzero else ''}value", name)
    return found


def _logits(p: dict) -> list[int]:
    return [sum(wk * xk for wk, xk in zip(p["w"], xi)) + p["b"] for xi in p["x"]]


def _gradient(p: dict, z: list[int]) -> list[float]:
    """dL/dw_k and dL/db in floats, for the min_gradient rule."""
    n = len(z)
    r = [1 / (1 + math.exp(-t)) - yi for t, yi in zip(z, p["y"])]
    return [sum(ri * xi[k] for ri, xi in zip(r, p["x"])) / n for k in range(len(p["w"]))] + [sum(r) / n]


def _cancels(p: dict, z: list[int]) -> bool:
    """Is some gradient component rational? Each error p_i - y_i is +sigma(|z_i|) (z_i > 0) or
    -sigma(|z_i|) (z_i < 0) plus a whole number, and sigma(1), sigma(2), ... and 1 are linearly
    independent over the rationals, so a component (1/n) sum_i (p_i - y_i) x_ik is rational
    exactly when, for every |z|, the signed x_ik of the points with that |z| add up to 0."""
    columns = [[xi[k] for xi in p["x"]] for k in range(len(p["w"]))] + [[1] * len(z)]
    for column in columns:
        coefficient: dict[int, int] = {}
        for t, c in zip(z, column):
            coefficient[abs(t)] = coefficient.get(abs(t), 0) + (c if t > 0 else -c)
        if not any(coefficient.values()):
            return True
    return False


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    n, d = constraints["points"], constraints["features"]
    fs = _values("feature_range", *constraints["feature_range"], nonzero=False)
    ws = _values("weight_range", *constraints["weight_range"], nonzero=True)
    bs = _values("bias_range", *constraints["bias_range"], nonzero=True)
    rates = list(constraints["lr_choices"])
    top, min_gradient = constraints["max_logit"], constraints["min_gradient"]
    grid = len(fs) ** d                  # the possible points
    if grid < n:
        raise ConstraintError(f"family {FAMILY.name}: constraint 'distinct points' could not be met: "
                              f"feature_range gives only {grid} different points for {n}", "feature_range")
    # The points as ranks among those not drawn yet (so they are distinct by construction,
    # uniformly), then the labels, the weights, the bias and the learning rate.
    draw_indexes = mixed_radix([grid - i for i in range(n)] + [2] * n + [len(ws)] * d + [len(bs), len(rates)])

    def draw(r):
        k = draw_indexes(r)
        taken: list[int] = []
        for rank in k[:n]:
            point = rank
            for t in sorted(taken):          # the rank-th point not taken yet
                if t <= point:
                    point += 1
            taken.append(point)
        k = k[n:]
        coords = [[fs[(point // len(fs) ** j) % len(fs)] for j in range(d)] for point in taken]
        return {"x": coords, "y": k[:n], "w": [ws[t] for t in k[n:n + d]], "b": bs[k[n + d]],
                "lr": rates[k[n + d + 1]]}

    last: dict = {}

    def z(p):                      # the logits of a draw, shared by the rules below
        if last.get("params") is not p:          # holding p keeps its id from being reused
            last.update(params=p, z=_logits(p))
        return last["z"]

    return sample_until(rng, draw, [
        ("distinct points", lambda p: len({tuple(xi) for xi in p["x"]}) == n),
        ("both classes", lambda p: 0 < sum(p["y"]) < n),
        ("no logit is 0", lambda p: 0 not in z(p)),
        ("max_logit", lambda p: max(map(abs, z(p))) <= top),
        ("no gradient component cancels", lambda p: not _cancels(p, z(p))),
        ("a point is misclassified", lambda p: any((t > 0) != (yi == 1) for t, yi in zip(z(p), p["y"]))),
        ("min_gradient", lambda p: min(map(abs, _gradient(p, z(p)))) >= min_gradient),
    ], family=FAMILY.name)


# --- solving: exact sympy ----------------------------------------------------------------------

def _exact(value) -> sp.Rational:
    """An int, a float from exam.toml (0.1) or a decimal string ("0.1"), as the rational it reads as."""
    return sp.Rational(str(value))


def solve(params: dict) -> dict:
    x = [[sp.Integer(t) for t in xi] for xi in params["x"]]
    y = [sp.Integer(t) for t in params["y"]]
    w = [sp.Integer(t) for t in params["w"]]
    b, eta = sp.Integer(params["b"]), _exact(params["lr"])
    n, d = len(x), len(w)
    if len(y) != n or any(len(xi) != d for xi in x) or any(t not in (0, 1) for t in y):
        raise ValueError(f"{n} points of {d} features with labels 0 or 1 expected, not x = {params['x']}, "
                         f"y = {params['y']}")

    z = [sum((w[k] * x[i][k] for k in range(d)), sp.Integer(0)) + b for i in range(n)]
    p = [1 / (1 + sp.exp(-t)) for t in z]                    # sigma(z_i)
    one_minus_p = [1 / (1 + sp.exp(t)) for t in z]           # 1 - sigma(z) = sigma(-z), no cancellation
    # The loss of point i, -[y ln p + (1 - y) ln(1 - p)], is -ln p (y = 1) or -ln(1 - p) (y = 0);
    # -ln sigma(z) = ln(1 + e^(-z)) keeps each term one logarithm.
    terms = [sp.log(1 + sp.exp(-z[i])) if y[i] == 1 else sp.log(1 + sp.exp(z[i])) for i in range(n)]
    L = sum(terms, sp.Integer(0)) / n
    # dL/dz_i = (p_i - y_i) / n: the sigmoid's derivative p(1 - p) cancels the cross-entropy's.
    residual = [p[i] if y[i] == 0 else -one_minus_p[i] for i in range(n)]    # p_i - y_i
    products = [[residual[i] * x[i][k] for i in range(n)] for k in range(d)]
    dL_dw = [sum(products[k], sp.Integer(0)) / n for k in range(d)]
    dL_db = sum(residual, sp.Integer(0)) / n
    w_new = [w[k] - eta * dL_dw[k] for k in range(d)]
    b_new = b - eta * dL_db

    return {
        "answers": {"z": z, "p": p, "loss": L, "dL_dw": dL_dw, "dL_db": dL_db, "w_new": w_new, "b_new": b_new},
        "work": {"n": n, "d": d, "minus_z": [-t for t in z], "one_minus_p": one_minus_p, "terms": terms,
                 "term_sum": sum(terms, sp.Integer(0)), "residual": residual, "products": products,
                 "product_sums": [sum(row, sp.Integer(0)) for row in products],
                 "residual_sum": sum(residual, sp.Integer(0)), "eta": eta},
    }


# --- checking: a plain float loop, the gradient by central finite differences -------------------

def check(params: dict, answers: dict) -> None:
    """Recompute with plain floats: the predictions and the loss by a loop over the points in the
    textbook form, the gradient by central differences of that loss, the step from it."""
    X = [[float(t) for t in xi] for xi in params["x"]]
    Y = [float(t) for t in params["y"]]
    theta0 = np.array([*map(float, params["w"]), float(params["b"])])     # w_1 .. w_d, b
    eta = as_float(params["lr"])
    d = len(params["w"])

    def logits(th):
        return [sum(th[k] * xi[k] for k in range(d)) + th[d] for xi in X]

    def loss(th) -> float:
        total = 0.0
        for t, yi in zip(logits(th), Y):
            pi = 1.0 / (1.0 + math.exp(-t))
            total += -(yi * math.log(pi) + (1.0 - yi) * math.log(1.0 - pi))
        return total / len(X)

    grad = np.zeros_like(theta0)
    for k in range(theta0.size):
        eps = 1e-6
        up, down = theta0.copy(), theta0.copy()
        up[k] += eps
        down[k] -= eps
        grad[k] = (loss(up) - loss(down)) / (2 * eps)

    def close(name, got, want, tol=1e-6):
        have = np.array(got, dtype=float)
        want = np.array(want, dtype=float)
        if have.shape != want.shape or not np.allclose(have, want, rtol=tol, atol=tol):
            raise CheckError(f"{FAMILY.name}: {name} = {np.round(have, 6).tolist()} but the numeric path "
                             f"gives {np.round(want, 6).tolist()}")

    zs = logits(theta0)
    close("z", answers["z"], zs)
    close("p", answers["p"], [1.0 / (1.0 + math.exp(-t)) for t in zs])
    close("loss", answers["loss"], loss(theta0))
    close("dL_dw", answers["dL_dw"], grad[:d])
    close("dL_db", answers["dL_db"], grad[d])
    stepped = theta0 - eta * grad
    close("w_new", answers["w_new"], stepped[:d])
    close("b_new", answers["b_new"], stepped[d])
