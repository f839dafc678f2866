"""The two training losses of generative models: a VAE's KL term and a GAN's three losses.

(a) VAE: the encoder gives a diagonal Gaussian q(z|x) = N(mu, diag(sigma^2)) over d latent
dimensions (d fixed per slot by `latent_dims`); its KL divergence from the prior N(0, I) is
KL = 1/2 sum_k (mu_k^2 + sigma_k^2 - 1 - ln sigma_k^2), asked per dimension and in total.
(b)-(d) GAN: the discriminator's outputs D(x_i) on m real and D(G(z_i)) on m generated samples
(m fixed per slot by `batch_size`); with batch means and natural logs,
L_D = -1/m sum [ln D(x_i) + ln(1 - D(G(z_i)))], the saturating (minimax) generator loss
L_G^sat = 1/m sum ln(1 - D(G(z_i))) and the non-saturating one L_G^ns = -1/m sum ln D(G(z_i)),
then both generator losses' derivatives with respect to each D(G(z_i)):
-1/(m (1 - D(G(z_i)))) and -1/(m D(G(z_i))), which show why the non-saturating loss is used.

Params are exact and simple: mu are integers, sigma are rationals such as 1/2, 1, 2 (written
"1/2"), the D outputs are one- or two-digit decimals (written "0.9"). Logs make the losses
irrational, so every answer is given to four decimal places. Fairness: no latent dimension
whose KL term is 0, no two dimensions with the same term, at most `max_unit_sigmas` dimensions
without a log term, log terms that do not cancel in the sum, and distinct D outputs in a batch.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import sympy as sp

from generator.family import Answer, CheckError, Constraint, Family, Part, as_float, sample_until

SIGMAS = ("1/4", "1/3", "1/2", "2/3", "3/4", "1", "3/2", "2", "3", "4")
D_OUTPUTS = ("0.01", "0.05", "0.1", "0.2", "0.25", "0.3", "0.4", "0.5", "0.6", "0.7", "0.75", "0.8", "0.9",
             "0.95", "0.99")

FAMILY = Family(
    name="vae_gan_losses",
    topic="Generative models",
    title="VAE KL term of a diagonal Gaussian; GAN discriminator and generator losses and their gradients",
    parts=(
        Part("a", 3, "VAE: the KL term of each latent dimension and in total"),
        Part("b", 2, "GAN: the discriminator loss on a batch"),
        Part("c", 2, "GAN: the saturating and the non-saturating generator losses"),
        Part("d", 3, "GAN: both generator losses' gradients with respect to D(G(z_i)); why non-saturating"),
    ),
    params={
        "mu": "the encoder's means [mu_1, ..., mu_d] (integers)",
        "sigma": "the encoder's standard deviations [sigma_1, ..., sigma_d] (exact rationals as strings, \"1/2\")",
        "d_real": "D(x_i) on the m real samples (decimal strings, \"0.9\")",
        "d_fake": "D(G(z_i)) on the m generated samples (decimal strings, \"0.1\")",
    },
    answers=(
        Answer("kl_dims", "a", "KL{i}", r"\mathrm{KL}_{i}", decimals=4),
        Answer("kl", "a", "KL", r"\mathrm{KL}", decimals=4),
        Answer("loss_d", "b", "L_D", "L_D", decimals=4),
        Answer("loss_g_sat", "c", "L_G sat", r"L_G^{\mathrm{sat}}", decimals=4),
        Answer("loss_g_ns", "c", "L_G ns", r"L_G^{\mathrm{ns}}", decimals=4),
        Answer("grad_sat", "d", "dL_G sat/dD(G(z{i}))", r"\partial L_G^{\mathrm{sat}}/\partial D(G(z_{i}))",
               decimals=4),
        Answer("grad_ns", "d", "dL_G ns/dD(G(z{i}))", r"\partial L_G^{\mathrm{ns}}/\partial D(G(z_{i}))",
               decimals=4),
    ),
    constraints={
        "latent_dims": Constraint(2, "latent dimensions d (the same for every student of a slot)", among=(2, 3)),
        "mu_range": Constraint([-2, 2], "the means mu_k are integers in this range"),
        "sigma_choices": Constraint(["1/2", "1", "2"], "the standard deviations sigma_k are drawn from these",
                                    among=SIGMAS),
        "max_unit_sigmas": Constraint(1, "at most this many dimensions have sigma_k = 1 (no log term there)",
                                      min=0),
        "batch_size": Constraint(2, "real and generated samples m in the GAN batch (the same for every student "
                                    "of a slot)", among=(1, 2, 3)),
        "d_real_choices": Constraint(["0.6", "0.7", "0.8", "0.9"], "D(x_i) on real samples is drawn from these",
                                     among=D_OUTPUTS),
        "d_fake_choices": Constraint(["0.1", "0.2", "0.3", "0.4"],
                                     "D(G(z_i)) on generated samples is drawn from these (small: the generator is "
                                     "losing, where the saturating loss stalls)", among=D_OUTPUTS),
    },
    rules={
        "no latent dimension has a zero KL term": "no dimension has mu_k = 0 and sigma_k = 1",
        "latent dimensions differ": "no two dimensions have the same mu_k^2 and sigma_k (the same KL term)",
        "max_unit_sigmas": "at most max_unit_sigmas dimensions have sigma_k = 1",
        "log terms do not cancel": "the product of the sigma_k is not 1, so the ln sigma_k^2 do not cancel in the sum",
        "real outputs differ": "the D(x_i) of a batch are distinct",
        "generated outputs differ": "the D(G(z_i)) of a batch are distinct",
    },
    given=("generator_losing",),     # work: every D(G(z_i)) < 1/2; the question words part (d) by it
)


_VALUE = {s: Fraction(s) for s in (*SIGMAS, *D_OUTPUTS)}     # every allowed choice, parsed once


def sample(rng: np.random.Generator, constraints: dict) -> dict:
    d = constraints["latent_dims"]
    lo, hi = constraints["mu_range"]
    sigmas = tuple(constraints["sigma_choices"])
    m = constraints["batch_size"]
    real, fake = tuple(constraints["d_real_choices"]), tuple(constraints["d_fake_choices"])
    max_unit = constraints["max_unit_sigmas"]
    value = _VALUE
    # One cheap rng call per draw (a hopeless constraint costs 20,000 draws): uniform floats, scaled
    # to the choice indexes of sigma, D(x_i), D(G(z_i)), then to the means' offsets from lo.
    highs = [len(sigmas)] * d + [len(real)] * m + [len(fake)] * m + [hi - lo + 1] * d

    def draw(r):
        idx = [int(u * n) for u, n in zip(r.random(len(highs)).tolist(), highs)]
        return {"mu": [lo + i for i in idx[d + 2 * m:]], "sigma": [sigmas[i] for i in idx[:d]],
                "d_real": [real[i] for i in idx[d:d + m]], "d_fake": [fake[i] for i in idx[d + m:d + 2 * m]]}

    def dims(p):
        return list(zip((abs(v) for v in p["mu"]), p["sigma"]))

    def product(p):
        out = Fraction(1)
        for s in p["sigma"]:
            out *= value[s]
        return out

    return sample_until(rng, draw, [
        ("max_unit_sigmas", lambda p: sum(value[s] == 1 for s in p["sigma"]) <= max_unit),
        ("log terms do not cancel", lambda p: product(p) != 1),
        ("no latent dimension has a zero KL term",
         lambda p: all(mu != 0 or value[s] != 1 for mu, s in dims(p))),
        ("latent dimensions differ", lambda p: len(set(dims(p))) == d),
        ("real outputs differ", lambda p: len(set(p["d_real"])) == m),
        ("generated outputs differ", lambda p: len(set(p["d_fake"])) == m),
    ], family=FAMILY.name)


def _exact(text) -> sp.Rational:
    return sp.Rational(str(text))


def solve(params: dict) -> dict:
    """Exact in sympy: the closed-form KL per dimension; the three losses as sums of logs of
    rationals; the two derivatives, which are rational, by the rule d/dt ln t = 1/t."""
    mu = [sp.Integer(v) for v in params["mu"]]
    sigma = [_exact(s) for s in params["sigma"]]
    if len(mu) != len(sigma):
        raise ValueError(f"{len(mu)} means but {len(sigma)} standard deviations")
    real = [_exact(v) for v in params["d_real"]]
    fake = [_exact(v) for v in params["d_fake"]]
    if len(real) != len(fake):
        raise ValueError(f"{len(real)} real but {len(fake)} generated samples")
    if not all(0 < v < 1 for v in real + fake) or not all(s > 0 for s in sigma):
        raise ValueError("D outputs must lie strictly between 0 and 1, and every sigma must be positive")
    m = sp.Integer(len(real))

    dims = []
    for mk, sk in zip(mu, sigma):
        var = sk ** 2
        log_var = sp.log(var)
        rational = mk ** 2 + var - 1                   # mu^2 + sigma^2 - 1
        term = (rational - log_var) / 2
        dims.append({"mu": mk, "sigma": sk, "mu2": mk ** 2, "var": var, "log_var": log_var,
                     "rational": rational, "term": term, "exact": bool(term.is_Rational)})
    kl_dims = [t["term"] for t in dims]

    log_real = [sp.log(v) for v in real]
    log_one_minus_fake = [sp.log(1 - v) for v in fake]
    log_fake = [sp.log(v) for v in fake]
    loss_d = -(sp.Add(*log_real) + sp.Add(*log_one_minus_fake)) / m
    loss_g_sat = sp.Add(*log_one_minus_fake) / m
    loss_g_ns = -sp.Add(*log_fake) / m
    grad_sat = [-1 / (m * (1 - v)) for v in fake]
    grad_ns = [-1 / (m * v) for v in fake]

    def shown(v: sp.Rational) -> str:
        """1 - D(G(z)) written as the D outputs are (0.9, 0.75): exact, as they have few decimals."""
        return format(Decimal(int(v.p)) / Decimal(int(v.q)), "f")

    return {
        "answers": {"kl_dims": kl_dims, "kl": sp.Add(*kl_dims), "loss_d": loss_d, "loss_g_sat": loss_g_sat,
                    "loss_g_ns": loss_g_ns, "grad_sat": grad_sat, "grad_ns": grad_ns},
        "work": {
            "dims": dims, "sigma": sigma, "m": m,
            # -ln of each D output (positive, as every D is below 1): the terms the key adds up.
            "nlog_real": [-v for v in log_real], "nlog_one_minus_fake": [-v for v in log_one_minus_fake],
            "nlog_fake": [-v for v in log_fake],
            "one_minus_fake": [shown(1 - v) for v in fake],
            "sum_d_pos": -(sp.Add(*log_real) + sp.Add(*log_one_minus_fake)),
            "ratios": [(1 - v) / v for v in fake],         # |grad_ns| / |grad_sat| per sample
            "ns_stronger": [v < sp.Rational(1, 2) for v in fake],
            # A derivative that four decimals state exactly (-5, -5/4) is printed with "=", else with "~".
            "sat_decimal_exact": [(g * 10 ** 4).is_Integer for g in grad_sat],
            "ns_decimal_exact": [(g * 10 ** 4).is_Integer for g in grad_ns],
            "real": real, "fake": fake, "one_minus_fake_exact": [1 - v for v in fake],
            "generator_losing": all(v < sp.Rational(1, 2) for v in fake),   # D rejects every fake
        },
    }


# --- checking: floats, another way ---------------------------------------------------------------

def _kl_by_integration(mu: float, sigma: float) -> float:
    """KL(N(mu, sigma^2) || N(0, 1)) = integral of q ln(q / p), by the trapezoid rule on a fine grid."""
    z = np.linspace(mu - 14 * sigma, mu + 14 * sigma, 40_001)
    log_q = -0.5 * ((z - mu) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))
    log_p = -0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)
    q = np.exp(log_q)
    return float(np.trapezoid(q * (log_q - log_p), z))


def _gan_losses(real: list[float], fake: list[float]) -> tuple[float, float, float]:
    """L_D, L_G^sat, L_G^ns with plain loops over the batch."""
    total_d = total_sat = total_ns = 0.0
    for r, f in zip(real, fake):
        total_d -= math.log(r) + math.log1p(-f)
        total_sat += math.log1p(-f)
        total_ns -= math.log(f)
    m = len(real)
    return total_d / m, total_sat / m, total_ns / m


def check(params: dict, answers: dict) -> None:
    """KL by numerical integration of the Gaussian densities per dimension; the GAN losses in
    float loops; both generator gradients by central finite differences of those losses."""
    mu = [float(v) for v in params["mu"]]
    sigma = [float(Fraction(str(s))) for s in params["sigma"]]
    real = [float(Fraction(str(v))) for v in params["d_real"]]
    fake = [float(Fraction(str(v))) for v in params["d_fake"]]

    kl_dims = [_kl_by_integration(mk, sk) for mk, sk in zip(mu, sigma)]
    loss_d, loss_sat, loss_ns = _gan_losses(real, fake)
    grad_sat, grad_ns = [], []
    for i, f in enumerate(fake):
        eps = 1e-6 * min(f, 1 - f)
        up, down = list(fake), list(fake)
        up[i], down[i] = f + eps, f - eps
        _, sat_up, ns_up = _gan_losses(real, up)
        _, sat_down, ns_down = _gan_losses(real, down)
        grad_sat.append((sat_up - sat_down) / (2 * eps))
        grad_ns.append((ns_up - ns_down) / (2 * eps))

    want = {"kl_dims": kl_dims, "kl": math.fsum(kl_dims), "loss_d": loss_d, "loss_g_sat": loss_sat,
            "loss_g_ns": loss_ns, "grad_sat": grad_sat, "grad_ns": grad_ns}
    for name, value in want.items():
        got = answers[name]
        try:
            have = np.array([as_float(v) for v in got]) if isinstance(got, (list, tuple)) else np.array(as_float(got))
        except (TypeError, ValueError):
            raise CheckError(f"{FAMILY.name}: {name} = {got!r} is not a number") from None
        if have.shape != np.shape(value) or not np.allclose(have, value, rtol=1e-6, atol=1e-6):
            raise CheckError(f"{FAMILY.name}: {name} = {np.round(have, 6).tolist()} but the numeric path "
                             f"gives {np.round(value, 6).tolist()}")
