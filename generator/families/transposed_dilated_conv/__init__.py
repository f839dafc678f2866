"""Output sizes of a transposed convolution and of a dilated convolution (PyTorch's conventions).

(a) ConvTranspose2d (dilation 1) on an H x W input, k x k kernel, stride s, padding p, output_padding op:
        Ho = (H - 1) s - 2p + k + op          (PyTorch: (H-1)s - 2p + dilation (k-1) + op + 1)
(b) the effective size of a k x k kernel with dilation d:  k_eff = k + (k - 1)(d - 1) = d (k - 1) + 1
(c) Conv2d with that dilation, stride s, padding p on an H x W input:
        Ho = floor((H + 2p - k_eff) / s) + 1
(d) its multiplications for one input channel and one filter: k^2 Ho Wo (padded zeros included)

Conventions (stated in the question, in words): the transposed convolution scatters a copy of
the kernel per input pixel, s apart; padding p removes p rows/columns from each border of that
result, output_padding adds op rows at the bottom and op columns at the right; the dilated
kernel's taps are d apart; windows that would leave the padded input are dropped.
Fairness: inputs are not square (two different numbers per size), padding is never 0 (no term
vanishes) and smaller than the (effective) kernel, output_padding < stride (as PyTorch requires),
the transposed output is larger than its input, the dilated output differs from its input, and
the dilated size divides exactly (or, by constraint, needs a floor in both directions).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, sample_until

FAMILY = Family(
    name="transposed_dilated_conv",
    topic="CNNs",
    title="Output sizes of a transposed convolution and a dilated convolution",
    parts=(
        Part("a", 2, "output size of a transposed convolution (stride, padding, output_padding)"),
        Part("b", 1, "effective kernel size of a dilated kernel"),
        Part("c", 2, "output size of the dilated convolution"),
        Part("d", 1, "multiplications of the dilated convolution"),
    ),
    params={
        "t_height": "transposed convolution: input height H",
        "t_width": "transposed convolution: input width W",
        "t_kernel": "transposed convolution: kernel size k (k x k)",
        "t_stride": "transposed convolution: stride s",
        "t_padding": "transposed convolution: padding p",
        "t_output_padding": "transposed convolution: output_padding (rows added at the bottom, columns at the right)",
        "d_height": "dilated convolution: input height H",
        "d_width": "dilated convolution: input width W",
        "d_kernel": "dilated convolution: kernel size k (k x k taps)",
        "d_dilation": "dilated convolution: dilation d (taps d pixels apart)",
        "d_stride": "dilated convolution: stride s",
        "d_padding": "dilated convolution: zero padding p on every side",
    },
    answers=(
        Answer("transposed_output", "a", ("transposed Ho", "transposed Wo"),
               (r"\text{transposed } H_o", r"\text{transposed } W_o")),
        Answer("effective_kernel", "b", "effective kernel size", r"k_{\mathrm{eff}}"),
        Answer("dilated_output", "c", ("dilated Ho", "dilated Wo"),
               (r"\text{dilated } H_o", r"\text{dilated } W_o")),
        Answer("dilated_mults", "d", "dilated multiplications", r"\text{dilated multiplications}"),
    ),
    constraints={
        "t_input_range": Constraint([4, 12], "transposed convolution: input height and width", min=1),
        "t_kernel_range": Constraint([2, 5], "transposed convolution: kernel size k", min=1),
        "t_stride_choices": Constraint([2, 3], "transposed convolution: stride s", min=1),
        "t_padding_range": Constraint([1, 2], "transposed convolution: padding p (always p < k)", min=0),
        "t_output_padding": Constraint(1, "transposed convolution: output_padding, the same for the whole "
                                          "slot (must be < stride)", among=(0, 1, 2)),
        "d_input_range": Constraint([15, 64], "dilated convolution: input height and width", min=1),
        "d_kernel_range": Constraint([3, 5], "dilated convolution: kernel size k", min=1),
        "d_dilation_range": Constraint([2, 4], "dilated convolution: dilation d", min=1),
        "d_stride_choices": Constraint([2], "dilated convolution: stride s", min=1),
        "d_padding_range": Constraint([1, 4], "dilated convolution: padding p (always p < k_eff)", min=0),
        "d_exact_division": Constraint(True, "the dilated size divides exactly in both directions (false: "
                                             "it needs a floor in both)"),
    },
    rules={
        "output_padding < stride": "PyTorch rejects output_padding >= stride (dilation 1)",
        "transposed input is not square": "H != W, so height and width are two different computations",
        "transposed padding < kernel": "p < k",
        "transposed output is larger than its input": "Ho > H and Wo > W: the layer upsamples",
        "dilated input is not square": "H != W",
        "dilated padding < effective kernel": "p < k_eff",
        "dilated kernel fits the padded input": "H + 2p >= k_eff and W + 2p >= k_eff",
        "dilated output is at least 3 x 3": "Ho >= 3 and Wo >= 3: no degenerate one-row output",
        "dilated output differs from its input": "Ho != H and Wo != W (no 'same' padding shortcut)",
        "d_exact_division": "s divides H + 2p - k_eff and W + 2p - k_eff (or, when the constraint is false, "
                            "divides neither)",
    },
)

_H, _K, _S, _D = sp.symbols("H k s d", integer=True, positive=True)
_P, _OP = sp.symbols("p o_p", integer=True, nonnegative=True)
_TRANSPOSED = (_H - 1) * _S - 2 * _P + _K + _OP          # PyTorch's formula with dilation 1
_EFFECTIVE = _K + (_K - 1) * (_D - 1)
_KEFF = sp.Symbol("k_eff", integer=True, positive=True)
_DILATED = sp.floor((_H + 2 * _P - _KEFF) / _S) + 1


def _pick(r: np.random.Generator, choices: tuple) -> int:
    return int(choices[r.integers(len(choices))])


def _between(r: np.random.Generator, lo: int, hi: int) -> int:
    return int(r.integers(lo, hi + 1))


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    tlo, thi = constraints["t_input_range"]
    tklo, tkhi = constraints["t_kernel_range"]
    tstrides = tuple(constraints["t_stride_choices"])
    tplo, tphi = constraints["t_padding_range"]
    top = constraints["t_output_padding"]
    dlo, dhi = constraints["d_input_range"]
    dklo, dkhi = constraints["d_kernel_range"]
    ddlo, ddhi = constraints["d_dilation_range"]
    dstrides = tuple(constraints["d_stride_choices"])
    dplo, dphi = constraints["d_padding_range"]
    exact = constraints["d_exact_division"]

    def draw(r):
        return {
            "t_height": _between(r, tlo, thi), "t_width": _between(r, tlo, thi),
            "t_kernel": _between(r, tklo, tkhi), "t_stride": _pick(r, tstrides),
            "t_padding": _between(r, tplo, tphi), "t_output_padding": top,
            "d_height": _between(r, dlo, dhi), "d_width": _between(r, dlo, dhi),
            "d_kernel": _between(r, dklo, dkhi), "d_dilation": _between(r, ddlo, ddhi),
            "d_stride": _pick(r, dstrides), "d_padding": _between(r, dplo, dphi),
        }

    def t_out(q, n):
        return (n - 1) * q["t_stride"] - 2 * q["t_padding"] + q["t_kernel"] + q["t_output_padding"]

    def keff(q):
        return q["d_dilation"] * (q["d_kernel"] - 1) + 1

    def d_span(q, n):
        return n + 2 * q["d_padding"] - keff(q)

    def divides(q, n):
        return d_span(q, n) % q["d_stride"] == 0

    sides = ("height", "width")
    return sample_until(rng, draw, [
        ("output_padding < stride", lambda q: q["t_output_padding"] < q["t_stride"]),
        ("transposed input is not square", lambda q: q["t_height"] != q["t_width"]),
        ("transposed padding < kernel", lambda q: q["t_padding"] < q["t_kernel"]),
        ("transposed output is larger than its input",
         lambda q: all(t_out(q, q[f"t_{side}"]) > q[f"t_{side}"] for side in sides)),
        ("dilated input is not square", lambda q: q["d_height"] != q["d_width"]),
        ("dilated padding < effective kernel", lambda q: q["d_padding"] < keff(q)),
        ("dilated kernel fits the padded input", lambda q: all(d_span(q, q[f"d_{side}"]) >= 0 for side in sides)),
        ("dilated output is at least 3 x 3",
         lambda q: all(d_span(q, q[f"d_{side}"]) // q["d_stride"] + 1 >= 3 for side in sides)),
        ("dilated output differs from its input",
         lambda q: all(d_span(q, q[f"d_{side}"]) // q["d_stride"] + 1 != q[f"d_{side}"] for side in sides)),
        ("d_exact_division", lambda q: all(divides(q, q[f"d_{side}"]) == exact for side in sides)),
    ], family=FAMILY.name)


def solve(params: dict) -> dict:
    """Substitute into the formulas (sympy, exact); the floor is sympy's."""
    v = {k: sp.Integer(x) for k, x in params.items()}
    t = {_K: v["t_kernel"], _S: v["t_stride"], _P: v["t_padding"], _OP: v["t_output_padding"]}
    transposed = [_TRANSPOSED.xreplace({**t, _H: v["t_height"]}), _TRANSPOSED.xreplace({**t, _H: v["t_width"]})]
    keff = _EFFECTIVE.xreplace({_K: v["d_kernel"], _D: v["d_dilation"]})
    d = {_KEFF: keff, _S: v["d_stride"], _P: v["d_padding"]}
    dilated = [_DILATED.xreplace({**d, _H: v["d_height"]}), _DILATED.xreplace({**d, _H: v["d_width"]})]
    mults = v["d_kernel"] ** 2 * dilated[0] * dilated[1]
    s = v["d_stride"]
    spans = [v["d_height"] + 2 * v["d_padding"] - keff, v["d_width"] + 2 * v["d_padding"] - keff]
    work = {
        # the scattered (full) size before padding and output_padding: (H - 1) s + k
        "t_full": [(v["t_height"] - 1) * v["t_stride"] + v["t_kernel"], (v["t_width"] - 1) * v["t_stride"] + v["t_kernel"]],
        "d_spans": spans,
        "d_quotients": [sp.Rational(x, s) for x in spans],
        "d_exact": all(x % s == 0 for x in spans),
        "d_taps": v["d_kernel"] ** 2,
    }
    return {
        "answers": {"transposed_output": transposed, "effective_kernel": keff,
                    "dilated_output": dilated, "dilated_mults": mults},
        "work": work,
    }


