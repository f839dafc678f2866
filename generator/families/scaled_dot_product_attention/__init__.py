"""Scaled dot-product attention for 2 or 3 tokens with d_k = d_v = 2, optionally causally masked.

Convention (stated in the question): row i of Q, K, V is the query, key, value of token i;
s_ij = q_i . k_j / sqrt(d_k); the softmax runs along each row, alpha_ij = e^{s_ij} / sum_l e^{s_il};
y_i = sum_j alpha_ij v_j. Under the causal mask token i attends to tokens j <= i only: a masked
score is -inf, its weight e^{-inf} = 0.

The number of tokens and the mask are fixed per slot (constraints `tokens`, `causal`), so every
student of a slot has the same answer columns. The scores and weights of masked pairs are no
answers (a score of -inf cannot be typed, a weight 0 is given by the rule): under the mask row i of
`scores` and `weights` lists j = 1..i only.

Fairness: no zero query or key (a zero query gives a uniform row), distinct queries (no row
worked twice), distinct scores within each row (no tie in the softmax), no two rows with the same
weights up to order (softmax ignores a shift: scores [2, 0, -1] and [3, 1, 0] give one row of
weights), dot products small
enough that e^{s} stays hand-sized, values with distinct rows and distinct columns, no zero value.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, sample_until

D_K = 2     # the width of queries and keys (and of values): fixed, the question states it

FAMILY = Family(
    name="scaled_dot_product_attention",
    topic="Attention and transformers",
    title="Scaled dot-product attention by hand: scores, softmax weights, outputs (optional causal mask)",
    parts=(
        Part("a", 2, "the scores s_ij = q_i . k_j / sqrt(d_k)"),
        Part("b", 3, "the attention weights: the row-wise softmax of the scores"),
        Part("c", 3, "the outputs y_i = sum_j alpha_ij v_j"),
    ),
    params={
        "q": "queries Q, one row [q_i1, q_i2] per token",
        "k": "keys K, one row per token",
        "v": "values V, one row per token",
        "causal": "whether the causal mask applies (token i attends to tokens j <= i)",
    },
    answers=(
        Answer("scores", "a", "s{i}{j}", "s_{{i}{j}}", decimals=4),
        Answer("weights", "b", "alpha{i}{j}", r"\alpha_{{i}{j}}", decimals=4),
        Answer("outputs", "c", "y{i}{j}", "y_{{i}{j}}", decimals=4),
    ),
    constraints={
        "tokens": Constraint(3, "tokens n (rows of Q, K and V), the same for every student of a slot", among=(2, 3)),
        "causal": Constraint(False, "apply the causal mask (the same for every student of a slot)"),
        "qk_range": Constraint([-2, 2], "entries of Q and K are integers in this range"),
        "v_range": Constraint([-3, 3], "entries of V are nonzero integers in this range"),
        "max_abs_dot": Constraint(4, "every unmasked dot product q_i . k_j is at most this in size", min=1),
    },
    rules={
        "no zero query or key": "no row of Q or K is (0, 0) (a zero query makes its row of weights uniform)",
        "queries differ": "the rows of Q are distinct, so no row of the softmax is worked twice",
        "scores in a row differ": "the unmasked scores of each row are distinct: no tie in the softmax",
        "dot products small": "|q_i . k_j| <= max_abs_dot for every unmasked pair",
        "softmax rows differ": "no two rows of scores are alike up to a shift and an order (their weights would be "
                               "the same numbers)",
        "values differ": "the rows of V are distinct and its two columns differ",
    },
)


def _allowed(n: int, causal: bool) -> list[list[int]]:
    """Per query i, the keys j it attends to (0-based)."""
    return [list(range(i + 1)) if causal else list(range(n)) for i in range(n)]


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    n, causal = constraints["tokens"], constraints["causal"]
    lo, hi = constraints["qk_range"]
    vlo, vhi = constraints["v_range"]
    top = constraints["max_abs_dot"]
    # Rows of Q and K are drawn from the nonzero pairs (what the rule "no zero query or key" keeps, when
    # the range has any), entries of V from the nonzero values: one rng call per draw.
    span = range(lo, hi + 1)
    rows_qk = np.array([(a, b) for a in span for b in span if (a, b) != (0, 0)] or [(0, 0)])
    vpool = np.array([v for v in range(vlo, vhi + 1) if v != 0] or [0])
    sizes = np.array([len(rows_qk)] * (2 * n) + [len(vpool)] * (n * D_K))
    pairs = _allowed(n, causal)
    last: list = [None, None]            # (params, dot products) of the latest draw, shared by its rules

    def draw(r):
        idx = r.integers(0, sizes)
        q, k = rows_qk[idx[:n]], rows_qk[idx[n:2 * n]]
        v = vpool[idx[2 * n:]].reshape(n, D_K)
        p = {"q": q.tolist(), "k": k.tolist(), "v": v.tolist(), "causal": causal}
        last[:] = [p, (q @ k.T).tolist()]
        return p

    def dots(p):
        if last[0] is p:
            return last[1]
        q, k = np.array(p["q"]), np.array(p["k"])
        return (q @ k.T).tolist()

    def pattern(row, keys):
        """A row's dot products sorted, less their least: rows alike in this have the same softmax
        weights, reordered (softmax ignores a shift), so one row's work would serve the other."""
        d = sorted(row[j] for j in keys)
        return tuple(x - d[0] for x in d)

    def rows(m):
        return [tuple(row) for row in m]

    return sample_until(rng, draw, [
        ("no zero query or key", lambda p: all(any(row) for row in p["q"] + p["k"])),
        ("queries differ", lambda p: len(set(rows(p["q"]))) == n),
        ("scores in a row differ",
         lambda p: all(len({dots(p)[i][j] for j in pairs[i]}) == len(pairs[i]) for i in range(n))),
        ("dot products small", lambda p: all(abs(dots(p)[i][j]) <= top for i in range(n) for j in pairs[i])),
        ("softmax rows differ", lambda p: len({pattern(dots(p)[i], pairs[i]) for i in range(n)}) == n),
        ("values differ", lambda p: len(set(rows(p["v"]))) == n and any(a != b for a, b in p["v"])),
    ], family=FAMILY.name)


