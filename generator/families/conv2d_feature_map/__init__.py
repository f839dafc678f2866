"""A convolutional layer by hand: feature map, ReLU, then 2 x 2 max pooling.

The student gets a small integer image X (C channels of N x N) and one integer filter W
(C x K x K), with stride S and zero padding P, and computes

    Z_ij = sum_c sum_{u,v} Xpad_{c, (i-1)S+u, (j-1)S+v} W_{c,u,v}      (cross-correlation, no flip, no bias)
    A = ReLU(Z)
    M = 2 x 2 max pooling of A with stride 2 (a last odd row/column is dropped, PyTorch's default)

Conventions (stated in the question): cross-correlation as deep-learning frameworks compute it
(the kernel is not flipped), 1-based indexes from the top-left, one filter whose output sums
over the channels, no bias, zero padding, pooling windows that do not fit are dropped.

Image size, channels, kernel size, stride and padding are fixed per slot by constraints, so
every student of a slot has answers of the same shape (O x O, O x O, floor(O/2) x floor(O/2)).
Fairness: the kernel mixes signs and has few zeros, flipping it (true convolution) changes most
of the feature map, ReLU clips some values but keeps most, and the pooled map is not constant.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, sample_until

FAMILY = Family(
    name="conv2d_feature_map",
    topic="CNNs",
    title="Feature map of a small convolution, then ReLU and 2x2 max pooling",
    parts=(
        Part("a", 4, "the feature map Z (cross-correlation with stride and padding)"),
        Part("b", 1, "the ReLU map A = max(0, Z)"),
        Part("c", 2, "2x2 max pooling (stride 2) of A"),
    ),
    params={
        "image": "the image X as channels x rows x columns (C x N x N), integers",
        "kernel": "the filter W as channels x rows x columns (C x K x K), integers",
        "stride": "stride S of the convolution",
        "padding": "zero padding P on every side of the image",
    },
    answers=(
        Answer("feature_map", "a", "Z[{i},{j}]", "Z_{{i}{j}}"),
        Answer("relu_map", "b", "A[{i},{j}]", "A_{{i}{j}}"),
        Answer("pooled_map", "c", "M[{i},{j}]", "M_{{i}{j}}"),
    ),
    constraints={
        "image_size": Constraint(6, "image height = width N (the same for every student of a slot)",
                                 among=(5, 6, 7)),
        "channels": Constraint(1, "input channels C; one filter of C x K x K, its output sums over the channels",
                               among=(1, 2)),
        "kernel_size": Constraint(3, "filter size K (K x K)", among=(2, 3)),
        "stride": Constraint(1, "stride S of the convolution", among=(1, 2)),
        "padding": Constraint(0, "zero padding P on every side", among=(0, 1)),
        "image_value_range": Constraint([0, 3], "pixel values are integers in this range"),
        "kernel_value_range": Constraint([-1, 2], "filter weights are integers in this range"),
    },
    rules={
        "kernel fits the padded image": "N + 2P >= K",
        "stride tiles the padded image": "S divides N + 2P - K: no leftover column needs arguing",
        "feature map is 3 x 3 to 5 x 5": "(N + 2P - K)/S + 1 is 3, 4 or 5: workable by hand, and pooling has a window",
        "kernel mixes signs": "every channel of the filter has a positive and a negative weight",
        "few zero weights": "every channel of the filter has at most floor(K*K/4) zeros (a zero kills a term)",
        "kernel suits the pixels": "over pixels drawn uniformly from image_value_range, a window's output has "
                                   "a mean between 0.25 and 1.2 standard deviations (0 and 1.2 when the range "
                                   "is centred on 0): ReLU clips some values and keeps most",
        "few zero pixels": "every channel of the image has at most a third of its pixels 0",
        "kernel is not symmetric": "the filter differs from itself rotated by 180 degrees",
        "flipping the kernel changes the map": "true convolution (the kernel rotated by 180 degrees) differs "
                                                "from cross-correlation in at least half the entries",
        "ReLU clips some values": "at least a sixth of the feature map is negative",
        "ReLU keeps most values": "at least half of the feature map is positive",
        "pooled map is not constant": "the pooled values are not all equal (when there are several)",
    },
)


# --- sampling: plain numpy on small arrays -------------------------------------------------------

@lru_cache(maxsize=64)
def _window_index(c: int, n: int, k: int, s: int, p: int) -> np.ndarray:
    """Index into the flattened padded image (C, N+2P, N+2P) of every tap of every window:
    row = output position (row-major), column = (channel, u, v). The sampler's correlation is
    then one gather and one matrix product, fast enough to run on every candidate image."""
    side = n + 2 * p
    o = (side - k) // s + 1
    ch, u, v = np.meshgrid(np.arange(c), np.arange(k), np.arange(k), indexing="ij")
    i, j = np.meshgrid(np.arange(o), np.arange(o), indexing="ij")
    rows = (i.reshape(-1, 1) * s + u.reshape(1, -1))
    cols = (j.reshape(-1, 1) * s + v.reshape(1, -1))
    return (ch.reshape(1, -1) * side + rows) * side + cols


def _pooled(relu: np.ndarray) -> np.ndarray:
    q = relu.shape[0] // 2
    return relu[:2 * q, :2 * q].reshape(q, 2, q, 2).max(axis=(1, 3))


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    n, c, k = constraints["image_size"], constraints["channels"], constraints["kernel_size"]
    s, p = constraints["stride"], constraints["padding"]
    xlo, xhi = constraints["image_value_range"]
    wlo, whi = constraints["kernel_value_range"]
    span = n + 2 * p - k
    values = range(xlo, xhi + 1)                    # one pixel, drawn uniformly from the range:
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5

    # The geometry is fixed by the constraints: checked first, so that an impossible one fails
    # at once (20,000 trivial draws) instead of after 20,000 drawn images.
    sample_until(rng, lambda r: {}, [
        ("kernel fits the padded image", lambda q: span >= 0),
        ("stride tiles the padded image", lambda q: span % s == 0),
        ("feature map is 3 x 3 to 5 x 5", lambda q: 3 <= span // s + 1 <= 5),
    ], family=FAMILY.name)
    o = span // s + 1

    # The filter first (its rules are cheap), then an image for it: a rejected image costs no
    # new filter, and no feature map is computed for a filter that fails its own rules.
    low = 0.25 if mean != 0 else 0.0

    def draw_kernel(r):
        w = r.integers(wlo, whi + 1, (c, k, k))
        flat = w.reshape(c, -1).tolist()
        return {"w": w, "channels": flat, "sum": sum(map(sum, flat)), "norm": sum(v * v for ch in flat for v in ch) ** 0.5}

    kernel = sample_until(rng, draw_kernel, [
        ("kernel mixes signs", lambda q: all(max(ch) > 0 > min(ch) for ch in q["channels"])),
        ("few zero weights", lambda q: all(ch.count(0) <= k * k // 4 for ch in q["channels"])),
        ("kernel suits the pixels", lambda q: low * sd * q["norm"] <= mean * q["sum"] <= 1.2 * sd * q["norm"]),
        ("kernel is not symmetric", lambda q: not np.array_equal(q["w"], q["w"][:, ::-1, ::-1])),
    ], family=FAMILY.name)["w"]
    # Cross-correlation with the filter and with the filter rotated by 180 degrees (true convolution).
    both = np.stack([kernel.reshape(-1), kernel[:, ::-1, ::-1].reshape(-1)], axis=1)     # (C*K*K, 2)
    index = _window_index(c, n, k, s, p)
    padded = np.zeros((c, n + 2 * p, n + 2 * p), dtype=np.int64)

    def draw(r):
        image = r.integers(xlo, xhi + 1, (c, n, n))
        return {"image": image, "maps": None}

    def maps(q):
        """The feature map and true convolution's, computed once per image that passed the cheap rule."""
        if q["maps"] is None:
            padded[:, p:p + n, p:p + n] = q["image"]
            q["maps"] = (padded.reshape(-1)[index] @ both).T.reshape(2, o, o)
        return q["maps"]

    image = sample_until(rng, draw, [
        ("few zero pixels", lambda q: all(3 * np.count_nonzero(ch == 0) <= n * n for ch in q["image"])),
        ("flipping the kernel changes the map", lambda q: 2 * np.count_nonzero(maps(q)[0] != maps(q)[1]) >= o * o),
        ("ReLU clips some values", lambda q: 6 * np.count_nonzero(maps(q)[0] < 0) >= o * o),
        ("ReLU keeps most values", lambda q: 2 * np.count_nonzero(maps(q)[0] > 0) >= o * o),
        ("pooled map is not constant",
         lambda q: o // 2 == 1 or np.ptp(_pooled(np.maximum(maps(q)[0], 0))) > 0),
    ], family=FAMILY.name)["image"]
    return {"image": image.tolist(), "kernel": kernel.tolist(), "stride": s, "padding": p}


# --- solving: exact, by im2col in sympy ----------------------------------------------------------

def solve(params: dict) -> dict:
    """Z by im2col: every window of the padded image is one row of a patch matrix (its C windows
    read row by row), and Z is the patch matrix times the flattened filter, in sympy integers.
    Then ReLU and 2 x 2 max pooling entry by entry."""
    s, p = int(params["stride"]), int(params["padding"])
    image = [[[sp.Integer(v) for v in row] for row in ch] for ch in params["image"]]
    kernel = [[[sp.Integer(v) for v in row] for row in ch] for ch in params["kernel"]]
    c, n, k = len(image), len(image[0]), len(kernel[0])
    zero = sp.Integer(0)
    side = n + 2 * p
    padded = [[[ch[r - p][col - p] if p <= r < p + n and p <= col < p + n else zero for col in range(side)]
               for r in range(side)] for ch in image]
    o = (side - k) // s + 1
    weights = [w for ch in kernel for row in ch for w in row]                  # C*K*K
    patches = [[padded[ch][i * s + u][j * s + v] for ch in range(c) for u in range(k) for v in range(k)]
               for i in range(o) for j in range(o)]                            # (O*O) x (C*K*K)
    products = [[x * w for x, w in zip(row, weights)] for row in patches]
    z = [[sp.Add(*products[i * o + j]) for j in range(o)] for i in range(o)]
    relu = [[max(zero, v) for v in row] for row in z]
    q = o // 2
    windows = [[[relu[2 * i + a][2 * j + b] for a in range(2) for b in range(2)] for j in range(q)]
               for i in range(q)]
    pooled = [[max(win) for win in row] for row in windows]

    taps = k * k
    work = {
        "n": n, "k": k, "c": c, "o": o, "q": q, "odd": o % 2 == 1,
        "padded": padded,
        # every entry's products, channel by channel (terms[i][j][ch] lists K*K products)
        "terms": [[[products[i * o + j][ch * taps:(ch + 1) * taps] for ch in range(c)] for j in range(o)]
                  for i in range(o)],
        # the first entry's factors: (pixel, weight) pairs, channel by channel
        "first": [list(zip(patches[0][ch * taps:(ch + 1) * taps], weights[ch * taps:(ch + 1) * taps]))
                  for ch in range(c)],
        "windows": windows,
    }
    return {"answers": {"feature_map": z, "relu_map": relu, "pooled_map": pooled}, "work": work}


# --- checking: explicit loops over positions, no padded copy ---------------------------------------

def check(params: dict, answers: dict) -> None:
    """Slide the window with explicit loops over output positions, channels and taps, reading
    padded pixels as 0 by a bounds test; then ReLU and pooling by explicit loops."""
    image = np.asarray(params["image"], dtype=float)
    kernel = np.asarray(params["kernel"], dtype=float)
    s, p = params["stride"], params["padding"]
    c, n, _ = image.shape
    k = kernel.shape[1]

    # Output positions: every top-left corner (in padded coordinates) whose window fits.
    starts = []
    t = 0
    while t + k <= n + 2 * p:
        starts.append(t)
        t += s
    o = len(starts)
    z = np.zeros((o, o))
    for i, top in enumerate(starts):
        for j, left in enumerate(starts):
            total = 0.0
            for ch in range(c):
                for u in range(k):
                    for v in range(k):
                        r, col = top + u - p, left + v - p          # image coordinates
                        if 0 <= r < n and 0 <= col < n:
                            total += image[ch, r, col] * kernel[ch, u, v]
            z[i, j] = total
    relu = np.zeros_like(z)
    for i in range(o):
        for j in range(o):
            relu[i, j] = z[i, j] if z[i, j] > 0 else 0.0
    pooled_rows = []
    for top in range(0, o - 1, 2):
        row = []
        for left in range(0, o - 1, 2):
            best = relu[top, left]
            for a in range(2):
                for b in range(2):
                    best = max(best, relu[top + a, left + b])
            row.append(best)
        pooled_rows.append(row)
    pooled = np.array(pooled_rows, dtype=float).reshape(len(pooled_rows), len(pooled_rows))

    for key, want in (("feature_map", z), ("relu_map", relu), ("pooled_map", pooled)):
        try:
            got = np.array([[float(v) for v in row] for row in answers[key]], dtype=float)
        except (TypeError, ValueError) as exc:
            raise CheckError(f"{FAMILY.name}: {key} is malformed: {exc}") from None
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-9, atol=1e-6):
            raise CheckError(f"{FAMILY.name}: {key} = {got.astype(int).tolist()} but the sliding-window loops "
                             f"give {want.astype(int).tolist()}")
