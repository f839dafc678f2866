"""Parameters and attention-score memory of an encoder-only transformer.

The architecture is stated in full in the question: a token embedding (V x d_model) and, by
constraint, a learned positional embedding (n x d_model) or fixed sinusoidal encodings (no
parameters); L pre-LN layers, each x <- x + MHA(LN1(x)) then x <- x + FFN(LN2(x)), where MHA
has the four projections W_Q, W_K, W_V, W_O (d_model x d_model, each with a bias), FFN is
W2 ReLU(W1 x + b1) + b2 with d_ff hidden units, and each layer norm has a gain and a bias of
d_model; by constraint a final layer norm; no output head. The student gives the parameters
of the embeddings, of one layer's attention, feed-forward and layer norms, of one layer and of
the model, and the number of attention scores one layer holds for one sequence (h n^2) with
their size in bytes.

Fairness: the architecture options (positional embedding, final layer norm, bytes per score)
are fixed per slot; d_model is divisible by the heads with a head dimension of at least
min_head_dim; the sequence length differs from d_model and d_ff (so a student who mixes them
up is caught); the total stays in a set range.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, sample_until

FAMILY = Family(
    name="transformer_param_count",
    topic="Attention and transformers",
    title="Parameter count and attention-score memory of an encoder-only transformer",
    parts=(
        Part("a", 2, "parameters of the token and positional embeddings"),
        Part("b", 3, "parameters of one layer's attention, feed-forward network and layer norms"),
        Part("c", 2, "parameters of one layer and of the whole model"),
        Part("d", 2, "attention scores one layer holds for one sequence, in values and bytes"),
    ),
    params={
        "d_model": "model width d_model",
        "heads": "attention heads h (d_model divisible by h)",
        "d_ff": "hidden units d_ff of the feed-forward network",
        "vocab": "vocabulary size V",
        "seq_len": "sequence length n (also the positions of a learned positional embedding)",
        "layers": "number of layers L",
        "positional": "learned (an n x d_model table) or sinusoidal (no parameters): the slot's constraint",
        "final_layer_norm": "whether a layer norm follows the last layer: the slot's constraint",
        "bytes_per_value": "bytes per stored attention score: the slot's constraint",
    },
    answers=(
        Answer("token_embedding_params", "a", "token embedding params", r"\text{token embedding}"),
        Answer("position_embedding_params", "a", "positional embedding params", r"\text{positional embedding}"),
        Answer("attention_params", "b", "attention params per layer", r"\text{attention (one layer)}"),
        Answer("ffn_params", "b", "feed-forward params per layer", r"\text{feed-forward (one layer)}"),
        Answer("layer_norm_params", "b", "layer norm params per layer", r"\text{layer norms (one layer)}"),
        Answer("layer_params", "c", "params per layer", r"\text{one layer}"),
        Answer("total_params", "c", "total params", r"\text{total parameters}"),
        Answer("attention_scores", "d", "attention scores per layer", r"\text{scores (one layer)}"),
        Answer("attention_bytes", "d", "attention score bytes per layer", r"\text{score bytes (one layer)}"),
    ),
    constraints={
        "positional": Constraint("learned", "positional embedding: learned (an n x d_model table) or sinusoidal "
                                            "(fixed, no parameters)", among=("learned", "sinusoidal")),
        "final_layer_norm": Constraint(True, "a layer norm after the last layer (pre-LN, as in GPT-2)"),
        "bytes_per_value": Constraint(4, "bytes per stored attention score (4 = float32)", among=(2, 4, 8)),
        "d_model_choices": Constraint([128, 256, 384, 512, 768], "model width d_model", min=1),
        "heads_choices": Constraint([2, 4, 6, 8, 12, 16], "attention heads h", min=1),
        "min_head_dim": Constraint(32, "d_model / h is at least this", min=1),
        "d_ff_multiplier_choices": Constraint([2, 4], "d_ff = this multiple of d_model", min=1),
        "vocab_range": Constraint([5_000, 50_000], "vocabulary size V", min=1),
        "vocab_step": Constraint(1_000, "V is a multiple of this", min=1),
        "seq_len_choices": Constraint([128, 256, 512, 1024], "sequence length n", min=1),
        "layers_range": Constraint([2, 12], "number of layers L", min=1),
        "total_params_range": Constraint([1_000_000, 200_000_000], "total parameters", min=0),
    },
    rules={
        "vocab_range": "V is a multiple of vocab_step in vocab_range",
        "heads divide d_model": "d_model / h is a whole number",
        "min_head_dim": "the head dimension d_model / h is at least min_head_dim",
        "seq_len differs from d_model and d_ff": "n != d_model and n != d_ff, so swapping them is caught",
        "total_params_range": "the total number of parameters is in total_params_range",
    },
)


# --- sampling ---------------------------------------------------------------------------------

def _total(p: dict, learned: bool, final_ln: bool) -> int:
    d, f = p["d_model"], p["d_ff"]
    layer = 4 * (d * d + d) + 2 * d * f + f + d + 4 * d
    return p["vocab"] * d + (p["seq_len"] * d if learned else 0) + p["layers"] * layer + (2 * d if final_ln else 0)


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    widths = tuple(constraints["d_model_choices"])
    heads = tuple(constraints["heads_choices"])
    multipliers = tuple(constraints["d_ff_multiplier_choices"])
    lengths = tuple(constraints["seq_len_choices"])
    vlo, vhi = constraints["vocab_range"]
    step = constraints["vocab_step"]
    klo, khi = -(-vlo // step), vhi // step           # the multiples of step inside vocab_range
    llo, lhi = constraints["layers_range"]
    tlo, thi = constraints["total_params_range"]
    learned = constraints["positional"] == "learned"
    final_ln = constraints["final_layer_norm"]

    def pick(r, choices):
        return int(choices[r.integers(len(choices))])

    def draw(r):
        d = pick(r, widths)
        # No multiple of step in the range: draw its low end, which the vocab_range rule rejects.
        vocab = step * int(r.integers(klo, khi + 1)) if klo <= khi else vlo
        return {"d_model": d, "heads": pick(r, heads), "d_ff": d * pick(r, multipliers), "vocab": vocab,
                "seq_len": pick(r, lengths), "layers": int(r.integers(llo, lhi + 1)),
                "positional": constraints["positional"], "final_layer_norm": final_ln,
                "bytes_per_value": constraints["bytes_per_value"]}

    return sample_until(rng, draw, [
        ("vocab_range", lambda p: vlo <= p["vocab"] <= vhi and p["vocab"] % step == 0),
        ("heads divide d_model", lambda p: p["d_model"] % p["heads"] == 0),
        ("min_head_dim", lambda p: p["d_model"] // p["heads"] >= constraints["min_head_dim"]),
        ("seq_len differs from d_model and d_ff", lambda p: p["seq_len"] not in (p["d_model"], p["d_ff"])),
        ("total_params_range", lambda p: tlo <= _total(p, learned, final_ln) <= thi),
    ], family=FAMILY.name)


# --- solving ----------------------------------------------------------------------------------

_D, _H, _F, _V, _N, _L, _B = sp.symbols("d h f V n L b", integer=True, positive=True)
_ATTENTION = 4 * (_D * _D + _D)              # W_Q, W_K, W_V, W_O (d x d) and their biases
_FFN = _D * _F + _F + _F * _D + _D           # W1 (d x f), b1, W2 (f x d), b2
_NORMS = 2 * (2 * _D)                        # two layer norms, each a gain and a bias
_SCORES = _H * _N * _N                       # one n x n score matrix per head


def solve(params: dict) -> dict:
    """Substitute the student's sizes into the per-module formulas; everything is an integer."""
    if params["positional"] not in ("learned", "sinusoidal"):
        raise ValueError(f"positional = {params['positional']!r} is neither 'learned' nor 'sinusoidal'")
    if params["d_model"] % params["heads"]:
        raise ValueError(f"d_model = {params['d_model']} is not divisible by {params['heads']} heads")
    learned, final_ln, nbytes = params["positional"] == "learned", params["final_layer_norm"], params["bytes_per_value"]
    values = {_D: params["d_model"], _H: params["heads"], _F: params["d_ff"], _V: params["vocab"],
              _N: params["seq_len"], _L: params["layers"], _B: nbytes}
    values = {k: sp.Integer(v) for k, v in values.items()}
    token = (_V * _D).xreplace(values)
    position = (_N * _D).xreplace(values) if learned else sp.Integer(0)
    attention = _ATTENTION.xreplace(values)
    ffn = _FFN.xreplace(values)
    norms = _NORMS.xreplace(values)
    layer = attention + ffn + norms
    final = (2 * _D).xreplace(values) if final_ln else sp.Integer(0)
    total = token + position + values[_L] * layer + final
    scores = _SCORES.xreplace(values)
    return {
        "answers": {"token_embedding_params": token, "position_embedding_params": position,
                    "attention_params": attention, "ffn_params": ffn, "layer_norm_params": norms,
                    "layer_params": layer, "total_params": total,
                    "attention_scores": scores, "attention_bytes": scores * values[_B]},
        "work": {"d_k": values[_D] / values[_H], "d_squared": values[_D] ** 2,
                 "ffn_weights": values[_D] * values[_F], "all_layers": values[_L] * layer,
                 "final_norm": final, "n_squared": values[_N] ** 2, "bytes": values[_B]},
    }