def solve(params: dict) -> dict:
    """Exact in sympy: integer dot products, scores over sqrt(2), exponentials, softmax, then A V."""
    Q, K, V = (sp.Matrix(params[key]) for key in ("q", "k", "v"))
    n = Q.rows
    if Q.cols != D_K or K.shape != (n, D_K) or V.shape != (n, D_K):
        raise ValueError(f"Q, K and V must be {n} x {D_K}")
    pairs = _allowed(n, bool(params["causal"]))
    D = Q * K.T                                   # D[i, j] = q_i . k_j
    root = sp.sqrt(D_K)
    score_rows, exp_rows, weight_rows, sums, outputs = [], [], [], [], []
    for i in range(n):
        scores = {j: D[i, j] / root for j in pairs[i]}
        exps = {j: sp.exp(s) for j, s in scores.items()}
        total = sp.Add(*exps.values())
        weights = {j: e / total for j, e in exps.items()}
        score_rows.append([scores.get(j) for j in range(n)])        # None where masked
        exp_rows.append([exps.get(j) for j in range(n)])
        weight_rows.append([weights.get(j, sp.Integer(0)) for j in range(n)])
        sums.append(total)
        # One fraction (sum_j e^{s_ij} v_jc) / sum_j e^{s_ij}: equal to sum_j alpha_ij v_jc, and half
        # the cost to evaluate when the key prints it.
        outputs.append([sp.Add(*(exps[j] * V[j, c] for j in pairs[i])) / total for c in range(D_K)])
    answers = {
        "scores": [[score_rows[i][j] for j in pairs[i]] for i in range(n)],
        "weights": [[weight_rows[i][j] for j in pairs[i]] for i in range(n)],
        "outputs": outputs,
    }
    # What the key prints: the exact values above evaluated to 30 digits once (an exact integer stays
    # one), so that the key's roundings match answers.json without sympy's slow evalf for every print.
    work = {"n": n, "pairs": pairs, "dots": D.tolist(), "score_rows": _digits(score_rows),
            "exp_rows": _digits(exp_rows), "sums": _digits(sums), "weight_rows": _digits(weight_rows),
            "outputs": _digits(outputs)}
    return {"answers": answers, "work": work}