# --- checking: brute force, never the formulas --------------------------------------------------

def _conv_positions(n: int, span: int, stride: int, padding: int) -> int:
    """How many windows of `span` pixels fit, stepping by `stride`, in n pixels padded by `padding`."""
    count, start = 0, 0
    while start + span <= n + 2 * padding:
        count += 1
        start += stride
    return count


def _transposed_size(n_in: int, k: int, s: int, p: int, op: int) -> tuple[int, int]:
    """The transposed size two ways. (1) Scatter: input pixel i writes kernel tap u at i*s + u of
    the full result; padding crops p from each end, output_padding appends op. (2) As the adjoint
    of a convolution: the sizes n that Conv(k, s, p) maps back to n_in form a run n0, n0+1, ...;
    output_padding picks n0 + op (which must still map back to n_in)."""
    reached = {i * s + u for i in range(n_in) for u in range(k)}
    by_scatter = max(reached) + 1 - 2 * p + op
    sizes = [n for n in range(1, (n_in + 2) * (s + k) + 2 * p) if _conv_positions(n, k, s, p) == n_in]
    by_adjoint = min(sizes) + op if sizes and min(sizes) + op in sizes else -1
    return by_scatter, by_adjoint


def _adjoint_holds(h: int, w: int, k: int, s: int, p: int, out: tuple[int, int]) -> bool:
    """<T x, y> = <x, C y>: the scatter onto an out-sized grid is the transpose of the convolution of
    an out-sized input (random integers, exact in float64)."""
    rng = np.random.default_rng([h, w, k, s, p, *out])
    x = rng.integers(-3, 4, (h, w)).astype(float)
    kern = rng.integers(-3, 4, (k, k)).astype(float)
    y = rng.integers(-3, 4, out).astype(float)
    tx = np.zeros(out)
    for i in range(h):
        for j in range(w):
            for u in range(k):
                for v in range(k):
                    r, c = i * s + u - p, j * s + v - p
                    if 0 <= r < out[0] and 0 <= c < out[1]:
                        tx[r, c] += x[i, j] * kern[u, v]
    padded = np.pad(y, p)
    cy = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            window = padded[i * s:i * s + k, j * s:j * s + k]
            if window.shape != (k, k):
                return False
            cy[i, j] = (window * kern).sum()
    return float((tx * y).sum()) == float((x * cy).sum())


