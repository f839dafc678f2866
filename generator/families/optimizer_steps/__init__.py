"""A few steps of SGD with momentum, RMSProp or Adam on a separable quadratic loss.

The loss is L(w) = sum_j a_j (w_j - c_j)^2 in one or two parameters, minimised from a given
start with the exact (full-batch) gradient. Which optimizer, how many steps and how many
parameters are fixed per slot by constraints, so every student of a slot fills the same table.
The update rules are PyTorch's, stated in the question:

    momentum   b_t = mu b_{t-1} + g_t,                        w_t = w_{t-1} - lr b_t
    RMSProp    v_t = alpha v_{t-1} + (1 - alpha) g_t^2,       w_t = w_{t-1} - lr g_t / (sqrt(v_t) + eps)
    Adam       m_t = beta1 m_{t-1} + (1 - beta1) g_t,  v_t = beta2 v_{t-1} + (1 - beta2) g_t^2,
               mhat_t = m_t / (1 - beta1^t),  vhat_t = v_t / (1 - beta2^t),
               w_t = w_{t-1} - lr mhat_t / (sqrt(vhat_t) + eps)

with zero initial state and eps outside the square root (Kingma & Ba, Algorithm 1; torch.optim).

Exactness. Momentum with decimal hyperparameters stays rational (Fractions). RMSProp and Adam
take square roots; every coordinate evolves on its own (the loss is separable and the updates
elementwise), so each coordinate's values lie in a small tower of quadratic extensions
Q(s_1)(s_2)..., s_k = sqrt(d_k). `_Tower` does that arithmetic exactly (p + q s_k with p, q one
level down; inverses by the conjugate), which costs a few milliseconds where plain sympy
arithmetic on nested radicals costs a tenth of a second per variant; `_Tower.sympy` then gives
the exact sympy value (nested sp.sqrt), evaluated only when printed.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import isqrt

import mpmath
import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, sample_until

OPTIMIZERS = ("momentum", "rmsprop", "adam")
HYPER = {                                   # the keys of params["hyper"], per optimizer
    "momentum": ("lr", "mu"),
    "rmsprop": ("lr", "alpha", "eps_exponent"),
    "adam": ("lr", "beta1", "beta2", "eps_exponent"),
}
# The state each optimizer keeps; every other state answer is an empty list for it.
STATE = {"momentum": ("velocity",), "rmsprop": ("v",), "adam": ("m", "v", "m_hat", "v_hat")}
_STATE_ANSWERS = ("velocity", "m", "v", "m_hat", "v_hat")

FAMILY = Family(
    name="optimizer_steps",
    topic="Optimisation",
    title="Steps of SGD with momentum, RMSProp or Adam on a quadratic loss",
    parts=(Part("", 6, "T steps of the optimizer: the gradient, the optimizer's state (with Adam's bias "
                       "corrections) and the parameters after each step"),),
    params={
        "optimizer": "momentum (SGD with momentum), rmsprop or adam; the same for the whole slot",
        "steps": "the number of steps T",
        "a": "curvatures [a_1, ...] of L(w) = sum_j a_j (w_j - c_j)^2",
        "c": "the minimiser [c_1, ...] of L",
        "w0": "the start [w_1^(0), ...]",
        "hyper": "hyperparameters: {lr, mu} for momentum, {lr, alpha, eps_exponent} for rmsprop, "
                 "{lr, beta1, beta2, eps_exponent} for adam; eps = 10^eps_exponent",
    },
    # Every answer is a list over the steps t of lists over the coordinates j ({i} = t, {j} = j).
    answers=(
        Answer("grad", "", "step {i} g{j}", r"g_{{j}}^{({i})}", decimals=4),
        Answer("velocity", "", "step {i} b{j}", r"b_{{j}}^{({i})}", decimals=4),
        Answer("m", "", "step {i} m{j}", r"m_{{j}}^{({i})}", decimals=4),
        Answer("v", "", "step {i} v{j}", r"v_{{j}}^{({i})}", decimals=6),
        Answer("m_hat", "", "step {i} mhat{j}", r"\hat m_{{j}}^{({i})}", decimals=4),
        Answer("v_hat", "", "step {i} vhat{j}", r"\hat v_{{j}}^{({i})}", decimals=4),
        Answer("w", "", "step {i} w{j}", r"w_{{j}}^{({i})}", decimals=4),
    ),
    constraints={
        "optimizer": Constraint("adam", "the optimizer every student of the slot runs", among=OPTIMIZERS),
        "steps": Constraint(2, "steps T every student of the slot carries out", among=(2, 3)),
        "dims": Constraint(2, "parameters of the loss: 1 (w_1) or 2 (w_1, w_2)", among=(1, 2)),
        "curvature_range": Constraint([1, 3], "the curvatures a_j are integers in this range", min=1),
        "center_range": Constraint([-3, 3], "the minimiser's coordinates c_j are integers in this range"),
        "start_range": Constraint([-3, 3], "the start's coordinates w_j^(0) are integers in this range"),
        "lr_choices": Constraint([0.1, 0.2], "learning rates to draw from", min=0.0001),
        "mu_choices": Constraint([0.9], "momentum coefficients mu (momentum)", min=0),
        "alpha_choices": Constraint([0.9], "smoothing constants alpha (rmsprop)", min=0),
        "beta1_choices": Constraint([0.9], "first-moment decay rates beta1 (adam)", min=0),
        "beta2_choices": Constraint([0.999], "second-moment decay rates beta2 (adam)", min=0),
        "eps_exponent": Constraint(-8, "eps = 10^eps_exponent (rmsprop, adam; 1e-8 as in the paper and PyTorch)",
                                   among=(-4, -5, -6, -7, -8, -9, -10)),
        "abs_gradient_range": Constraint([0.5, 24], "every gradient entry |g_j^(t)| lies in this range", min=0),
    },
    rules={
        "start is not the minimum": "w_j^(0) != c_j for every j: a zero gradient would freeze a coordinate",
        "different curvatures": "a_1 != a_2 (two parameters), so one coordinate never repeats the other's work",
        "decay rates below 1": "mu, alpha, beta1, beta2 < 1 (else the state never forgets and the bias correction divides by 0)",
        "abs_gradient_range": "every |g_j^(t)| is in abs_gradient_range: no near-zero gradient "
                              "(meaningless decimals) and no huge one",
        "exact to four decimals": "momentum only: every value is an exact decimal with at most four places, "
                                  "as the question promises",
    },
)


def _exact(x) -> Fraction:
    """A parameter as the exact number it displays: 0.1 -> 1/10 (via its shortest repr)."""
    return Fraction(str(x))


@lru_cache(maxsize=1024)
def _ratio(x) -> tuple[int, int]:
    return _exact(x).as_integer_ratio()


def _pick(rng: np.random.Generator, choices: list):
    return choices[int(rng.integers(len(choices)))]


# --- sampling -----------------------------------------------------------------------------------

def _draft_trajectory(p: dict) -> dict:
    """The gradients of every step (and, for momentum, whether every value is an exact decimal
    with at most four places) for the sampler's rules.

    Momentum in integers counting units of 10^-40 (decimal hyperparameters keep it exact; a
    remainder means more than 40 places); RMSProp and Adam in floats, which is all a threshold
    on |g| needs. This is the sampler's own quick loop, not solve's nor check's.
    """
    h, opt, grads = p["hyper"], p["optimizer"], []
    if opt == "momentum":
        unit = 10 ** 40
        (lr_n, lr_d), (mu_n, mu_d) = _ratio(h["lr"]), _ratio(h["mu"])
        four = exact = True
        for a, c, w in zip(p["a"], p["c"], p["w0"]):
            w, b, c = w * unit, 0, c * unit
            for _ in range(p["steps"]):
                g = 2 * a * (w - c)
                b, r1 = divmod(mu_n * b, mu_d)
                b += g
                step, r2 = divmod(lr_n * b, lr_d)
                w -= step
                exact = exact and r1 == 0 and r2 == 0
                four = four and all(x % 10 ** 36 == 0 for x in (g, b, w))
                grads.append(g / unit)
        return {"grads": grads, "four_places": exact and four}
    eps, lr = 10.0 ** h["eps_exponent"], float(h["lr"])
    for a, c, w in zip(p["a"], p["c"], p["w0"]):
        w, m, v = float(w), 0.0, 0.0
        for t in range(1, p["steps"] + 1):
            g = 2 * a * (w - c)
            grads.append(g)
            if opt == "rmsprop":
                alpha = float(h["alpha"])
                v = alpha * v + (1 - alpha) * g * g
                w -= lr * g / (v ** 0.5 + eps)
            else:
                b1, b2 = float(h["beta1"]), float(h["beta2"])
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * g * g
                w -= lr * (m / (1 - b1 ** t)) / ((v / (1 - b2 ** t)) ** 0.5 + eps)
    return {"grads": grads}


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    opt, steps, dims = constraints["optimizer"], constraints["steps"], constraints["dims"]
    alo, ahi = constraints["curvature_range"]
    clo, chi = constraints["center_range"]
    slo, shi = constraints["start_range"]
    glo, ghi = constraints["abs_gradient_range"]
    choices = {"lr": constraints["lr_choices"], "mu": constraints["mu_choices"],
               "alpha": constraints["alpha_choices"], "beta1": constraints["beta1_choices"],
               "beta2": constraints["beta2_choices"]}

    low, high = np.array([alo, clo, slo]), np.array([ahi, chi, shi]) + 1

    def draw(r):
        hyper = {k: (_pick(r, choices[k]) if k != "eps_exponent" else constraints["eps_exponent"])
                 for k in HYPER[opt]}
        a, c, w0 = r.integers(low, high, size=(dims, 3)).T.tolist()     # one call: 20,000 draws stay cheap
        return {"optimizer": opt, "steps": steps, "a": a, "c": c, "w0": w0, "hyper": hyper}

    memo: dict = {}

    def trajectory(p):
        if memo.get("p") is not p:          # holding p keeps its id from being reused
            memo["p"], memo["t"] = p, _draft_trajectory(p)
        return memo["t"]

    decays = [k for k in ("mu", "alpha", "beta1", "beta2") if k in HYPER[opt]]
    rules = [
        ("start is not the minimum", lambda p: all(w != c for w, c in zip(p["w0"], p["c"]))),
        ("different curvatures", lambda p: len(set(p["a"])) == len(p["a"])),
        ("decay rates below 1", lambda p: all(_exact(p["hyper"][k]) < 1 for k in decays)),
        ("abs_gradient_range", lambda p: all(glo <= abs(g) <= ghi for g in trajectory(p)["grads"])),
    ]
    if opt == "momentum":
        rules.append(("exact to four decimals",
                      lambda p: trajectory(p)["four_places"]))
    return sample_until(rng, draw, rules, family=FAMILY.name)


# --- solving: exact --------------------------------------------------------------------------------

class _Tower:
    """Exact arithmetic in Q(s_1)(s_2)...(s_n), s_k = +sqrt(d_k), d_k > 0 in the field below.

    An element is a Fraction (level 0) or a triple (k, p, q) = p + q s_k with p, q elements of
    level below k and q != 0. sqrt() of a rational takes out square factors (sqrt(18/5) =
    3 sqrt(10)/5) and stays rational for a perfect square; any other sqrt adjoins a new s.
    Inverses use the conjugate: (p + q s)^-1 = (p - q s) / (p^2 - q^2 d).
    """

    def __init__(self):
        self.radicands: list = []           # d_k for k = 1, 2, ...: an element of level < k
        self._roots: dict[int, sp.Expr] = {}

    @staticmethod
    def level(x) -> int:
        return x[0] if isinstance(x, tuple) else 0

    @staticmethod
    def _make(k, p, q):
        return p if q == 0 else (k, p, q)   # q is 0 only as a Fraction: a triple is never 0

    def add(self, x, y):
        kx, ky = self.level(x), self.level(y)
        if kx == ky == 0:
            return x + y
        if kx == ky:
            return self._make(kx, self.add(x[1], y[1]), self.add(x[2], y[2]))
        if kx > ky:
            return (kx, self.add(x[1], y), x[2])
        return (ky, self.add(x, y[1]), y[2])

    def neg(self, x):
        return (x[0], self.neg(x[1]), self.neg(x[2])) if isinstance(x, tuple) else -x

    def sub(self, x, y):
        return self.add(x, self.neg(y))

    def mul(self, x, y):
        kx, ky = self.level(x), self.level(y)
        if kx == ky == 0:
            return x * y
        if kx > ky:
            return self._make(kx, self.mul(x[1], y), self.mul(x[2], y))
        if ky > kx:
            return self._make(ky, self.mul(x, y[1]), self.mul(x, y[2]))
        _, p, q = x
        _, r, s = y
        d = self.radicands[kx - 1]
        return self._make(kx, self.add(self.mul(p, r), self.mul(self.mul(q, s), d)),
                          self.add(self.mul(p, s), self.mul(q, r)))

    def inv(self, x):
        if not isinstance(x, tuple):
            if x == 0:
                raise ZeroDivisionError("division by an exact 0")
            return 1 / x
        k, p, q = x
        norm = self.sub(self.mul(p, p), self.mul(self.mul(q, q), self.radicands[k - 1]))
        n_inv = self.inv(norm)
        return self._make(k, self.mul(p, n_inv), self.neg(self.mul(q, n_inv)))

    def div(self, x, y):
        return self.mul(x, self.inv(y))

    def sqrt(self, x):
        if isinstance(x, tuple):
            self.radicands.append(x)
            return (len(self.radicands), Fraction(0), Fraction(1))
        if x <= 0:
            raise ValueError(f"sqrt of {x}, which is not positive")
        whole, rest = _square_part(x.numerator * x.denominator)     # sqrt(n/m) = sqrt(n m) / m
        coeff = Fraction(whole, x.denominator)
        if rest == 1:
            return coeff
        rest = Fraction(rest)
        for k, d in enumerate(self.radicands, start=1):
            if d == rest:                                           # the same rational radicand again
                return (k, Fraction(0), coeff)
        self.radicands.append(rest)
        return (len(self.radicands), Fraction(0), coeff)

    def sympy(self, x) -> sp.Expr:
        """The exact sympy value, built unevaluated: sympy's automatic simplification of nested
        radicals with these long rationals is what is slow. sp.N evaluates it to any precision."""
        if not isinstance(x, tuple):
            return sp.Rational(x.numerator, x.denominator)
        k, p, q = x
        if k not in self._roots:
            self._roots[k] = sp.Pow(self.sympy(self.radicands[k - 1]), sp.S.Half, evaluate=False)
        term = self._roots[k] if q == 1 else sp.Mul(self.sympy(q), self._roots[k], evaluate=False)
        return term if p == 0 else sp.Add(self.sympy(p), term, evaluate=False)

    def numeric(self, x, bits: int) -> mpmath.mpf:
        """The value with `bits` bits of working precision (the radicals' roots memoised)."""
        with mpmath.workprec(bits):
            roots: dict[int, mpmath.mpf] = {}

            def value(y):
                if not isinstance(y, tuple):
                    return mpmath.mpf(y.numerator) / y.denominator
                k, p, q = y
                if k not in roots:
                    roots[k] = mpmath.sqrt(value(self.radicands[k - 1]))
                return value(p) + value(q) * roots[k]

            return value(x)

    def shown(self, x) -> sp.Expr:
        """What the key prints: a rational exactly; anything else as a 30-digit Float, taken
        from two evaluations that must agree far beyond the digits any rounding looks at."""
        if not isinstance(x, tuple):
            return sp.Rational(x.numerator, x.denominator)
        lo, hi = self.numeric(x, 256), self.numeric(x, 512)
        if abs(lo - hi) > mpmath.mpf(10) ** -40 * max(1, abs(hi)):
            raise ArithmeticError(f"the value {mpmath.nstr(hi, 20)} is not stable in 256-bit arithmetic")
        return sp.Float(mpmath.nstr(hi, 34, strip_zeros=False), 34)


def _square_part(n: int) -> tuple[int, int]:
    """n = whole^2 * rest with the square factors of primes below 1000 (and a square rest) taken out."""
    root = isqrt(n)
    if root * root == n:
        return root, 1
    whole, f = 1, 2
    while f < 1000 and f * f <= n:
        while n % (f * f) == 0:
            n //= f * f
            whole *= f
        f += 1 if f == 2 else 2
    root = isqrt(n)
    return (whole * root, 1) if root * root == n else (whole, n)


def _hyper(params: dict) -> dict:
    opt = params["optimizer"]
    if opt not in OPTIMIZERS:
        raise ValueError(f"optimizer {opt!r} is not one of {', '.join(OPTIMIZERS)}")
    if set(params["hyper"]) != set(HYPER[opt]):
        raise ValueError(f"{opt} takes the hyperparameters {', '.join(HYPER[opt])}, not {sorted(params['hyper'])}")
    h = {k: _exact(v) for k, v in params["hyper"].items() if k != "eps_exponent"}
    if "eps_exponent" in params["hyper"]:
        h["eps"] = Fraction(10) ** int(params["hyper"]["eps_exponent"])
    return h


_W = sp.Symbol("w")


@lru_cache(maxsize=256)
def _gradient_line(a: int, c: int) -> tuple[Fraction, Fraction]:
    """d/dw of a (w - c)^2 by sympy, as (slope, intercept): dL/dw_j = slope w_j + intercept."""
    dl = sp.expand(sp.diff(sp.Integer(a) * (_W - sp.Integer(c)) ** 2, _W))
    return Fraction(int(dl.coeff(_W, 1))), Fraction(int(dl.coeff(_W, 0)))


def solve(params: dict) -> dict:
    """Every coordinate on its own (the loss is separable, the updates elementwise), exactly.

    answers: exact sympy values; work: the same values as the key prints them (rationals
    exactly, the rest as 34-digit Floats), so that printing never re-evaluates nested radicals.
    """
    opt, steps = params["optimizer"], int(params["steps"])
    h = _hyper(params)
    dims = len(params["a"])
    lines = [_gradient_line(int(a), int(c)) for a, c in zip(params["a"], params["c"])]

    exact = [[None] * dims for _ in range(steps)]     # exact[t - 1][j]: the step's values, sympy
    shown = [[None] * dims for _ in range(steps)]     # the same, as printed
    for j in range(dims):
        tw = _Tower()
        slope, intercept = lines[j]
        w, b, m, v = Fraction(params["w0"][j]), Fraction(0), Fraction(0), Fraction(0)
        for t in range(1, steps + 1):
            g = tw.add(tw.mul(slope, w), intercept)
            rec = {"w_prev": w, "g": g, "b_prev": b, "m_prev": m, "v_prev": v}
            if opt == "momentum":
                b = tw.add(tw.mul(h["mu"], b), g)
                rec["b"] = b
                step = tw.mul(h["lr"], b)
            elif opt == "rmsprop":
                v = tw.add(tw.mul(h["alpha"], v), tw.mul(1 - h["alpha"], tw.mul(g, g)))
                root = tw.sqrt(v)
                rec.update(v=v, root=root)
                step = tw.div(tw.mul(h["lr"], g), tw.add(root, h["eps"]))
            else:
                m = tw.add(tw.mul(h["beta1"], m), tw.mul(1 - h["beta1"], g))
                v = tw.add(tw.mul(h["beta2"], v), tw.mul(1 - h["beta2"], tw.mul(g, g)))
                m_hat = tw.mul(m, 1 / (1 - h["beta1"] ** t))
                v_hat = tw.mul(v, 1 / (1 - h["beta2"] ** t))
                root = tw.sqrt(v_hat)
                rec.update(m=m, v=v, m_hat=m_hat, v_hat=v_hat, root=root)
                step = tw.div(tw.mul(h["lr"], m_hat), tw.add(root, h["eps"]))
            w = tw.sub(w, step)
            rec.update(step=step, w=w)
            exact[t - 1][j] = {k: tw.sympy(rec[k]) for k in ("g", "b", "m", "v", "m_hat", "v_hat", "w") if k in rec}
            shown[t - 1][j] = {k: tw.shown(x) for k, x in rec.items()}

    def table(key):
        return [[exact[t][j][key] for j in range(dims)] for t in range(steps)]

    name_of = {"velocity": "b", "m": "m", "v": "v", "m_hat": "m_hat", "v_hat": "v_hat"}
    answers = {"grad": table("g"), "w": table("w")}
    for key in _STATE_ANSWERS:
        answers[key] = table(name_of[key]) if key in STATE[opt] else []
    rows = [key for key in ("grad", *_STATE_ANSWERS, "w") if key in ("grad", "w") or key in STATE[opt]]
    rational = {k: sp.Rational(x.numerator, x.denominator) for k, x in h.items()}
    work = {
        "steps": [{"t": t + 1, "coords": shown[t]} for t in range(steps)],
        "slope": [sp.Rational(int(s)) for s, _ in lines],
        "hyper": rational,
        # 1 - beta^t, the bias-correction denominators of every step (Adam)
        "corrections": [{"c1": 1 - rational["beta1"] ** t, "c2": 1 - rational["beta2"] ** t}
                        for t in range(1, steps + 1)] if opt == "adam" else [],
        "rows": rows,
        # the table as printed: rows[r] -> [t][j]
        "table": {key: [[shown[t][j][name_of.get(key, "g" if key == "grad" else key)] for j in range(dims)]
                        for t in range(steps)] for key in rows},
    }
    return {"answers": answers, "work": work}


# --- checking: floats, another way ------------------------------------------------------------------

def _loss(w: np.ndarray, a: np.ndarray, c: np.ndarray) -> float:
    return float(np.sum(a * (w - c) ** 2))


def _numeric_gradient(w: np.ndarray, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Central differences of the loss, coordinate by coordinate (exact up to rounding for a quadratic)."""
    grad = np.zeros_like(w)
    for j in range(w.size):
        e = np.zeros_like(w)
        e[j] = 1e-3
        grad[j] = (_loss(w + e, a, c) - _loss(w - e, a, c)) / 2e-3
    return grad


def _as_float(x) -> float:
    """An answer as a float: walks the sympy tree with mpmath (float(x) on these nested radicals
    with long rationals costs sympy's evalf ~20 ms a value); answers.json strings and plain numbers too."""
    if isinstance(x, str):
        return float(Fraction(x))
    if isinstance(x, (int, float, Fraction)):
        return float(x)
    with mpmath.workprec(200):
        def value(e):
            if e.is_Rational:
                return mpmath.mpf(int(e.p)) / int(e.q)
            if e.is_Add:
                return mpmath.fsum(value(arg) for arg in e.args)
            if e.is_Mul:
                return mpmath.fprod(value(arg) for arg in e.args)
            if e.is_Pow and e.exp.is_Rational:
                base = value(e.base)
                if e.exp == sp.S.Half:
                    return mpmath.sqrt(base)
                if e.exp.q == 1:
                    return base ** int(e.exp.p)
                return mpmath.power(base, mpmath.mpf(int(e.exp.p)) / int(e.exp.q))
            return mpmath.mpf(sp.N(e, 40))
        return float(value(sp.sympify(x)))


def check(params: dict, answers: dict) -> None:
    """A plain float loop, shaped like torch.optim's step() with its state dict, on gradients
    taken by central differences of the loss; every answer compared within 1e-6."""
    opt, steps = params["optimizer"], int(params["steps"])
    hp = {k: float(v) for k, v in params["hyper"].items()}
    a, c = np.array(params["a"], dtype=float), np.array(params["c"], dtype=float)
    w = np.array(params["w0"], dtype=float)
    eps = 10.0 ** hp["eps_exponent"] if "eps_exponent" in hp else 0.0
    state = {"step": 0, "buf": np.zeros_like(w), "exp_avg": np.zeros_like(w), "exp_avg_sq": np.zeros_like(w)}
    want = {k: [] for k in ("grad", "velocity", "m", "v", "m_hat", "v_hat", "w")}
    for _ in range(steps):
        grad = _numeric_gradient(w, a, c)
        state["step"] += 1
        want["grad"].append(grad.copy())
        if opt == "momentum":
            state["buf"] = state["buf"] * hp["mu"] + grad
            w = w - hp["lr"] * state["buf"]
            want["velocity"].append(state["buf"].copy())
        elif opt == "rmsprop":
            state["exp_avg_sq"] = hp["alpha"] * state["exp_avg_sq"] + (1 - hp["alpha"]) * grad * grad
            w = w - hp["lr"] * grad / (np.sqrt(state["exp_avg_sq"]) + eps)
            want["v"].append(state["exp_avg_sq"].copy())
        elif opt == "adam":
            t = state["step"]
            state["exp_avg"] = state["exp_avg"] + (grad - state["exp_avg"]) * (1 - hp["beta1"])   # lerp, as torch
            state["exp_avg_sq"] = state["exp_avg_sq"] * hp["beta2"] + (1 - hp["beta2"]) * grad ** 2
            m_hat = state["exp_avg"] / (1 - hp["beta1"] ** t)
            v_hat = state["exp_avg_sq"] / (1 - hp["beta2"] ** t)
            w = w - hp["lr"] * m_hat / (np.sqrt(v_hat) + eps)
            want["m"].append(state["exp_avg"].copy())
            want["v"].append(state["exp_avg_sq"].copy())
            want["m_hat"].append(m_hat)
            want["v_hat"].append(v_hat)
        else:
            raise CheckError(f"{FAMILY.name}: unknown optimizer {opt!r}")
        want["w"].append(w.copy())

    for key, rows in want.items():
        got = answers[key]
        if not rows:
            if got not in ([], ()):
                raise CheckError(f"{FAMILY.name}: {key} should be empty for {opt}, not {got!r}")
            continue
        try:
            have = np.array([[_as_float(x) for x in row] for row in got], dtype=float)
        except (TypeError, ValueError) as exc:
            raise CheckError(f"{FAMILY.name}: {key} = {got!r} is not a table of numbers: {exc}") from None
        ref = np.array(rows)
        if have.shape != ref.shape or not np.allclose(have, ref, rtol=1e-6, atol=1e-6):
            raise CheckError(f"{FAMILY.name}: {key} = {np.round(have, 6).tolist()} but the float loop gives "
                             f"{np.round(ref, 6).tolist()}")
