"""Q1(b) of the seed paper: output sizes and multiplication count of a depthwise separable convolution.

Conventions (stated in the question): padding is applied in the depthwise step only; multiplications are
counted per output position, products with padded zeros included, so the depthwise step costs
K·K·C·Ho·Wo and the pointwise step C·N·Ho·Wo, with Ho = floor((H + 2P - K)/S) + 1.
Fairness: the filter tiles the padded image exactly (no floor to argue about), the output size
differs from the input size (199 vs 200 in the original) and the total stays in a set range.
"""

from __future__ import annotations

from functools import cache
from math import isqrt

import numpy as np
import sympy as sp
from numpy.lib.stride_tricks import sliding_window_view

from generator.family import Answer, CheckError, Constraint, Family, Part, sample_until

FAMILY = Family(
    name="depthwise_separable_conv",
    topic="CNNs",
    title="Output sizes and multiplications of a depthwise separable convolution",
    parts=(Part("", 3, "output size after the depthwise and pointwise steps; total multiplications"),),
    params={
        "height": "image height H",
        "width": "image width W",
        "channels": "input channels C",
        "kernel": "depthwise filter size K (K x K)",
        "stride": "stride S of the depthwise step",
        "padding": "zero padding P of the depthwise step (the pointwise step has none)",
        "out_channels": "output channels N of the pointwise step",
    },
    answers=(
        Answer("depthwise_output_shape", "", ("depthwise Ho", "depthwise Wo", "depthwise C"),
               (r"\text{depthwise } H_o", r"\text{depthwise } W_o", r"\text{depthwise } C")),
        Answer("pointwise_output_shape", "", ("pointwise Ho", "pointwise Wo", "pointwise N"),
               (r"\text{pointwise } H_o", r"\text{pointwise } W_o", r"\text{pointwise } N")),
        Answer("depthwise_mults", "", "depthwise mults", r"\text{depthwise multiplications}"),
        Answer("pointwise_mults", "", "pointwise mults", r"\text{pointwise multiplications}"),
        Answer("total_mults", "", "total mults", r"\text{total multiplications}"),
    ),
    constraints={
        "height_range": Constraint([28, 512], "image height H", min=1),
        "width_range": Constraint([28, 512], "image width W", min=1),
        "square_probability": Constraint(0.5, "chance that W = H (the original is square)", min=0),
        "channels_choices": Constraint([1, 3, 4], "input channels C (grey, RGB, RGBA)", min=1),
        "kernel_range": Constraint([2, 7], "filter size K", min=1),
        "stride_choices": Constraint([1, 2], "stride S", min=1),
        "padding_range": Constraint([0, 3], "padding P (also always P < K)", min=0),
        "out_channels_range": Constraint([4, 128], "output channels N", min=1),
        "total_mults_range": Constraint([100_000, 100_000_000], "total multiplications", min=1),
        "max_aspect_ratio": Constraint(3.0, "longer side / shorter side at most this (450 x 30 is no photo)", min=1),
    },
    rules={
        "width_range": "a square draw (W = H) still keeps W in width_range",
        "max_aspect_ratio": "the image is no thinner than max_aspect_ratio allows",
        "padding < kernel": "the padding is smaller than the filter",
        "kernel fits the padded image": "H + 2P >= K and W + 2P >= K",
        "output size is a whole number": "S divides H + 2P - K and W + 2P - K, so no floor needs arguing",
        "output size differs from input size": "Ho != H and Wo != W (as 199 != 200 in the original)",
        "total_mults_range": "the total number of multiplications is in total_mults_range",
    },
)

# Symbols of the formulas; solve() substitutes the student's values into them.
_H, _W, _C, _K, _S, _N = sp.symbols("H W C K S N", integer=True, positive=True)
_P = sp.Symbol("P", integer=True, nonnegative=True)
_HO, _WO = sp.symbols("H_o W_o", integer=True, positive=True)


def _out_size(n: sp.Expr) -> sp.Expr:
    return sp.floor((n + 2 * _P - _K) / _S) + 1


_DEPTHWISE = _K * _K * _C * _HO * _WO     # K*K products per output value, Ho*Wo*C values
_POINTWISE = _C * _N * _HO * _WO          # C products per output value, Ho*Wo*N values


def _total(p: dict) -> int:
    ho = (p["height"] + 2 * p["padding"] - p["kernel"]) // p["stride"] + 1
    wo = (p["width"] + 2 * p["padding"] - p["kernel"]) // p["stride"] + 1
    return ho * wo * p["channels"] * (p["kernel"] ** 2 + p["out_channels"])