def _digits(value):
    """An exact value (or nested lists of them, None kept) to 30 significant digits; rationals unchanged.
    The sympy tree is walked with mpmath: sums, products, powers, exp."""
    if isinstance(value, list):
        return [_digits(v) for v in value]
    if value is None or value.is_Rational:
        return value
    with mpmath.workdps(30):
        return sp.Float(_mp(value), 30)


def _mp(e):
    if e.is_Rational:
        return mpmath.mpf(e.p) / e.q
    if isinstance(e, sp.Add):
        return mpmath.fsum(_mp(t) for t in e.args)
    if isinstance(e, sp.Mul):
        return mpmath.fprod(_mp(t) for t in e.args)
    if isinstance(e, sp.Pow):
        return _mp(e.base) ** _mp(e.exp)
    if isinstance(e, sp.exp):
        return mpmath.exp(_mp(e.args[0]))
    return mpmath.mpf(str(sp.N(e, 35)))          # anything else: sympy's own evaluation


def _float(value) -> float:
    """A float of an answer: sympy's tree walked with math's exp and sqrt (float() runs sympy's
    adaptive-precision evalf, ~100 times slower on these sums of exponentials)."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, sp.Number):
        return float(value)
    if isinstance(value, sp.Add):
        return math.fsum(_float(t) for t in value.args)
    if isinstance(value, sp.Mul):
        return math.prod(_float(t) for t in value.args)
    if isinstance(value, sp.Pow):
        return _float(value.base) ** _float(value.exp)
    if isinstance(value, sp.exp):
        return math.exp(_float(value.args[0]))
    return float(value)


def check(params: dict, answers: dict) -> None:
    """Another way: numpy floats, the mask as -inf added to the score matrix, a max-shifted softmax."""
    Q, K, V = (np.array(params[key], dtype=float) for key in ("q", "k", "v"))
    n = Q.shape[0]
    S = Q @ K.T / np.sqrt(K.shape[1])
    mask = np.triu(np.ones((n, n), dtype=bool), 1) if params["causal"] else np.zeros((n, n), dtype=bool)
    masked = np.where(mask, -np.inf, S)
    shifted = np.exp(masked - masked.max(axis=1, keepdims=True))      # exp(-inf) = 0
    A = shifted / shifted.sum(axis=1, keepdims=True)
    Y = A @ V
    keep = ~mask
    want = {"scores": [S[i][keep[i]] for i in range(n)], "weights": [A[i][keep[i]] for i in range(n)],
            "outputs": list(Y)}
    for key, rows in want.items():
        got = answers[key]
        if not isinstance(got, list) or len(got) != n or any(
                not isinstance(g, list) or len(g) != len(w) for g, w in zip(got, rows)):
            raise CheckError(f"{FAMILY.name}: {key} has the wrong shape for {n} tokens "
                             f"({'causal' if params['causal'] else 'no'} mask): {got}")
        for i, (g, w) in enumerate(zip(got, rows)):
            values = np.array([_float(x) for x in g])
            if not np.allclose(values, w, rtol=1e-8, atol=1e-8):
                raise CheckError(f"{FAMILY.name}: {key} row {i + 1} = {[str(x) for x in g]} but numpy gives "
                                 f"{np.round(w, 8).tolist()}")
    if not np.allclose(A.sum(axis=1), 1.0):
        raise CheckError(f"{FAMILY.name}: the numpy softmax rows do not sum to 1")
