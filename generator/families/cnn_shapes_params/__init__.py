"""Output shapes, parameter counts and a receptive field of a small CNN.

An H x W x C input (channels last) goes through `layer_count` conv / max-pool layers, then is
flattened into one dense (fully connected) layer. The student gives the output shape after
every conv/pool layer and the flattened length, the parameters (weights and biases) of every
layer and in all, and the side of the receptive field, on the input, of one unit of the last
conv layer.

Conventions (stated in the question): a conv layer has F filters of size K x K x C_in and one
bias per filter, stride S and zero padding P on every side; a max-pool layer has an F x F
window, stride S, no padding, no parameters; the dense layer has a bias per unit. The sizes are
drawn so that every window fits exactly: (n + 2P - K)/S is a whole number at every layer, so no
floor needs arguing. The receptive field ignores the image border (padded positions count as
input pixels).

Fairness: the layer pattern is fixed by constraints (how many layers, how many pools, whether
the stack ends with a pool, how many convs have stride 2), so every student of a slot does the
same steps and has the same answer columns; no padding beyond 'same' (no layer grows the map);
the last feature map and the parameter total stay in set ranges.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, sample_until

FAMILY = Family(
    name="cnn_shapes_params",
    topic="CNNs",
    title="Output shapes, parameter counts and receptive field of a small CNN",
    parts=(
        Part("a", 3, "output shape after each conv/pool layer; the flattened length"),
        Part("b", 3, "parameters of each layer (with biases) and in total"),
        Part("c", 2, "receptive field on the input of one unit of the last conv layer"),
    ),
    params={
        "height": "input height H",
        "width": "input width W",
        "channels": "input channels C",
        "layers": "the conv/pool layers in order: {type: conv, filters, kernel, stride, padding} "
                  "or {type: pool, size, stride} (max pooling, no padding)",
        "units": "units of the final dense layer (after flattening)",
    },
    answers=(
        Answer("out_height", "a", "layer {i} output H", "H_{i}"),
        Answer("out_width", "a", "layer {i} output W", "W_{i}"),
        Answer("out_channels", "a", "layer {i} output C", "C_{i}"),
        Answer("flatten_size", "a", "flattened length", r"\text{flattened length}"),
        Answer("params", "b", "layer {i} params", r"\text{parameters of layer {i}}"),
        Answer("total_params", "b", "total params", r"\text{total parameters}"),
        Answer("receptive_field", "c", "receptive field side", r"\text{receptive field side}"),
    ),
    constraints={
        "layer_count": Constraint(5, "conv/pool layers before the dense layer (fixes the answer columns)",
                                  among=(3, 4, 5)),
        "pool_count": Constraint(2, "how many of them are max-pooling layers (the first layer is a conv)", min=0),
        "final_pool": Constraint(True, "the last conv/pool layer is a pooling layer (else a conv)"),
        "strided_convs": Constraint(1, "conv layers with stride 2 (the other convs have stride 1)", min=0),
        "input_size_range": Constraint([24, 64], "input height and width H, W", min=1),
        "square_probability": Constraint(0.5, "chance that W = H (drawn as a square last feature map)", min=0),
        "channels_choices": Constraint([1, 3], "input channels C", min=1),
        "kernel_choices": Constraint([3, 5], "conv kernel sizes K (K x K)", min=1),
        "padding_range": Constraint([0, 2], "conv zero padding P (also P <= (K - 1)/2)", min=0),
        "filters_choices": Constraint([8, 12, 16, 24, 32, 48, 64], "filters of a conv layer "
                                      "(drawn without repeats while there are enough, in increasing order)", min=1),
        "pool_size_choices": Constraint([2, 3], "pooling window F (F x F)", min=1),
        "pool_stride_choices": Constraint([2], "pooling stride", min=1),
        "units_choices": Constraint([10, 16, 32, 64, 100], "units of the dense layer", min=1),
        "final_size_range": Constraint([2, 8], "height and width of the last feature map (before flattening)", min=1),
        "total_params_range": Constraint([2_000, 400_000], "total parameters", min=0),
    },
    rules={
        "layer pattern": "the first layer is a conv; exactly pool_count pooling layers, never two in a row; "
                         "the last layer is a pool exactly when final_pool is set",
        "strided_convs": "exactly strided_convs conv layers have stride 2",
        "padding at most same": "P <= (K - 1)/2 in every conv, so no layer grows the map",
        "window covers its stride": "K >= S and F >= S, so no input pixel is skipped",
        "input_size_range": "the input height and width are in input_size_range",
        "windows fit exactly": "at every layer the window fits and S divides n + 2P - K (no floor to argue)",
        "final_size_range": "the last feature map's height and width are in final_size_range",
        "receptive field fits in the input": "the receptive field is no larger than min(H, W)",
        "total_params_range": "the total number of parameters is in total_params_range",
    },
    given=("rf_layer",),        # the question names the last conv layer, whose receptive field it asks
)


# --- sampling ---------------------------------------------------------------------------------

def _patterns(count: int, pools: int, final_pool: bool) -> list[tuple[str, ...]]:
    """Every layer-type sequence that keeps the 'layer pattern' rule."""
    out = []
    for where in combinations(range(1, count), pools):
        if any(b - a == 1 for a, b in zip(where, where[1:])):
            continue
        if (count - 1 in where) != final_pool:
            continue
        out.append(tuple("pool" if i in where else "conv" for i in range(count)))
    return out


def _pattern_ok(p: dict, count: int, pools: int, final_pool: bool) -> bool:
    types = [layer["type"] for layer in p["layers"]]
    return (len(types) == count and types[0] == "conv" and types.count("pool") == pools
            and not any(a == b == "pool" for a, b in zip(types, types[1:]))
            and (types[-1] == "pool") == final_pool)


def _walk(p: dict) -> list[tuple[int, int]] | None:
    """(height, width) after each layer, or None when a window does not fit exactly."""
    h, w = p["height"], p["width"]
    sizes = []
    for layer in p["layers"]:
        k = layer["kernel"] if layer["type"] == "conv" else layer["size"]
        pad = layer.get("padding", 0)
        s = layer["stride"]
        out = []
        for n in (h, w):
            span = n + 2 * pad - k
            if span < 0 or span % s:
                return None
            out.append(span // s + 1)
        h, w = out
        sizes.append((h, w))
    return sizes


def _rf(layers: list[dict]) -> int:
    last = max(i for i, layer in enumerate(layers) if layer["type"] == "conv")
    r = 1
    for layer in reversed(layers[:last + 1]):
        k = layer["kernel"] if layer["type"] == "conv" else layer["size"]
        r = layer["stride"] * r + k - layer["stride"]
    return r


def _total(p: dict, sizes: list[tuple[int, int]]) -> int:
    c, total = p["channels"], 0
    for layer in p["layers"]:
        if layer["type"] == "conv":
            total += layer["kernel"] ** 2 * c * layer["filters"] + layer["filters"]
            c = layer["filters"]
    h, w = sizes[-1]
    return total + h * w * c * p["units"] + p["units"]


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    count, pools, final_pool = constraints["layer_count"], constraints["pool_count"], constraints["final_pool"]
    strided = constraints["strided_convs"]
    nlo, nhi = constraints["input_size_range"]
    square = float(constraints["square_probability"])
    channels = tuple(int(v) for v in constraints["channels_choices"])
    kernels = tuple(int(v) for v in constraints["kernel_choices"])
    plo, phi = constraints["padding_range"]
    filters = tuple(int(v) for v in constraints["filters_choices"])
    pool_sizes = tuple(int(v) for v in constraints["pool_size_choices"])
    pool_strides = tuple(int(v) for v in constraints["pool_stride_choices"])
    units = tuple(int(v) for v in constraints["units_choices"])
    flo, fhi = constraints["final_size_range"]
    tlo, thi = constraints["total_params_range"]
    # A hopeless pattern draws from every sequence that starts with a conv: the rule rejects them all.
    patterns = _patterns(count, pools, final_pool) or [
        ("conv",) + tuple("pool" if b == "1" else "conv" for b in f"{m:0{count - 1}b}") for m in range(2 ** (count - 1))]

    # One call to the rng per draw (a hopeless constraint costs 20,000 draws, so each must be
    # cheap): uniforms in [0, 1), used in turn, give uniform picks.
    def pick(u, choices):
        return choices[int(next(u) * len(choices))]

    def between(u, lo, hi):
        return lo + int(next(u) * (hi - lo + 1))

    def shuffled(u, n):
        keys = [next(u) for _ in range(n)]
        return sorted(range(n), key=keys.__getitem__)

    def draw(r):
        u = iter(r.random(3 * count + 2 * len(filters) + 8).tolist())
        types = pick(u, patterns)
        convs = [i for i, t in enumerate(types) if t == "conv"]
        strided_at = {convs[j] for j in shuffled(u, len(convs))[:strided]}
        if len(filters) >= len(convs):
            counts = sorted(filters[j] for j in shuffled(u, len(filters))[:len(convs)])
        else:
            counts = sorted(pick(u, filters) for _ in convs)
        layers = []
        for i, t in enumerate(types):
            if t == "conv":
                k = pick(u, kernels)
                top = min(phi, (k - 1) // 2) if plo <= (k - 1) // 2 else phi   # else the rule rejects it
                layers.append({"type": "conv", "filters": int(counts.pop(0)), "kernel": k,
                               "stride": 2 if i in strided_at else 1, "padding": between(u, plo, top)})
            else:
                layers.append({"type": "pool", "size": pick(u, pool_sizes), "stride": pick(u, pool_strides)})
        # The input size from the last feature map back, n = S (n_out - 1) + K - 2P: every window fits exactly.
        final_h = between(u, flo, fhi)
        final_w = final_h if next(u) < square else between(u, flo, fhi)
        sizes = [final_h, final_w]
        for layer in reversed(layers):
            k = layer["kernel"] if layer["type"] == "conv" else layer["size"]
            sizes = [layer["stride"] * (n - 1) + k - 2 * layer.get("padding", 0) for n in sizes]
        return {"height": sizes[0], "width": sizes[1], "channels": pick(u, channels), "layers": layers,
                "units": pick(u, units)}

    last: dict = {"p": None, "sizes": None}     # the walk of the draw being judged (held, so never stale)

    def sizes(p):
        if last["p"] is not p:
            last["p"], last["sizes"] = p, _walk(p)
        return last["sizes"]

    def convs(p):
        return [layer for layer in p["layers"] if layer["type"] == "conv"]

    return sample_until(rng, draw, [
        ("layer pattern", lambda p: _pattern_ok(p, count, pools, final_pool)),
        ("strided_convs", lambda p: sum(layer["stride"] == 2 for layer in convs(p)) == strided),
        ("padding at most same", lambda p: all(2 * layer["padding"] <= layer["kernel"] - 1 for layer in convs(p))),
        ("window covers its stride", lambda p: all(layer.get("kernel", layer.get("size")) >= layer["stride"]
                                                   for layer in p["layers"])),
        ("input_size_range", lambda p: nlo <= p["height"] <= nhi and nlo <= p["width"] <= nhi),
        ("windows fit exactly", lambda p: sizes(p) is not None),
        ("final_size_range", lambda p: all(flo <= n <= fhi for n in sizes(p)[-1])),
        ("receptive field fits in the input", lambda p: _rf(p["layers"]) <= min(p["height"], p["width"])),
        ("total_params_range", lambda p: tlo <= _total(p, sizes(p)) <= thi),
    ], family=FAMILY.name)


# --- solving ----------------------------------------------------------------------------------

def _size(n: sp.Integer, k: sp.Integer, s: sp.Integer, pad: sp.Integer) -> tuple[sp.Integer, sp.Integer]:
    """(n + 2P - K, output size) by the convolution formula, refusing a window that does not fit."""
    span = n + 2 * pad - k
    out = sp.Rational(span, s) + 1
    if span < 0 or not out.is_Integer:
        raise ValueError(f"a {k} x {k} window with stride {s} and padding {pad} does not tile a size of {n} exactly")
    return span, out


def solve(params: dict) -> dict:
    """Layer by layer with the size formula, the parameter formulas and the receptive-field recurrence."""
    h, w, c = (sp.Integer(params[k]) for k in ("height", "width", "channels"))
    rows, heights, widths, chans, counts = [], [], [], [], []
    for i, layer in enumerate(params["layers"], start=1):
        conv = layer["type"] == "conv"
        k = sp.Integer(layer["kernel"] if conv else layer["size"])
        s = sp.Integer(layer["stride"])
        pad = sp.Integer(layer["padding"] if conv else 0)
        h_span, h_out = _size(h, k, s, pad)
        w_span, w_out = _size(w, k, s, pad)
        c_out = sp.Integer(layer["filters"]) if conv else c
        weights = k * k * c * c_out if conv else sp.Integer(0)
        biases = c_out if conv else sp.Integer(0)
        rows.append({"index": i, "conv": conv, "k": k, "s": s, "p": pad, "h_in": h, "w_in": w, "c_in": c,
                     "h_span": h_span, "w_span": w_span, "h_out": h_out, "w_out": w_out, "c_out": c_out,
                     "weights": weights, "biases": biases, "params": weights + biases})
        heights.append(h_out)
        widths.append(w_out)
        chans.append(c_out)
        counts.append(weights + biases)
        h, w, c = h_out, w_out, c_out
    flat = h * w * c
    units = sp.Integer(params["units"])
    dense_weights = flat * units
    counts.append(dense_weights + units)
    total = sum(counts, sp.Integer(0))

    # Receptive field: r = 1 at the last conv layer's output; back through each layer r <- S r + (K - S).
    last = max(row["index"] for row in rows if row["conv"])
    r, steps = sp.Integer(1), []
    for row in reversed(rows[:last]):
        before = r
        r = row["s"] * r + (row["k"] - row["s"])
        steps.append({"index": row["index"], "conv": row["conv"], "k": row["k"], "s": row["s"],
                      "before": before, "after": r})
    return {
        "answers": {"out_height": heights, "out_width": widths, "out_channels": chans, "flatten_size": flat,
                    "params": counts, "total_params": total, "receptive_field": r},
        "work": {"rows": rows, "dense_index": len(rows) + 1, "dense_weights": dense_weights, "units": units,
                 "rf_layer": last, "rf_steps": steps, "square": params["height"] == params["width"]},
    }


# --- checking: explicit loops over indices, real weight arrays, index sets ---------------------

def _positions(n: int, k: int, s: int, pad: int) -> int:
    """Slide a k-wide window with stride s along n padded by pad: count where it fits; it must end exactly."""
    start, count, last_end = -pad, 0, None
    while start + k - 1 <= n - 1 + pad:
        count += 1
        last_end = start + k - 1
        start += s
    if count == 0 or last_end != n - 1 + pad:
        raise CheckError(f"{FAMILY.name}: a window of {k} with stride {s} does not tile {n} + 2*{pad} exactly")
    return count


def _seen(layers: list[dict], unit: int) -> set[int]:
    """Input indices (along one axis, border ignored) that can reach output `unit` of the last layer given."""
    reach = {unit}
    for layer in reversed(layers):
        k = layer["kernel"] if layer["type"] == "conv" else layer["size"]
        pad = layer.get("padding", 0)
        reach = {layer["stride"] * o - pad + t for o in reach for t in range(k)}
    return reach


def check(params: dict, answers: dict) -> None:
    """Recompute with loops: window positions counted one by one, parameters as the sizes of numpy
    weight arrays of each layer's shape, the receptive field as the set of input indices reached."""
    shape = (params["height"], params["width"], params["channels"])
    got = {"out_height": [], "out_width": [], "out_channels": [], "params": []}
    for layer in params["layers"]:
        h, w, c = shape
        if layer["type"] == "conv":
            k, s, pad, f = layer["kernel"], layer["stride"], layer["padding"], layer["filters"]
            kernel = np.zeros((k, k, c, f), dtype=np.int8)
            bias = np.zeros(f, dtype=np.int8)
            shape = (_positions(h, k, s, pad), _positions(w, k, s, pad), f)
            got["params"].append(kernel.size + bias.size)
        else:
            k, s = layer["size"], layer["stride"]
            shape = (_positions(h, k, s, 0), _positions(w, k, s, 0), c)
            got["params"].append(0)
        for key, v in zip(("out_height", "out_width", "out_channels"), shape):
            got[key].append(v)
    flat = np.zeros(shape, dtype=np.int8).reshape(-1)
    dense = np.zeros((flat.size, params["units"]), dtype=np.int8)
    got["flatten_size"] = flat.size
    got["params"].append(dense.size + params["units"])
    got["total_params"] = sum(got["params"])

    last = max(i for i, layer in enumerate(params["layers"]) if layer["type"] == "conv")
    seen = _seen(params["layers"][:last + 1], unit=3)
    got["receptive_field"] = max(seen) - min(seen) + 1
    if len(seen) != got["receptive_field"]:
        raise CheckError(f"{FAMILY.name}: receptive_field has gaps ({sorted(seen)})")

    for key, want in got.items():
        have = answers[key]
        # Exact comparison (a tampered 17 + 1/2 must not pass as 17); the shape must match too.
        same = (isinstance(have, list) and len(have) == len(want) and all(h == v for h, v in zip(have, want))
                if isinstance(want, list) else not isinstance(have, list) and have == want)
        if not same:
            raise CheckError(f"{FAMILY.name}: {key} = {have} but the explicit loops give {want}")