def _pick(rng: np.random.Generator, choices: tuple) -> int:
    return int(choices[rng.integers(len(choices))])


def _between(rng: np.random.Generator, lo: int, hi: int) -> int:
    # rng.integers directly: a hopeless constraint costs 20,000 draws, so each must be cheap.
    return int(rng.integers(lo, hi + 1))


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    hlo, hhi = constraints["height_range"]
    wlo, whi = constraints["width_range"]
    square = float(constraints["square_probability"])
    channels = tuple(constraints["channels_choices"])
    klo, khi = constraints["kernel_range"]
    strides = tuple(constraints["stride_choices"])
    plo, phi = constraints["padding_range"]
    nlo, nhi = constraints["out_channels_range"]
    tlo, thi = constraints["total_mults_range"]

    def draw(r):
        height = _between(r, hlo, hhi)
        # A square draw keeps W = H; it must still respect width_range (checked by a rule).
        width = height if r.random() < square else _between(r, wlo, whi)
        return {
            "height": height,
            "width": width,
            "channels": _pick(r, channels),
            "kernel": _between(r, klo, khi),
            "stride": _pick(r, strides),
            "padding": _between(r, plo, phi),
            "out_channels": _between(r, nlo, nhi),
        }

    def span(p, key):
        return p[key] + 2 * p["padding"] - p["kernel"]

    return sample_until(rng, draw, [
        ("width_range", lambda p: wlo <= p["width"] <= whi),
        ("max_aspect_ratio", lambda p: max(p["height"], p["width"]) <= constraints["max_aspect_ratio"]
         * min(p["height"], p["width"])),
        ("padding < kernel", lambda p: p["padding"] < p["kernel"]),
        ("kernel fits the padded image", lambda p: span(p, "height") >= 0 and span(p, "width") >= 0),
        ("output size is a whole number",
         lambda p: span(p, "height") % p["stride"] == 0 and span(p, "width") % p["stride"] == 0),
        ("output size differs from input size",
         lambda p: span(p, "height") // p["stride"] + 1 != p["height"]
         and span(p, "width") // p["stride"] + 1 != p["width"]),
        ("total_mults_range", lambda p: tlo <= _total(p) <= thi),
    ], family=FAMILY.name)


@cache
def _formulas():
    """The size formulas and the two products as functions, made from the sympy expressions once
    per process. Called with sympy Integers, they evaluate in exact sympy arithmetic (a Rational
    inside the floor), without rebuilding an expression tree for each variant as xreplace would."""
    params = [_H, _W, _C, _K, _S, _P, _N]
    sizes = sp.lambdify(params, [_out_size(_H), _out_size(_W), _H + 2 * _P - _K, _W + 2 * _P - _K], "sympy")
    products = sp.lambdify([*params, _HO, _WO], [_DEPTHWISE, _POINTWISE], "sympy")
    return sizes, products


def solve(params: dict) -> dict:
    """Output sizes from the convolution formula, then the two products, exactly in sympy."""
    values = [sp.Integer(params[k]) for k in ("height", "width", "channels", "kernel", "stride", "padding",
                                              "out_channels")]
    sizes, products = _formulas()
    ho, wo, height_span, width_span = sizes(*values)
    depthwise, pointwise = products(*values, ho, wo)
    c, n = sp.Integer(params["channels"]), sp.Integer(params["out_channels"])
    answers = {
        "depthwise_output_shape": [ho, wo, c],
        "pointwise_output_shape": [ho, wo, n],
        "depthwise_mults": depthwise,
        "pointwise_mults": pointwise,
        "total_mults": depthwise + pointwise,
    }
    # For the worked key: H + 2P - K and W + 2P - K, the numerators of the size formula.
    work = {"height_span": height_span, "width_span": width_span}
    return {"answers": answers, "work": work}


_SPOTS = 8      # output values recomputed by a direct sum


def _bits(rng: np.random.Generator, shape: tuple, dtype) -> np.ndarray:
    """Random 0/1 values: eight per random byte (drawing them one by one costs more than the convolution)."""
    size = int(np.prod(shape))
    drawn = np.unpackbits(np.frombuffer(rng.bytes((size + 7) // 8), np.uint8), count=size)
    return drawn.reshape(shape).astype(dtype, copy=False)


def check(params: dict, answers: dict) -> None:
    """Run a real depthwise then pointwise convolution in numpy, counting its multiplications.

    The count comes from the arrays actually multiplied: in the depthwise step each of the K·K
    filter taps multiplies a whole strided slice of the padded image (padded zeros included);
    the pointwise step is a matrix product (N x C)(C x positions), which multiplies
    N·C·positions pairs. A few output values are recomputed by a direct sum as a spot check.
    """
    h, w, c = params["height"], params["width"], params["channels"]
    k, s, pad, n = params["kernel"], params["stride"], params["padding"], params["out_channels"]
    # Small unsigned integers, the smallest type that holds C·K·K: bytes, not floats, keep the
    # memory traffic small. A random 0/1 image and filters of 0..most, with C·K·K·most² (the
    # largest possible output value) within the type, so every sum below is exact.
    dtype = np.min_scalar_type(c * k * k)
    most = max(1, isqrt(int(np.iinfo(dtype).max) // (c * k * k)))
    rng = np.random.default_rng([h, w, c, k, s, pad, n])      # deterministic per variant
    padded = np.zeros((c, h + 2 * pad, w + 2 * pad), dtype=dtype)     # channel-first; pad (this step only)
    padded[:, pad:pad + h, pad:pad + w] = _bits(rng, (c, h, w), dtype)
    depth_filters = rng.integers(0, most + 1, (c, k, k), dtype=dtype)
    point_filters = rng.integers(0, most + 1, (n, c), dtype=dtype)
    spot_y, spot_x = rng.integers(0, 1 << 30, _SPOTS), rng.integers(0, 1 << 30, _SPOTS)

    # Depthwise: one K x K filter per channel, tap by tap.
    ho = (padded.shape[1] - k) // s + 1
    wo = (padded.shape[2] - k) // s + 1
    depth_out = np.zeros((c, ho, wo), dtype=dtype)
    product = np.empty_like(depth_out)
    depth_mults = 0
    for i in range(k):
        for j in range(k):
            window = padded[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]
            np.multiply(window, depth_filters[:, i, j, None, None], out=product)
            depth_mults += window.size
            np.add(depth_out, product, out=depth_out)

    # Pointwise: 1 x 1 x C filters, stride 1, no padding. Done in blocks of output rows into
    # one reused buffer: a whole 512 x 512 x 128 output would cost more in memory traffic than
    # all the arithmetic. Every output value is still computed; the shape is summed over blocks.
    ys, xs = spot_y % ho, spot_x % wo
    block = max(1, 32768 // wo)
    buffer = np.empty((n, block * wo), dtype=dtype)
    point_rows, point_mults = 0, 0
    spots = np.full((_SPOTS, n), -1, dtype=np.int64)
    for top in range(0, ho, block):
        columns = depth_out[:, top:top + block, :].reshape(c, -1)     # (C, rows * Wo)
        out = buffer[:, :columns.shape[1]]
        # einsum, not matmul: single-threaded, and fast for a tiny inner dimension C.
        np.einsum("nc,cm->nm", point_filters, columns, out=out)
        point_mults += point_filters.shape[0] * point_filters.shape[1] * columns.shape[1]   # n x c x m
        point_rows += columns.shape[1] // wo
        here = (ys >= top) & (ys < top + block)
        spots[here] = out[:, (ys[here] - top) * wo + xs[here]].T
    point_shape = [point_rows, wo, buffer.shape[0]]

    patches = sliding_window_view(padded, (k, k), axis=(1, 2))[:, ys * s, xs * s].astype(np.int64)  # (C, spots, K, K)
    direct = (patches * depth_filters[:, None].astype(np.int64)).sum(axis=(2, 3)).T @ point_filters.T.astype(np.int64)
    if not np.array_equal(spots, direct):
        bad = int(np.nonzero((spots != direct).any(axis=1))[0][0])
        raise CheckError(f"{FAMILY.name}: numpy convolution disagrees with the direct sum at ({ys[bad]}, {xs[bad]})")

    got = {
        "depthwise_output_shape": [depth_out.shape[1], depth_out.shape[2], depth_out.shape[0]],
        "pointwise_output_shape": point_shape,
        "depthwise_mults": depth_mults,
        "pointwise_mults": point_mults,
        "total_mults": depth_mults + point_mults,
    }
    for key, want in got.items():
        have = answers[key]
        have = [int(v) for v in have] if isinstance(want, list) else int(have)
        if have != want:
            raise CheckError(f"{FAMILY.name}: {key} = {answers[key]} but the numpy convolution gives {want}")
