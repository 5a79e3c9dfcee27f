"""Run every contamination test on one (model, benchmark) pair and say what it means in plain words.

The verdict rests on the two exact tests of :mod:`taoke.contamination.stats` (item order, after Oren et
al. 2023, arXiv:2310.17623; option order, after Zheng et al. 2023, arXiv:2309.03882), combined with a
Bonferroni correction so that the false-positive rate of the whole report is at most ``alpha``. Min-K%
(Shi et al. 2023, arXiv:2310.16789) and Min-K%++ (Zhang et al. 2024, arXiv:2404.02936) rank the items most
likely seen. Before concluding "no evidence", the report checks that the tests could have found anything:
enough items, a model that predicts the items better than chance, items that fit the context window,
a test whose smallest attainable p-value reaches its level, and a published option order that looks
random (the option-order test's assumption, :func:`taoke.contamination.stats.published_order_check`).
Otherwise the answer is "cannot tell", with what would let the tests tell.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from taoke.contamination import stats
from taoke.contamination.items import Item, names_in, option_orders, render, substituted
from taoke.contamination.scorer import Scorer, min_k, min_k_plus_plus
from taoke.errors import AnalysisError
from taoke.evidence import Evidence
from taoke.progress import Progress, no_progress

ALPHA = 0.05
MIN_ITEMS = 10  # below this neither test can reach a useful p-value
LOW_POWER_ITEMS = 30
WEAK_MODEL_FRACTION = 0.9  # mean loss >= 90% of log(vocab): the model is near uniform on the items
# stated in every report (text, JSON, HTML): what the exactness of both tests rests on
ASSUMPTION = (
    "Both tests assume that a model which never saw the benchmark finds its published item order and "
    "option orders no likelier than random ones (exchangeability). Options sorted or right answers "
    "favouring one position break this and are checked; items grouped by topic or difficulty also break "
    "it and cannot be checked from the file."
)


@dataclass(frozen=True)
class Settings:
    """How hard the tests look (the defaults are the CLI's).

    ``shuffles``: N random item orders for the item-order test (smallest p is 1/(N+1)).
    ``option_orders_k``: K random option orders per multiple-choice item for the option-order test.
    ``substitutions``: number/name-substituted controls per item for the Min-K% comparisons.
    ``max_items``: the first items (published order) that are scored; the rest are ignored (and said so).
    ``window``: tokens per item-order window (default: the model's context, capped by the scorer).
    ``draws``: Monte Carlo draws of the option-order test; ``alpha``: the report's false-positive rate.
    """

    shuffles: int = 99
    option_orders_k: int = 5
    substitutions: int = 2
    max_items: int = 200
    window: int | None = None
    draws: int = 9999
    seed: int = 0
    alpha: float = ALPHA

    def __post_init__(self) -> None:
        # refused when the settings are made, before a benchmark is read or a model loaded
        if self.shuffles < 1:
            raise AnalysisError(f"--shuffles must be at least 1 (got {self.shuffles})")


@dataclass
class ItemReport:
    """Per-item scores: log-likelihood, Min-K% / Min-K%++, and how they compare with the controls."""

    index: int
    preview: str
    loglik: float
    tokens: int
    min_k: float
    min_k_pp: float
    option_rank_p: float | None
    option_orders: int
    option_margin: float | None
    substitution_gap_min_k_pp: float | None

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "index": self.index,
            "preview": self.preview,
            "loglik": round(self.loglik, 3),
            "tokens": self.tokens,
            "min_k": round(self.min_k, 4),
            "min_k_pp": round(self.min_k_pp, 4),
            "option_rank_p": None if self.option_rank_p is None else round(self.option_rank_p, 4),
            "option_orders": self.option_orders,
            "option_margin": None if self.option_margin is None else round(self.option_margin, 3),
            "substitution_gap_min_k_pp": None
            if self.substitution_gap_min_k_pp is None
            else round(self.substitution_gap_min_k_pp, 4),
        }


@dataclass
class ContaminationResult:
    """Everything the renderers show; computed once, never by a renderer."""

    model: str
    benchmark: str
    n_items: int
    n_items_total: int
    n_choice_items: int
    how: str
    settings: dict
    order: stats.PermutationTest | None
    option: stats.PermutationTest | None
    items: list[ItemReport]
    likely_seen: list[int]
    seen_fraction: dict
    mean_loss: float
    uniform_loss: float
    power: dict
    verdict: str
    conclusion: str
    seconds: float
    notes: list[str] = field(default_factory=list)
    published_order: stats.OrderCheck | None = None
    assumption: str = ASSUMPTION

    @property
    def contaminated(self) -> bool:
        """True when the report concludes contamination at level ``alpha``."""
        return self.verdict == "contaminated"

    def to_dict(self) -> dict:
        """JSON-ready result (items sorted by index; ``likely_seen`` lists indices, most likely first)."""
        return {
            "model": self.model,
            "benchmark": self.benchmark,
            "verdict": self.verdict,
            "conclusion": self.conclusion,
            "n_items": self.n_items,
            "n_items_total": self.n_items_total,
            "n_choice_items": self.n_choice_items,
            "tests": {
                "item_order": self.order.to_dict() if self.order else None,
                "option_order": self.option.to_dict() if self.option else None,
            },
            "seen_fraction": self.seen_fraction,
            "mean_loss_nats": round(self.mean_loss, 4),
            "uniform_loss_nats": round(self.uniform_loss, 4),
            "power": self.power,
            "likely_seen": self.likely_seen,
            "items": [i.to_dict() for i in self.items],
            "settings": self.settings,
            "how": self.how,
            "notes": self.notes,
            "assumption": self.assumption,
            "published_order": self.published_order.to_dict() if self.published_order else None,
            "seconds": round(self.seconds, 1),
        }

    def evidence(self) -> list[Evidence]:
        """The result as taoke Evidence (one per exact test, plus the conclusion)."""
        out: list[Evidence] = []
        for test in (self.order, self.option):
            if test is None:
                continue
            out.append(
                Evidence(
                    analyzer="contamination",
                    kind=test.name.replace(" ", "-"),
                    message=f"{test.name}: p = {test.p_value:.4g} ({test.draws} draws)",
                    severity="high" if _significant(test) else "info",
                    statistic="published-order log-likelihood advantage",
                    value=test.statistic,
                    p_value=test.p_value,
                    null=test.null,
                )
            )
        out.append(
            Evidence(
                analyzer="contamination",
                kind=f"benchmark-{self.verdict}",
                message=self.conclusion,
                severity="high"
                if self.contaminated
                else ("low" if self.verdict in ("no-power", "cannot-tell") else "info"),
                detail={"benchmark": self.benchmark, "n_items": self.n_items},
            )
        )
        return out


def _significant(test: stats.PermutationTest) -> bool:
    """True when the test can be believed and its p-value is at or below its level."""
    return test.cannot_tell is None and test.level is not None and test.p_value <= test.level


def _preview(item: Item) -> str:
    text = " ".join(item.question.split())
    return text if len(text) <= 90 else text[:87] + "..."


def analyze(
    scorer: Scorer,
    items: list[Item],
    benchmark: str | Path,
    settings: Settings | None = None,
    progress: Progress = no_progress,
) -> ContaminationResult:
    """Test whether the model behind ``scorer`` was trained on ``items`` (in their published order).

    ``benchmark`` names the items in the report; ``settings``: see :class:`Settings`. Reading the
    benchmark and loading the model is the job's part (:func:`taoke.jobs.check_contamination`).
    ``progress`` hears of the two long passes (scoring the items and their variants, then the orders).

    Example::

        >>> r = analyze(load_scorer(model), read_benchmark("mmlu_anatomy_test.csv"), "mmlu")  # doctest: +SKIP
        >>> r.verdict, r.order.p_value, r.option.p_value
    """
    t0 = time.time()
    settings = settings or Settings()
    all_items = items
    use = all_items[: settings.max_items]
    sc = scorer
    rng = random.Random(settings.seed)
    notes: list[str] = []
    if len(all_items) > len(use):
        notes.append(f"scored the first {len(use)} of {len(all_items)} items (max_items)")
    prefix = sc.encode("\n\n")[-1:] or [0]

    # ---- per-item texts: published, option orders, substitutions
    pool = sorted({n for it in use for n in names_in(render(it))})
    texts: list[str] = []
    owner: list[tuple[int, str]] = []
    orders_of: dict[int, int] = {}
    for it in use:
        texts.append(render(it))
        owner.append((it.index, "published"))
        if it.is_choice:
            perms = option_orders(it, settings.option_orders_k, rng)
            orders_of[it.index] = len(perms)
            for perm in perms:
                texts.append(render(it, perm))
                owner.append((it.index, "order"))
        for _ in range(settings.substitutions):
            sub = substituted(it, rng, pool)
            if sub is not None:
                texts.append(sub)
                owner.append((it.index, "subst"))
    seqs = [prefix + sc.encode(t) for t in texts]
    ctx = settings.window or sc.context
    seqs = [s[: sc.context] for s in seqs]
    scored = sc.score(seqs, progress=progress, task="score items and variants")
    by_item: dict[int, dict[str, list]] = {
        it.index: {"published": [], "order": [], "subst": []} for it in use
    }
    for (idx, kind), s in zip(owner, scored, strict=True):
        by_item[idx][kind].append(s)

    reports: list[ItemReport] = []
    option_scores: list[np.ndarray] = []
    losses: list[float] = []
    top_hits = 0
    for it in use:
        d = by_item[it.index]
        pub = d["published"][0]
        losses.extend((-pub.logp).tolist())
        rank_p = margin = None
        if d["order"]:
            s = np.array([pub.total] + [o.total for o in d["order"]])
            option_scores.append(s)
            rank_p = stats.item_rank_p(s)
            top_hits += int(s[0] > s[1:].max())
            margin = float(s[0] - s[1:].max())
        mkpp = min_k_plus_plus(pub)
        gap = None
        if d["subst"]:
            gap = mkpp - float(np.mean([min_k_plus_plus(x) for x in d["subst"]]))
        reports.append(
            ItemReport(
                it.index,
                _preview(it),
                pub.total,
                len(pub.logp) + 1,
                min_k(pub),
                mkpp,
                rank_p,
                orders_of.get(it.index, 0),
                margin,
                gap,
            )
        )

    option = stats.option_test(option_scores, settings.draws, settings.seed) if option_scores else None
    published = stats.published_order_check(
        [(it.choices, it.answer) for it in use if it.is_choice and it.answer is not None],
        seed=settings.seed,
    )
    if option is not None and not published.random:
        option.cannot_tell = f"the published option order is not random ({published.reason})"

    # ---- item-order test: published order vs N shuffles
    order = None
    tok_items = [sc.encode(render(it)) for it in use]
    med_len = float(np.median([len(t) for t in tok_items])) if tok_items else 0.0
    if len(use) >= 2:
        nrng = np.random.default_rng(settings.seed + 1)
        orderings = [list(range(len(use)))] + [
            list(nrng.permutation(len(use))) for _ in range(settings.shuffles)
        ]
        flat: list[list[int]] = []
        spans: list[tuple[int, int]] = []
        for o in orderings:
            w = stats.order_windows(tok_items, o, ctx)
            spans.append((len(flat), len(flat) + len(w)))
            flat.extend(w)
        totals = [
            s.total for s in sc.score(flat, vocab_stats=False, progress=progress, task="score item orders")
        ]
        lls = [float(np.sum(totals[a:b])) for a, b in spans]
        order = stats.order_test(lls[0], lls[1:])

    # ---- power
    uniform = math.log(sc.vocab_size)
    mean_loss = float(np.mean(losses)) if losses else uniform
    reasons: list[str] = []
    if len(use) < MIN_ITEMS:
        reasons.append(f"only {len(use)} items (at least {MIN_ITEMS} are needed)")
    if mean_loss >= WEAK_MODEL_FRACTION * uniform:
        reasons.append(
            f"the model is too weak to tell: its loss on the items ({mean_loss:.2f} nats/token) is near "
            f"that of a uniform guess ({uniform:.2f})"
        )
    order_power = med_len * 2 <= ctx
    if not order_power:
        notes.append(
            f"items are long (median {med_len:.0f} tokens) for the {ctx}-token window: the item-order test "
            "sees few item boundaries and has little power"
        )
    power = {
        "has_power": not reasons,
        "reasons": reasons,
        "low_power": len(use) < LOW_POWER_ITEMS,
        "window_tokens": ctx,
        "median_item_tokens": med_len,
        "item_order_min_p": order.min_p if order else None,
        "option_order_min_p": option.min_p if option else None,
    }

    _set_levels([t for t in (order, option) if t is not None], settings.alpha, len(option_scores))

    k1 = float(np.mean([len(s) for s in option_scores])) if option_scores else 0.0
    seen = (
        stats.seen_fraction(top_hits, len(option_scores), k1)
        if option is not None and published.random
        else {"estimate": None, "low": None, "high": None}  # a non-random order biases the estimate
    )

    # ---- items most likely seen: smallest option-rank p, widest margin over the best other order,
    # then the largest Min-K%++ gap over substituted controls
    def key(r: ItemReport) -> tuple[float, float, float]:
        return (
            r.option_rank_p if r.option_rank_p is not None else 1.0,
            -(r.option_margin or 0.0),
            -(r.substitution_gap_min_k_pp or 0.0),
        )

    likely = [r.index for r in sorted(reports, key=key)[:10]]

    verdict, conclusion = _conclude(order, option, settings.alpha, reasons, seen, len(use), power)
    settings = {
        "shuffles": settings.shuffles,
        "option_orders": settings.option_orders_k,
        "substitutions": settings.substitutions,
        "max_items": settings.max_items,
        "monte_carlo_draws": settings.draws,
        "alpha": settings.alpha,
        "seed": settings.seed,
        "min_k_fraction": 0.2,
    }
    return ContaminationResult(
        model=sc.name,
        benchmark=str(benchmark),
        n_items=len(use),
        n_items_total=len(all_items),
        n_choice_items=len(option_scores),
        how=sc.how,
        settings=settings,
        order=order,
        option=option,
        items=reports,
        likely_seen=likely,
        seen_fraction=seen,
        mean_loss=mean_loss,
        uniform_loss=uniform,
        power=power,
        verdict=verdict,
        conclusion=conclusion,
        seconds=time.time() - t0,
        notes=notes,
        published_order=published if option_scores else None,
    )


def _set_levels(tests: list[stats.PermutationTest], alpha: float, n_choice: int) -> None:
    """Each test whose assumption holds runs at Tarone's level (Bonferroni over the tests that can reach
    it, :func:`taoke.contamination.stats.tarone_level`); a test whose smallest attainable p-value is
    above that level cannot tell, and says what would let it."""
    usable = [t for t in tests if t.cannot_tell is None]
    level = stats.tarone_level([t.min_p for t in usable], alpha)
    for t in tests:
        t.level = level
        if t.cannot_tell is not None or t.min_p <= level * (1 + 1e-9):
            continue
        need = stats.draws_needed(level)
        head = f"the {t.name} test cannot reach level {level:.3g}"
        min_p = f"smallest attainable p {t.min_p:.3g}"
        if "item" in t.name:
            t.cannot_tell = (
                f"{head} with {t.draws} shuffles ({min_p}, so at least {need} shuffles are needed)"
            )
        elif 1.0 / (t.draws + 1) > level * (1 + 1e-9):
            t.cannot_tell = (
                f"{head} with {t.draws} Monte Carlo draws ({min_p}, so at least {need} draws are needed)"
            )
        else:
            t.cannot_tell = (
                f"{head} with {n_choice} items and their option orders ({min_p}, so more items or option "
                "orders are needed)"
            )


def _conclude(
    order: stats.PermutationTest | None,
    option: stats.PermutationTest | None,
    alpha: float,
    no_power: list[str],
    seen: dict,
    n: int,
    power: dict,
) -> tuple[str, str]:
    """Verdict slug and a plain-words conclusion with its uncertainty.

    ``contaminated`` when a believable test is significant; ``no-power`` when no test could have found
    anything; ``cannot-tell`` when a test that ran cannot answer (its assumption fails on this benchmark,
    or its smallest attainable p-value is above its level); ``no-evidence`` only when every test could
    have rejected and none did.
    """
    tests = [t for t in (order, option) if t is not None]
    level = tests[0].level if tests and tests[0].level is not None else alpha  # one level for all
    hits = [t for t in tests if _significant(t)]
    frac = ""
    if seen.get("estimate") is not None:
        frac = (
            f" An estimated {seen['estimate']:.0%} of the items were memorised "
            f"(95% interval {seen['low']:.0%}-{seen['high']:.0%})."
        )
    if hits:
        which = "; ".join(f"{t.name} p = {t.p_value:.3g}" for t in hits)
        return "contaminated", (
            f"The model prefers the benchmark as published over shuffled versions ({which}; each "
            f"test at level {level:.3g}, overall false-positive rate at most {alpha:.0%}). "
            "A model that never "
            f"saw these {n} items in this form could not do this except by chance.{frac}"
        )
    if no_power:
        return "no-power", (
            "The tests cannot tell whether the model saw this benchmark: "
            + "; ".join(no_power)
            + ". This is neither evidence of contamination nor of its absence."
        )
    ps = ", ".join(f"{t.name} p = {t.p_value:.3g}" for t in tests)
    cannot = [
        f"the {t.name} test cannot tell: {t.cannot_tell}"
        if t.cannot_tell.startswith("the published")
        else t.cannot_tell
        for t in tests
        if t.cannot_tell is not None
    ]
    if cannot:
        return "cannot-tell", (
            f"The tests cannot tell whether the model saw this benchmark in its published form ({ps}): "
            + "; ".join(cannot)
            + ". This is neither evidence of contamination nor of its absence."
        )
    weak = f" With only {n} items the tests detect only heavy exposure." if power.get("low_power") else ""
    return "no-evidence", (
        f"No evidence that the model saw this benchmark in its published form ({ps}).{weak} "
        "Absence of evidence is not proof of absence: light exposure (a single pass in a large corpus), "
        "training on reformatted or paraphrased items, or on the answers alone, can go undetected."
        f"{frac}"
    )
