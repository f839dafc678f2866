"""Softmax and cross-entropy: probabilities, loss and its gradient for one example.

Convention (stated in the question): K classes with integer logits z_1..z_K (K fixed per slot
by the `classes` constraint), the true class c given as its 1-based index, one-hot target y,
p = softmax(z) with natural exponentials, L = -sum_k y_k ln p_k = -ln p_c, and the gradient
dL/dz_k = p_k - y_k. Every value is irrational (powers of e), so all answers are given to four
decimal places. Fairness: distinct logits (a tie gives two equal probabilities, less work), a
fixed spread between the largest and the smallest logit (no probability that rounds to 0, the
same size of numbers for every student), and optionally where the true class ranks.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, as_float, sample_until

FAMILY = Family(
    name="softmax_cross_entropy",
    topic="Feed-forward networks and losses",
    title="Softmax probabilities, cross-entropy loss and its gradient with respect to the logits",
    parts=(
        Part("a", 2, "the softmax probabilities p_k"),
        Part("b", 1, "the cross-entropy loss L"),
        Part("c", 2, "the gradient dL/dz_k for every class"),
    ),
    params={
        "logits": "the logits [z_1, ..., z_K] (integers)",
        "label": "the true class c, a 1-based index into the logits",
    },
    answers=(
        Answer("probs", "a", "p{i}", "p_{i}", decimals=4),
        Answer("loss", "b", "L", "L", decimals=4),
        Answer("grad", "c", "dL/dz{i}", r"\partial L/\partial z_{i}", decimals=4),
    ),
    constraints={
        "classes": Constraint(3, "number of classes K (the same for every student of a slot)", among=(3, 4)),
        "logit_range": Constraint([-3, 3], "logits are integers in this range"),
        "spread_range": Constraint([2, 5], "largest minus smallest logit lies in this range", min=1),
        "label_position": Constraint("any", "where the true class ranks: any, the largest logit (argmax), "
                                            "or not the largest (not_argmax)",
                                     among=("any", "argmax", "not_argmax")),
    },
    rules={
        "logits are distinct": "no two classes tie, so every probability is computed on its own",
        "spread_range": "max(z) - min(z) lies in spread_range (numbers of the same size, no p rounding to 0)",
        "label_position": "the true class ranks as label_position asks",
    },
)


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    k = constraints["classes"]
    lo, hi = constraints["logit_range"]
    slo, shi = constraints["spread_range"]
    position = constraints["label_position"]

    span = hi - lo + 1

    def draw(r):
        # One cheap rng call per draw (a hopeless constraint costs 20,000 draws): k logits, then the label.
        u = r.random(k + 1).tolist()
        return {"logits": [lo + int(v * span) for v in u[:k]], "label": 1 + int(u[k] * k)}

    def ranks_right(p):
        top = p["logits"][p["label"] - 1] == max(p["logits"])
        return position == "any" or top == (position == "argmax")

    return sample_until(rng, draw, [
        ("logits are distinct", lambda p: len(set(p["logits"])) == k),
        ("spread_range", lambda p: slo <= max(p["logits"]) - min(p["logits"]) <= shi),
        ("label_position", ranks_right),
    ], family=FAMILY.name)


def solve(params: dict) -> dict:
    """Exact in sympy: powers of e, their sum, the ratios; L = ln S - z_c; p - y."""
    z = [sp.Integer(v) for v in params["logits"]]
    c = int(params["label"]) - 1
    if not 0 <= c < len(z):
        raise ValueError(f"label {params['label']} is not a class of {len(z)} logits")
    exps = [sp.exp(v) for v in z]
    total = sp.Add(*exps)
    probs = [e / total for e in exps]
    onehot = [sp.Integer(int(i == c)) for i in range(len(z))]
    loss = sp.log(total) - z[c]                 # = -ln p_c, in log-sum-exp form
    grad = [p - y for p, y in zip(probs, onehot)]
    # What a student gets from the 4-decimal p_c instead (the key mentions it, for the TA).
    rounded_pc = sp.Rational(str(sp.N(probs[c], 30).round(4)))
    return {
        "answers": {"probs": probs, "loss": loss, "grad": grad},
        "work": {"exps": exps, "total": total, "onehot": onehot, "true_logit": z[c],
                 "true_prob": probs[c], "loss_from_rounded": -sp.log(rounded_pc), "log_total": sp.log(total), "classes": len(z)},
    }


def _loss(z: np.ndarray, c: int) -> float:
    """Cross-entropy in plain floats, another way: -log of a max-shifted softmax probability."""
    shift = float(np.max(z))
    weights = [math.exp(float(v) - shift) for v in z]
    return -math.log(weights[c] / math.fsum(weights))


def check(params: dict, answers: dict) -> None:
    """Floats: a max-shifted softmax, -log p_c, and the gradient by central finite differences."""
    z = np.array(params["logits"], dtype=float)
    c = int(params["label"]) - 1
    k = len(z)
    shifted = np.exp(z - z.max())
    probs = shifted / shifted.sum()
    eps = 1e-6
    grad = np.zeros(k)
    for i in range(k):
        up, down = z.copy(), z.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (_loss(up, c) - _loss(down, c)) / (2 * eps)

    def close(name, got, want):
        try:
            have = np.array([as_float(v) for v in got]) if isinstance(got, (list, tuple)) else np.array(as_float(got))
        except (TypeError, ValueError):
            raise CheckError(f"{FAMILY.name}: {name} = {got!r} is not a number") from None
        if have.shape != np.shape(want) or not np.allclose(have, want, rtol=1e-6, atol=1e-6):
            raise CheckError(f"{FAMILY.name}: {name} = {np.round(have, 6).tolist()} but the numeric path "
                             f"gives {np.round(want, 6).tolist()}")

    close("probs", answers["probs"], probs)
    close("loss", answers["loss"], _loss(z, c))
    close("grad", answers["grad"], grad)