# --- checking: every weight's shape written out, head by head, then counted --------------------

def _shapes(params: dict) -> dict[str, tuple[int, ...]]:
    """name -> shape of every parameter tensor, the attention split into its heads."""
    d, h, f = params["d_model"], params["heads"], params["d_ff"]
    if d % h:
        raise CheckError(f"{FAMILY.name}: d_model = {d} is not divisible by {h} heads")
    dk = d // h
    shapes = {"embed.token": (params["vocab"], d)}
    if params["positional"] == "learned":
        shapes["embed.position"] = (params["seq_len"], d)
    for layer in range(params["layers"]):
        pre = f"layer{layer}"
        for norm in ("ln1", "ln2"):
            shapes[f"{pre}.{norm}.gain"] = (d,)
            shapes[f"{pre}.{norm}.bias"] = (d,)
        for head in range(h):                       # each head's slice of W_Q, W_K, W_V
            for m in ("q", "k", "v"):
                shapes[f"{pre}.attn.head{head}.w_{m}"] = (d, dk)
                shapes[f"{pre}.attn.head{head}.b_{m}"] = (dk,)
        shapes[f"{pre}.attn.w_o"] = (h * dk, d)     # concatenated heads -> d_model
        shapes[f"{pre}.attn.b_o"] = (d,)
        shapes[f"{pre}.ffn.w1"] = (d, f)
        shapes[f"{pre}.ffn.b1"] = (f,)
        shapes[f"{pre}.ffn.w2"] = (f, d)
        shapes[f"{pre}.ffn.b2"] = (d,)
    if params["final_layer_norm"]:
        shapes["final_ln.gain"] = (d,)
        shapes["final_ln.bias"] = (d,)
    return shapes


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if a[-1] != b[-2]:
        raise CheckError(f"{FAMILY.name}: cannot multiply shapes {a} and {b}")
    return (*np.broadcast_shapes(a[:-2], b[:-2]), a[-2], b[-1])


