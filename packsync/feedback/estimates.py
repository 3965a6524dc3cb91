"""Like rates you can trust: shrunk estimates with 95% intervals, flags with false alarms bounded,
and the keeper rate. Pure (standard library only), so stats, the catalog and the studies in
``bench/`` compute the same figures.

Input: one :class:`RunLikes` per customer run (the templates it got, those it liked). The
customer run is the unit: its prompts share one customer's photos and taste, so their likes
are correlated and a pack's prompts are not independent trials.

* **Pack rate**: likes / prompts over all runs (a ratio estimator); its variance is computed
  from the runs (each run's likes minus the rate times its prompts, squared: the cluster-robust
  variance of a ratio), and the 95% interval is taken on the logit scale so that it stays in
  (0, 1). A correlated run counts as one customer, not as 20 independent ones.
* **Per template and per prompt key**: empirical Bayes. The templates' rates are modelled as
  drawn from a Beta prior whose mean is the pack rate and whose concentration is the one that
  makes the pack's counts most likely (beta-binomial marginal likelihood, a 1-D golden-section
  search on log concentration). The uncertainty of the pack rate itself is added to the prior's
  variance (it would otherwise make the intervals too narrow when the prompts are alike). A
  pack with fewer than :data:`MIN_PRIOR_TEMPLATES` templates with runs, or fewer than
  :data:`MIN_PRIOR_RUNS` prompt runs, gets a weak prior (concentration :data:`WEAK_CONCENTRATION`).
  Beside that prior, a small share (5%) of a weak Beta of the same mean stands for prompts
  unlike the rest, so that a prompt whose counts clearly set it apart keeps its own rate.
  Estimate: the posterior mean; interval: the equal-tailed 95% posterior interval (of a
  mixture of two Betas, by the same Newton search). Each template is one trial per run, so
  its counts are binomial given its rate.
* **Flags**: each template is compared with the other prompts *of the same runs*. Given how many
  prompts a run liked in all, a template no different from the run's others would be the liked
  one with probability likes/prompts of that run (the permutation test within runs, which
  also takes out the customer's mood). The number of its likes then follows a Poisson-binomial
  distribution, computed exactly while runs × (likes + 1) stays under 20,000, else by its
  normal approximation. Its lower tail is the p-value of "worse than the pack", the upper one
  of "better", each as a mid-p (half the probability of the count seen is counted): with 10
  to 30 runs the plain exact tail is far more cautious than its level says.
  Benjamini-Hochberg at ``q`` (default 0.1) across the pack's templates, separately for rework
  and for best; a template with fewer than ``min_runs`` runs is neither tested nor flagged.
  A prompt key (the templates of one key, e.g. one per class) gets the same over all the runs
  of its templates, with Benjamini-Hochberg across the pack's keys.
* **Keeper rate**: the share of runs with at least ``k`` liked prompts (default 3), per pack and
  per class, with a Wilson 95% interval (runs are independent of each other). A prompt's
  **keeper contribution** is the keeper rate minus what it would be without that prompt's likes:
  the share of all runs that were keepers only thanks to its like.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)
DEFAULT_K = 3
DEFAULT_MIN_RUNS = 10
DEFAULT_Q = 0.1
MIN_PRIOR_TEMPLATES = 3
MIN_PRIOR_RUNS = 20
WEAK_CONCENTRATION = 2.0
OUTLIER_SHARE = 0.05  # the prior's share of prompts unlike the rest of their pack
_CONCENTRATION_RANGE = (0.5, 5000.0)
_EXACT_WORK = 20_000  # runs x (likes + 1) up to which the Poisson-binomial tail is computed exactly


@dataclass(frozen=True)
class RunLikes:
    """One customer run: its class, the templates it got and the ones whose prompt it liked."""

    run_id: int | str
    class_name: str
    templates: tuple[int, ...]
    liked: frozenset[int]


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Prior:
    """The Beta prior of a pack's template rates: ``Beta(mean·c, (1-mean)·c)``."""

    mean: float
    concentration: float
    weak: bool  # True when the pack was too small to estimate it and a weak prior stands in

    @property
    def a(self) -> float:
        return self.mean * self.concentration

    @property
    def b(self) -> float:
        return (1 - self.mean) * self.concentration