def check(params: dict, answers: dict) -> None:
    """Brute force: scatter a transposed convolution and invert a convolution by search; build the
    dilated kernel tap by tap, slide it over a padded random input and count what it multiplies."""
    q = params

    def fail(key, got, want, how):
        raise CheckError(f"{FAMILY.name}: {key} = {got} but {how} gives {want}")

    # (a) the transposed convolution, each side on its own
    got = [int(v) for v in answers["transposed_output"]]
    for side, n_in, have in (("height", q["t_height"], got[0]), ("width", q["t_width"], got[1])):
        by_scatter, by_adjoint = _transposed_size(n_in, q["t_kernel"], q["t_stride"], q["t_padding"],
                                                  q["t_output_padding"])
        if have != by_scatter or have != by_adjoint:
            fail("transposed_output", got, [by_scatter, by_adjoint], f"the scatter / the inverted convolution ({side})")
    if not _adjoint_holds(q["t_height"], q["t_width"], q["t_kernel"], q["t_stride"], q["t_padding"], tuple(got)):
        fail("transposed_output", got, "a mismatch", "the adjoint test <Tx, y> = <x, Cy>")

    # (b) the dilated kernel, built tap by tap: k weights per row, d - 1 zeros between neighbours
    k, d = q["d_kernel"], q["d_dilation"]
    rng = np.random.default_rng([q["d_height"], q["d_width"], k, d, q["d_stride"], q["d_padding"]])
    weights = rng.integers(1, 4, (k, k)).astype(float)          # nonzero: every tap is visible
    offsets = []
    position = 0
    for u in range(k):
        offsets.append(position)
        position += d
    keff = offsets[-1] + 1
    dilated = np.zeros((keff, keff))
    for u, a in enumerate(offsets):
        for v, b in enumerate(offsets):
            dilated[a, b] = weights[u, v]
    if int(answers["effective_kernel"]) != keff:
        fail("effective_kernel", answers["effective_kernel"], keff, "the kernel built tap by tap")

    # (c), (d) slide it over a zero-padded random input, window by window, counting the products
    h, w, s, p = q["d_height"], q["d_width"], q["d_stride"], q["d_padding"]
    image = np.zeros((h + 2 * p, w + 2 * p))
    image[p:p + h, p:p + w] = rng.integers(-3, 4, (h, w))
    taps = int(np.count_nonzero(dilated))
    rows, mults = [], 0
    top = 0
    while top + keff <= image.shape[0]:
        row, left = [], 0
        while left + keff <= image.shape[1]:
            row.append(float((image[top:top + keff, left:left + keff] * dilated).sum()))
            mults += taps
            left += s
        rows.append(row)
        top += s
    shape = [len(rows), len(rows[0]) if rows else 0]
    if [int(v) for v in answers["dilated_output"]] != shape:
        fail("dilated_output", [int(v) for v in answers["dilated_output"]], shape, "sliding the dilated kernel")
    if rows and rows[0][0] != sum(weights[u, v] * image[u * d, v * d] for u in range(k) for v in range(k)):
        fail("dilated_output", answers["dilated_output"], "another first value", "the direct sum of the taps")
    if int(answers["dilated_mults"]) != mults:
        fail("dilated_mults", answers["dilated_mults"], mults, "counting the products of the sliding kernel")