def check(params: dict, answers: dict) -> None:
    """Count the entries of every weight tensor (shapes written out per head), group them by
    module, and get the score matrices' shape from Q K^T of the per-head shapes."""
    shapes = _shapes(params)

    def count(*prefixes: str) -> int:
        return sum(math.prod(s) for name, s in shapes.items() if name.startswith(prefixes))

    n, h, dk = params["seq_len"], params["heads"], params["d_model"] // params["heads"]
    scores = _matmul_shape((h, n, dk), (h, dk, n))          # Q K^T for all heads at once
    per_layer = [count(f"layer{i}.") for i in range(params["layers"])]
    if len(set(per_layer)) != 1:
        raise CheckError(f"{FAMILY.name}: layers differ in size {per_layer}")
    got = {
        "token_embedding_params": count("embed.token"),
        "position_embedding_params": count("embed.position"),
        "attention_params": count("layer0.attn."),
        "ffn_params": count("layer0.ffn."),
        "layer_norm_params": count("layer0.ln1.", "layer0.ln2."),
        "layer_params": per_layer[0],
        "total_params": sum(math.prod(s) for s in shapes.values()),
        "attention_scores": math.prod(scores),
        "attention_bytes": math.prod(scores) * np.dtype(f"f{params['bytes_per_value']}").itemsize,
    }
    for key, want in got.items():
        if isinstance(answers[key], list) or answers[key] != want:      # exact: 7/2 must not pass as 3
            raise CheckError(f"{FAMILY.name}: {key} = {answers[key]} but counting the weight shapes gives {want}")