@dataclass(frozen=True)
class RateEstimate:
    """A template's (or a prompt key's) like rate: counts, shrunk estimate, interval, flag."""

    name: int | str  # the template id, or the prompt key
    runs: int
    likes: int
    estimate: float
    low: float
    high: float
    p_worse: float | None  # None: fewer than min_runs runs, not tested
    p_better: float | None
    flag: str | None  # "rework", "best" or None
    keeper_contribution: float = 0.0

    @property
    def raw_rate(self) -> float:
        return self.likes / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class KeeperRate:
    k: int
    runs: int
    keepers: int
    rate: float
    low: float
    high: float


@dataclass(frozen=True)
class PackEstimate:
    runs: int  # customer runs with at least one template
    prompts: int  # prompt runs: (run, template) pairs
    likes: int
    estimate: float
    low: float
    high: float
    prior: Prior
    keeper: KeeperRate
    keeper_by_class: dict[str, KeeperRate]
    templates: dict[int, RateEstimate]
    keys: dict[str, RateEstimate] = field(default_factory=dict)


# -- the Beta distribution -------------------------------------------------------------------


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz), two terms a
    step; a denominator of exactly 0 becomes a tiny one, as Lentz's method prescribes."""
    tiny = 1e-300
    d = 1.0 - (a + b) * x / (a + 1)
    c, d = 1.0, 1.0 / (d or tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        num = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
        d = 1.0 / ((1.0 + num * d) or tiny)
        c = (1.0 + num / c) or tiny
        h *= d * c
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
        d = 1.0 / ((1.0 + num * d) or tiny)
        c = (1.0 + num / c) or tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 3e-15:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)``: P(X ≤ x) for X ~ Beta(a, b)."""
    if a <= 0 or b <= 0:
        raise ValueError("a and b must be positive")
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b))
    if x < (a + 1) / (a + b + 2):
        return front * _continued_fraction(a, b, x) / a
    return 1.0 - front * _continued_fraction(b, a, 1 - x) / b


def beta_ppf(p: float, a: float, b: float) -> float:
    """The ``p`` quantile of Beta(a, b): Newton steps on :func:`beta_cdf`, kept inside a
    shrinking bracket (a bisection step, geometric near 0, whenever Newton would leave it).
    Accurate to about 1e-9 of the distance to the nearer end, 0 or 1."""
    if not 0 <= p <= 1:
        raise ValueError("p must be between 0 and 1")
    if p == 0 or p == 1:
        return float(p)
    log_norm = _log_beta(a, b)
    return _solve(((1.0, a, b, log_norm),), p, 0.0, 1.0, _first_guess(p, a, b, log_norm))


def _beta_log_pdf(x: float, a: float, b: float, log_norm: float) -> float:
    return (a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_norm


def _solve(parts: Sequence[tuple[float, float, float, float]], p: float, lo: float, hi: float, x: float) -> float:
    """Where a mixture of Betas ((weight, a, b, log B(a, b)) each) has the cdf ``p``, within
    [lo, hi], from ``x``: Newton steps, bisection whenever a step would leave the bracket."""
    for _ in range(300):
        f = sum(w * beta_cdf(x, a, b) for w, a, b, _ in parts) - p
        if f == 0:
            return x
        if f > 0:
            hi = x
        else:
            lo = x
        try:
            density = sum(w * math.exp(_beta_log_pdf(x, a, b, norm)) for w, a, b, norm in parts)
            step = x - f / density
        except (OverflowError, ZeroDivisionError, ValueError):
            step = -1.0
        if lo < step < hi:
            nxt = step
        elif lo == 0:
            nxt = hi * 1e-3 if hi < 1e-3 else hi / 2
        else:
            nxt = math.sqrt(lo * hi) if hi > 4 * lo else (lo + hi) / 2
        tolerance = 1e-9 * min(nxt, 1 - nxt)  # relative to the nearer end
        if nxt <= 0 or nxt >= 1 or abs(nxt - x) <= tolerance or hi - lo <= tolerance:
            return min(max(nxt, 0.0), 1.0)
        x = nxt
    return x


def _first_guess(p: float, a: float, b: float, log_norm: float) -> float:
    """A start for Newton: the normal approximation, or in a tail the leading term of the
    incomplete beta function there (I_x(a, b) ≈ x^a / (a·B(a, b)) near 0, alike near 1)."""
    mean, sd = a / (a + b), math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    x = mean + NormalDist().inv_cdf(p) * sd
    near_zero = math.exp(min(0.0, (math.log(p) + math.log(a) + log_norm) / a))
    near_one = 1 - math.exp(min(0.0, (math.log1p(-p) + math.log(b) + log_norm) / b))
    if x <= 0 or (a <= 1 and near_zero < mean / 2):
        x = near_zero
    elif x >= 1 or (b <= 1 and near_one > (1 + mean) / 2):
        x = near_one
    return min(max(x, 1e-300), 1 - 1e-16)


# -- pack level ------------------------------------------------------------------------------


def ratio_interval(likes: Sequence[int], prompts: Sequence[int]) -> tuple[Interval, float]:
    """The pack rate Σlikes/Σprompts over runs, its 95% interval with the run as the unit, and
    the variance of the rate (cluster-robust: from each run's residual likes - rate·prompts)."""
    n, total, liked = len(prompts), sum(prompts), sum(likes)
    if n == 0 or total == 0:
        return Interval(0.0, 0.0, 1.0), 0.25
    rate = liked / total
    mean_prompts = total / n
    residual = sum((y - rate * m) ** 2 for y, m in zip(likes, prompts, strict=True))
    variance = residual / (n - 1) / n / mean_prompts**2 if n > 1 else 0.25
    if liked == 0 or liked == total:
        # no spread to measure: the rule of three's bound on the runs, which are the unit
        edge = min(1.0, 3.0 / n)
        return (Interval(rate, 0.0, edge) if liked == 0 else Interval(rate, 1 - edge, 1.0)), max(variance, edge**2 / 4)
    logit = math.log(rate / (1 - rate))
    half = Z95 * math.sqrt(variance) / (rate * (1 - rate))
    return Interval(rate, _expit(logit - half), _expit(logit + half)), variance


def _expit(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """The Wilson score 95% interval of a binomial proportion ((0, 1) for no trials)."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + Z95**2 / trials
    centre = (p + Z95**2 / (2 * trials)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / trials + Z95**2 / (4 * trials**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


# -- empirical Bayes -------------------------------------------------------------------------


def _marginal(counts: Sequence[tuple[int, int]], mean: float, concentration: float) -> float:
    """The beta-binomial log likelihood of (likes, runs) counts (without the binomial terms,
    which do not depend on the prior)."""
    a, b = mean * concentration, (1 - mean) * concentration
    base = _log_beta(a, b)
    return sum(_log_beta(a + y, b + n - y) - base for y, n in counts)


def fit_prior(counts: Sequence[tuple[int, int]], mean_variance: float = 0.0) -> Prior:
    """The pack's Beta prior from per-template (likes, runs) counts: mean the pooled rate,
    concentration by maximum marginal likelihood (golden-section search on its logarithm);
    ``mean_variance``, the variance of the pooled rate, widens the prior accordingly."""
    used = [(y, n) for y, n in counts if n > 0]
    runs = sum(n for _, n in used)
    likes = sum(y for y, _ in used)
    mean = (likes + 0.5) / (runs + 1.0)  # never exactly 0 or 1: a Beta needs both sides
    if len(used) < MIN_PRIOR_TEMPLATES or runs < MIN_PRIOR_RUNS:
        return Prior(mean, WEAK_CONCENTRATION, weak=True)
    lo, hi = (math.log(v) for v in _CONCENTRATION_RANGE)
    golden = (math.sqrt(5) - 1) / 2
    c, d = hi - golden * (hi - lo), lo + golden * (hi - lo)
    fc, fd = _marginal(used, mean, math.exp(c)), _marginal(used, mean, math.exp(d))
    for _ in range(40):
        if fc > fd:
            hi, d, fd = d, c, fc
            c = hi - golden * (hi - lo)
            fc = _marginal(used, mean, math.exp(c))
        else:
            lo, c, fc = c, d, fd
            d = lo + golden * (hi - lo)
            fd = _marginal(used, mean, math.exp(d))
    concentration = math.exp((lo + hi) / 2)
    # the prior's variance, plus that of its estimated mean
    variance = mean * (1 - mean) / (concentration + 1) + mean_variance
    concentration = max(_CONCENTRATION_RANGE[0], mean * (1 - mean) / variance - 1)
    return Prior(mean, concentration, weak=False)


def posterior(likes: int, runs: int, prior: Prior) -> Interval:
    """The posterior mean and equal-tailed 95% interval of a rate seen ``likes`` of ``runs`` times.

    The prior is the pack's Beta with a small share (:data:`OUTLIER_SHARE`) of a weak Beta of
    the same mean beside it: a prompt unlike the rest of its pack (a rate its counts show
    clearly) is not pulled in as if it had to be like them. The posterior is then a mixture of
    two Betas, weighted by how likely each makes the counts; when the weak one's weight is
    negligible the interval is that of the pack's Beta alone."""
    if prior.weak:
        return _beta_interval(prior.a + likes, prior.b + runs - likes)
    wide = Prior(prior.mean, WEAK_CONCENTRATION, weak=True)
    parts = []
    for share, part in ((1 - OUTLIER_SHARE, prior), (OUTLIER_SHARE, wide)):
        evidence = _log_beta(part.a + likes, part.b + runs - likes) - _log_beta(part.a, part.b)
        parts.append((math.log(share) + evidence, part.a + likes, part.b + runs - likes))
    top = max(w for w, _, _ in parts)
    weights = [math.exp(w - top) for w, _, _ in parts]
    w_main = weights[0] / sum(weights)
    (_, a1, b1), (_, a2, b2) = parts
    if 1 - w_main < 1e-4:
        return _beta_interval(a1, b1)
    if w_main < 1e-4:
        return _beta_interval(a2, b2)
    mean = w_main * a1 / (a1 + b1) + (1 - w_main) * a2 / (a2 + b2)

    mixture = ((w_main, a1, b1, _log_beta(a1, b1)), (1 - w_main, a2, b2, _log_beta(a2, b2)))

    def mixture_ppf(p: float) -> float:
        q1, q2 = beta_ppf(p, a1, b1), beta_ppf(p, a2, b2)  # the mixture's quantile lies between
        if abs(q1 - q2) < 1e-4:  # both parts agree (a well-measured prompt): closer than a report shows
            return w_main * q1 + (1 - w_main) * q2
        return _solve(mixture, p, min(q1, q2), max(q1, q2), w_main * q1 + (1 - w_main) * q2)

    return Interval(mean, mixture_ppf(0.025), mixture_ppf(0.975))


def _beta_interval(a: float, b: float) -> Interval:
    return Interval(a / (a + b), beta_ppf(0.025, a, b), beta_ppf(0.975, a, b))


# -- tests and false-discovery control -------------------------------------------------------


def poisson_binomial_tails(probabilities: Sequence[float], observed: int) -> tuple[float, float]:
    """Mid-p values of ``observed`` for Y, a sum of independent Bernoulli(p_i): P(Y < observed) +
    P(Y = observed)/2 (the lower tail, "fewer likes than chance") and P(Y > observed) +
    P(Y = observed)/2 (the upper one). Exact (the recursion truncated at ``observed``) while
    that is cheap, else the normal approximation, which the mid-p matches without a continuity
    correction. The mid-p is used because with a few runs the exact tail of a count is far
    below its nominal level: a template with 10 runs could never be flagged at all."""
    n = len(probabilities)
    if n == 0:
        return 1.0, 1.0
    observed = min(max(observed, 0), n)
    if n * (observed + 1) > _EXACT_WORK:
        mean = sum(probabilities)
        variance = mean - sum(p * p for p in probabilities)
        if variance > 1e-12:
            below = NormalDist(mean, math.sqrt(variance)).cdf(observed)
            return below, 1.0 - below
    dist = [1.0] + [0.0] * observed
    for p in probabilities:
        q = 1.0 - p
        for j in range(observed, 0, -1):
            dist[j] = dist[j] * q + dist[j - 1] * p
        dist[0] *= q
    below = math.fsum(dist[:observed])  # P(Y < observed); dist[observed] is P(Y = observed)
    at = dist[observed]
    return min(1.0, below + at / 2), min(1.0, max(0.0, 1.0 - below - at) + at / 2)


def benjamini_hochberg(p_values: Mapping[int | str, float], q: float = DEFAULT_Q) -> set[int | str]:
    """The names whose p-value the Benjamini-Hochberg step-up procedure at ``q`` rejects."""
    ranked = sorted(p_values.items(), key=lambda item: item[1])
    m = len(ranked)
    cut = 0
    for i, (_, p) in enumerate(ranked, start=1):
        if p <= q * i / m:
            cut = i
    return {name for name, _ in ranked[:cut]}


def _flags(tested: Mapping[int | str, tuple[float, float]], q: float) -> dict[int | str, str]:
    worse = benjamini_hochberg({n: low for n, (low, _) in tested.items()}, q)
    better = benjamini_hochberg({n: high for n, (_, high) in tested.items()}, q)
    flags: dict[int | str, str] = {name: "rework" for name in worse}
    flags.update({name: "best" for name in better - worse})
    return flags


# -- the whole pack --------------------------------------------------------------------------


def _clean(runs: Iterable[RunLikes]) -> list[tuple[RunLikes, tuple[int, ...], frozenset[int]]]:
    """Each run with its templates deduplicated (in order) and its likes limited to them."""
    cleaned = []
    for run in runs:
        templates = tuple(dict.fromkeys(run.templates))
        if templates:
            cleaned.append((run, templates, frozenset(run.liked) & frozenset(templates)))
    return cleaned


def keeper_rate(liked_counts: Sequence[int], k: int = DEFAULT_K) -> KeeperRate:
    """The share of runs with at least ``k`` liked prompts, with its Wilson 95% interval."""
    keepers = sum(1 for c in liked_counts if c >= k)
    runs = len(liked_counts)
    low, high = wilson(keepers, runs)
    return KeeperRate(k, runs, keepers, keepers / runs if runs else 0.0, low, high)


def estimate_pack(
    runs: Iterable[RunLikes],
    keys: Mapping[int, str] | None = None,
    *,
    k: int = DEFAULT_K,
    min_runs: int = DEFAULT_MIN_RUNS,
    q: float = DEFAULT_Q,
) -> PackEstimate:
    """Every estimate of one pack from its customer runs.

    ``keys`` maps template ids to prompt keys (a key groups its templates, e.g. one per class);
    a template listed there but never run gets a row too (the prior's estimate, no flag)."""
    cleaned = _clean(runs)
    keys = dict(keys or {})
    shares: dict[int, list[float]] = {t: [] for t in keys}
    liked_by: dict[int, int] = dict.fromkeys(keys, 0)
    keep_counts: dict[str, list[int]] = {}
    needed: dict[int, int] = {}
    groups: dict[tuple[int, ...], list[float]] = {}  # runs that got the same templates: their shares
    for run, templates, liked in cleaned:
        groups.setdefault(templates, []).append(len(liked) / len(templates))
        for t in liked:
            liked_by[t] = liked_by.get(t, 0) + 1
        keep_counts.setdefault(run.class_name, []).append(len(liked))
        if len(liked) == k:  # a keeper that each of its likes made one
            for t in liked:
                needed[t] = needed.get(t, 0) + 1
    for templates, group in groups.items():
        for t in templates:
            shares.setdefault(t, []).extend(group)
            liked_by.setdefault(t, 0)
    likes_per_run = [len(liked) for _, _, liked in cleaned]
    pack, variance = ratio_interval(likes_per_run, [len(t) for _, t, _ in cleaned])
    counts = {t: (liked_by[t], len(seen)) for t, seen in shares.items()}
    prior = fit_prior(list(counts.values()), variance)
    keeper = keeper_rate(likes_per_run, k)
    total = len(cleaned)
    template_rates = _rates(shares, counts, prior, min_runs, q, {t: needed.get(t, 0) / max(total, 1) for t in shares})
    by_key: dict[str, list[int]] = {}
    for t in shares:
        if t in keys:
            by_key.setdefault(keys[t], []).append(t)
    key_rates = _rates(
        {key: [p for t in ts for p in shares[t]] for key, ts in by_key.items()},
        {key: (sum(counts[t][0] for t in ts), sum(counts[t][1] for t in ts)) for key, ts in by_key.items()},
        prior,
        min_runs,
        q,
        {key: sum(needed.get(t, 0) for t in ts) / max(total, 1) for key, ts in by_key.items()},
    )
    return PackEstimate(
        runs=total,
        prompts=sum(len(t) for _, t, _ in cleaned),
        likes=sum(likes_per_run),
        estimate=pack.estimate,
        low=pack.low,
        high=pack.high,
        prior=prior,
        keeper=keeper,
        keeper_by_class={name: keeper_rate(c, k) for name, c in sorted(keep_counts.items())},
        templates={t: r for t, r in template_rates.items() if isinstance(t, int)},
        keys={str(key): r for key, r in key_rates.items()},
    )


def _rates(
    shares: Mapping[int, list[float]] | Mapping[str, list[float]],
    counts: Mapping[int, tuple[int, int]] | Mapping[str, tuple[int, int]],
    prior: Prior,
    min_runs: int,
    q: float,
    contribution: Mapping[int, float] | Mapping[str, float],
) -> dict[int | str, RateEstimate]:
    """Shrunk estimates, tests and flags of named (likes, runs) counts; ``shares``: per name,
    the share of liked prompts of each run it was in (its probability of being the liked one
    under the null)."""
    tested: dict[int | str, tuple[float, float]] = {}
    for name, (likes, n) in counts.items():
        if n >= max(min_runs, 1):
            tested[name] = poisson_binomial_tails(shares[name], likes)  # type: ignore[index]
    flags = _flags(tested, q)
    out: dict[int | str, RateEstimate] = {}
    for name, (likes, n) in counts.items():
        post = posterior(likes, n, prior)
        low_p, high_p = tested.get(name, (None, None))
        gain = contribution[name]  # type: ignore[index]
        out[name] = RateEstimate(
            name, n, likes, post.estimate, post.low, post.high, low_p, high_p, flags.get(name), gain
        )
    return out


def estimate_counts(
    counts: Mapping[int, tuple[int, int]], *, min_runs: int = DEFAULT_MIN_RUNS, q: float = DEFAULT_Q
) -> dict[int, RateEstimate]:
    """Per-template estimates from (likes, runs) counts alone, when the runs are not known: the
    same shrinkage; each template is tested against the rate of the rest of the pack (a binomial
    test, which cannot take out the customers' mood as the paired test of :func:`estimate_pack`
    does); no keeper contribution."""
    total_likes = sum(y for y, _ in counts.values())
    total_runs = sum(n for _, n in counts.values())
    prior = fit_prior(list(counts.values()))
    shares: dict[int, list[float]] = {}
    for t, (y, n) in counts.items():
        rest_runs = total_runs - n
        rest = (total_likes - y + 0.5) / (rest_runs + 1.0)
        shares[t] = [rest] * n
    rates = _rates(shares, counts, prior, min_runs, q, dict.fromkeys(counts, 0.0))
    return {t: r for t, r in rates.items() if isinstance(t, int)}
