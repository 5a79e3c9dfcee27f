"""``taoke audit``: one report on a release — lineage declared vs measured, code, claims, licence
obligations, openness — with evidence for every line.

The orchestrator only gathers inputs (files, card, GGUF metadata, texts) and calls the analyzers; each
layer that cannot run (no weights, a model taoke cannot load or run) becomes a finding, not an
exception. Only a source that cannot be resolved at all raises (one-line ``TaokeError``).

Every release of an audit (the audited one and each ``--against`` reference) is resolved once; its
Model view is loaded at most once and shared by the claims, the weight comparisons and the
contamination tests, and the model card and GGUF metadata are taken from that view when it holds them.

>>> report = audit("path/to/release", against=["path/to/llama"])   # doctest: +SKIP
>>> report.headline                                                 # doctest: +SKIP
'weights derive from llama (fine-tuned); the release declares no base model'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taoke.analyzers import architecture, claims
from taoke.analyzers import code as code_lineage
from taoke.analyzers import declared as declared_mod
from taoke.analyzers import license as licence_mod
from taoke.analyzers import openness as openness_mod
from taoke.analyzers.claims import context_claims
from taoke.contamination import ContaminationResult, analyze, load_scorer, read_benchmark
from taoke.errors import SourceNotFound, TaokeError, UnsupportedFormat
from taoke.evidence import Evidence
from taoke.formats.gguf import GGUFFile
from taoke.jobs.compare import compare
from taoke.limits import Limits, current_limits
from taoke.model import Model, load
from taoke.progress import Progress, no_progress
from taoke.release import WEIGHT_SUFFIXES, ModelCard, Release, load_card, load_config, resolve
from taoke.release.bounded import read_text
from taoke.tokenizers import compare_tokenizers, find_tokenizer_files, load_tokenizer
from taoke.tokenizers import library as tokenizer_library
from taoke.weights import is_fingerprint_file
from taoke.weights.cache import FingerprintCache
from taoke.weights.relationship import DERIVED

__all__ = ["AuditReport", "Comparison", "audit", "benchmark_claims"]

_TEXT_EXT = ("", ".txt", ".md", ".rst")
_BENCH_NAMES = re.compile(
    r"\b(MMLU|C-?Eval|CMMLU|GSM8K|HumanEval|HellaSwag|ARC|BBH|TruthfulQA|MATH|Winogrande|"
    r"GPQA|AGIEval|MBPP|GAOKAO|IFEval|MT-?Bench|AlpacaEval)\b",
    re.I,
)


@dataclass
class Comparison:
    """The weights and tokenizer comparison with one ``--against`` reference."""

    reference: str
    reference_name: str
    status: str  # "ok" | "unavailable" | "error"
    message: str = ""
    compare: dict[str, Any] | None = None
    tokenizer: dict[str, Any] | None = None
    reference_licence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AuditReport:
    """Everything ``taoke audit`` found; renderers draw it, they never compute."""

    source: str
    name: str
    lang: str
    files: list[str]
    headline_findings: list[Evidence] = field(default_factory=list)
    declared: declared_mod.DeclaredLineage | None = None
    reconciliation: declared_mod.Reconciliation | None = None
    code: code_lineage.CodeLineageResult | None = None
    claims: list[Evidence] = field(default_factory=list)
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    contamination: list[ContaminationResult] = field(default_factory=list)
    licence: licence_mod.ReleaseLicence | None = None
    obligations: list[licence_mod.ObligationCheck] = field(default_factory=list)
    openness: openness_mod.OpennessResult | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)  # findings of the audit itself (inputs, errors)

    @property
    def headline(self) -> list[str]:
        """The headline findings as English sentences (renderers translate from the Evidence)."""
        return [e.message for e in self.headline_findings]

    def all_evidence(self) -> list[Evidence]:
        out = list(self.evidence)
        for part in (self.declared, self.reconciliation, self.code, self.licence, self.openness):
            if part is not None:
                out.extend(getattr(part, "evidence", None) or getattr(part, "findings", []))
        out.extend(self.claims)
        for c in self.contamination:
            out.extend(c.evidence())
        out.extend(licence_mod.obligation_evidence(self.obligations))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "name": self.name,
            "lang": self.lang,
            "files": self.files,
            "headline": self.headline,
            "headline_findings": [e.to_dict() for e in self.headline_findings],
            "declared": self.declared.to_dict() if self.declared else None,
            "reconciliation": self.reconciliation.to_dict() if self.reconciliation else None,
            "code": self.code.to_dict() if self.code else None,
            "claims": [e.to_dict() for e in self.claims],
            "benchmarks": self.benchmarks,
            "contamination": [c.to_dict() for c in self.contamination],
            "licence": self.licence.to_dict() if self.licence else None,
            "obligations": [o.to_dict() for o in self.obligations],
            "openness": self.openness.to_dict() if self.openness else None,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "evidence": [e.to_dict() for e in self.evidence],
        }


# --------------------------------------------------------------------------- inputs


class _Subject:
    """One release of the audit, resolved once: its files, and its Model view loaded at most once.

    A view that cannot be loaded is remembered with its error, so every layer that needs the weights
    (claims, each comparison, contamination) reports the same one line without loading it again.
    """

    def __init__(self, release: Release, limits: Limits) -> None:
        self.release = release
        self.limits = limits
        self.files = [(release.relative(p), p) for p in release.files]
        self._model: Model | None = None
        self._error: TaokeError | None = None

    @property
    def has_weights(self) -> bool:
        return any(r.lower().endswith(WEIGHT_SUFFIXES) for r, _ in self.files)

    def model(self) -> Model:
        """The Model view, loaded on first use; if loading failed, its TaokeError on every call."""
        if self._model is None and self._error is None:
            try:
                self._model = load(self.release, self.limits)
            except TaokeError as exc:
                self._error = exc
        if self._error is not None:
            raise self._error
        assert self._model is not None
        return self._model

    @property
    def loaded(self) -> Model | None:
        """The Model view if it was loaded already (never loads it)."""
        return self._model

    def weights(self) -> Model | str:
        """What :func:`taoke.jobs.compare` takes for this release: its Model view, or the path of the
        fingerprint file the release is (``--against ref.taoke.npz``)."""
        only = self.release.files[0] if self.release.kind == "file" else None
        if only is not None and is_fingerprint_file(only):
            return str(only)
        return self.model()

    def card(self) -> tuple[ModelCard | None, str | None]:
        """(model card or None, why it could not be read or None): the view's when it is loaded."""
        if self._model is not None:
            return self._model.card, self._model.card_error
        try:
            return load_card(self.release, self.limits), None
        except TaokeError as exc:
            return None, str(exc)

    def close(self) -> None:
        if self._model is not None:
            self._model.close()


def _card(subject: _Subject, ev: list[Evidence]) -> tuple[dict[str, Any], str]:
    card, error = subject.card()
    if error is not None:
        ev.append(Evidence("audit", "card-unreadable", error, "medium"))
        return {}, ""
    if card is None:
        ev.append(Evidence("audit", "no-model-card", "the release has no README.md model card", "medium"))
        return {}, ""
    return card.metadata, card.text


def _gguf_meta(subject: _Subject, ev: list[Evidence]) -> dict[str, Any]:
    """The ``general.*`` keys of the release's first GGUF file (shards of one model share them): from
    the Model view when it read that file, otherwise from the file's header."""
    first = next((p for r, p in subject.files if r.lower().endswith(".gguf")), None)
    if first is None:
        return {}
    model = subject.loaded
    meta = next((f.metadata for f in model.files if f.path == str(first)), None) if model else None
    if meta is None:
        try:
            with GGUFFile(first, subject.limits) as g:
                meta = g.metadata()
        except TaokeError as exc:
            ev.append(Evidence("audit", "gguf-unreadable", str(exc), "medium"))
            return {}
    return {k: v for k, v in meta.items() if k.startswith("general.")}


def _texts(subject: _Subject, ev: list[Evidence]) -> dict[str, str]:
    """Top-level text files other than the card (licences, NOTICE, policies — whatever their names:
    a renamed licence is identified by its content)."""
    out: dict[str, str] = {}
    for rel, path in subject.files:
        name = rel.rsplit("/", 1)[-1]
        suffix = Path(name).suffix.lower()
        if "/" in rel and not licence_mod.is_licence_like(rel):
            continue
        if suffix not in _TEXT_EXT or name.lower() in ("readme.md", "readme") or name.startswith("."):
            continue
        if suffix == "" and not licence_mod.is_licence_like(rel):
            continue
        try:
            out[rel] = read_text(path, subject.limits)
        except TaokeError as exc:
            ev.append(Evidence("audit", "text-unreadable", str(exc), "low"))
    return out


def benchmark_claims(card_text: str, limit: int = 40) -> list[dict[str, Any]]:
    """Rows of Markdown tables in the card that name a benchmark (MMLU, C-Eval, CMMLU, ...): the
    release's own performance claims, listed for the reader (not verified)."""
    rows: list[dict[str, Any]] = []
    header: list[str] | None = None
    for line in card_text.splitlines():
        s = line.strip()
        if not (s.startswith("|") and s.count("|") >= 3):
            header = None
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
            continue
        if header is None:
            header = cells
            if _BENCH_NAMES.search(s):  # benchmarks as columns: header row names them
                header = cells
            continue
        if _BENCH_NAMES.search(s) or any(_BENCH_NAMES.search(h) for h in header):
            rows.append({"header": header, "cells": cells})
            if len(rows) >= limit:
                break
    return rows


# --------------------------------------------------------------------------- adapters


def _architecture_claims(subject: _Subject, card_text: str) -> list[Evidence]:
    """The architecture/claims analyzers' checks, when a model can be loaded from the release."""
    has_config = any(r.lower() == "config.json" for r, _ in subject.files)
    if not (subject.has_weights or has_config):
        return [
            Evidence(
                "claims",
                "claims-skipped",
                "no weights or config.json: no architecture claims to check",
                "info",
            )
        ]
    if not subject.has_weights:
        return _config_only_claims(subject, card_text)
    try:
        m = subject.model()
    except TaokeError as exc:
        return [Evidence("claims", "model-unreadable", str(exc), "medium")]
    ev: list[Evidence] = []
    try:
        ev.extend(architecture.analyze(m).evidence)
        ev.extend(claims.analyze(m).evidence)
    except TaokeError as exc:
        ev.append(Evidence("claims", "claims-error", str(exc), "medium"))
    return ev


def _config_only_claims(subject: _Subject, card: str) -> list[Evidence]:
    """Without weights the model view cannot be built; the context claim can still be checked against
    config.json (the Yi-34B case: card 200K, config 4096 positions, no RoPE scaling)."""
    path = dict(subject.files).get("config.json")
    try:
        cfg = json.loads(read_text(path, subject.limits)) if path else {}
    except (TaokeError, ValueError) as exc:
        return [Evidence("claims", "config-unreadable", f"config.json: {exc}", "medium")]
    if not isinstance(cfg, dict):
        return [Evidence("claims", "config-unreadable", "config.json is not a JSON object", "medium")]
    ev = [
        Evidence(
            "claims",
            "claims-config-only",
            "no weights in the release: claims checked against config.json only",
            "info",
        )
    ]
    n_pos = cfg.get("max_position_embeddings") or cfg.get("n_positions") or cfg.get("seq_length")
    scaling = cfg.get("rope_scaling") if isinstance(cfg.get("rope_scaling"), dict) else {}
    factor = 1.0
    try:
        factor = float(scaling.get("factor") or 1.0)
        eff = int(float(n_pos) * max(factor, 1.0)) if n_pos else None
    except (TypeError, ValueError):
        eff = None
    stated = context_claims(card, "card") if card else []
    if eff is None:
        return ev
    for c in stated:
        if c.value > eff * 1.05:
            ev.append(
                Evidence(
                    "claims",
                    "context-claim",
                    f"the card claims {c.text!r} ({c.value:,.0f} tokens) but "
                    f"config.json allows {eff:,} positions (max_position_embeddings={n_pos}, rope "
                    f"scaling x{factor:g})",
                    "high",
                    detail={"claim": c.to_dict(), "config": eff},
                )
            )
    if not stated:
        ev.append(
            Evidence(
                "claims",
                "context-length",
                f"context length {eff:,} (config.json); no context claim in the card",
                "info",
                detail={"config": eff},
            )
        )
    return ev


def _compare(
    reference: _Subject, suspect: _Subject, cache: FingerprintCache | None = None
) -> tuple[str, str, dict[str, Any] | None]:
    """(status, message, result dict) of :func:`taoke.jobs.compare` on the two releases' weights."""
    try:
        res = compare(reference.weights(), suspect.weights(), cache=cache)
    except TaokeError as exc:
        return "error", str(exc), None
    except (ValueError, ArithmeticError, MemoryError, OSError) as exc:
        # one layer failing must not lose the rest of the report; the failure is stated, not hidden
        return "error", f"compare failed: {type(exc).__name__}: {exc}", None
    return "ok", "", res.to_dict()


def _tokenizer_compare(reference: _Subject, suspect: _Subject) -> tuple[str, dict[str, Any] | None]:
    """Tokenizer lineage between the two releases (``taoke.tokenizers``), when both have one."""
    try:
        a = load_tokenizer(reference.release, reference.limits)
        b = load_tokenizer(suspect.release, suspect.limits)
        res = compare_tokenizers(a, b, behaviour=False)
    except TaokeError as exc:
        return str(exc), None
    except (ValueError, KeyError, TypeError, OSError) as exc:
        return f"tokenizer comparison failed: {type(exc).__name__}: {exc}", None
    return "", res.to_dict()


def _tokenizer_identity(subject: _Subject, ev: list[Evidence]) -> declared_mod.Measured | None:
    """Without --against: the nearest tokenizer of taoke's shipped library (tokenizer lineage), when the
    release has a tokenizer. Only identical / extended / subset / reordered vocabularies count as lineage."""
    if not find_tokenizer_files(subject.release):
        return None
    try:
        res = tokenizer_library.identify(load_tokenizer(subject.release, subject.limits), top=3)
    except TaokeError as exc:
        ev.append(Evidence("tokenizer", "tokenizer-unreadable", str(exc), "low"))
        return None
    except (ValueError, KeyError, TypeError, OSError) as exc:
        ev.append(
            Evidence(
                "tokenizer",
                "tokenizer-error",
                f"tokenizer identification failed: {type(exc).__name__}: {exc}",
                "low",
            )
        )
        return None
    best = res.best
    if best is None:
        return None
    # A small vocabulary inside a huge one is not lineage: a subset must be most of the known vocabulary.
    derived = (
        best.relation in ("identical", "reordered")
        or (best.relation == "extends" and best.containment >= 0.9)
        or (best.relation == "subset" and best.jaccard >= 0.5)
    )
    ev.append(
        Evidence(
            "tokenizer",
            "tokenizer-identified" if derived else "tokenizer-nearest",
            f"nearest known tokenizer: {best.name} ({best.family}): {best.relation}, Jaccard "
            f"{best.jaccard:.2f} (library of {res.library_size})",
            "info",
            statistic="Jaccard (bottom-k estimate)",
            value=round(best.jaccard, 4),
            detail=best.to_dict(),
        )
    )
    if not derived:
        return None
    return declared_mod.Measured(best.name, "tokenizer", True, best.relation, detail={"family": best.family})


_DERIVED_TOKENIZER = {"identical", "extends", "subset", "reordered", "permuted"}


def _measured(comp: Comparison) -> list[declared_mod.Measured]:
    out = []
    if comp.compare:
        rel = str(comp.compare.get("relationship") or "")
        derived = comp.compare.get("derived")
        if derived is None:
            derived = rel in DERIVED
        out.append(
            declared_mod.Measured(
                comp.reference_name,
                "weights",
                bool(derived),
                rel or "?",
                comp.compare.get("p_value"),
                {"null": comp.compare.get("null"), "reference": comp.reference},
            )
        )
    if comp.tokenizer and comp.tokenizer.get("relation"):
        rel = str(comp.tokenizer["relation"])
        out.append(declared_mod.Measured(comp.reference_name, "tokenizer", rel in _DERIVED_TOKENIZER, rel))
    return out


# --------------------------------------------------------------------------- main entry


def audit(
    source: Release | str | Path,
    against: Sequence[str | Path] | Iterable[str | Path] = (),
    lang: str = "en",
    limits: Limits | None = None,
    benchmarks: Sequence[str | Path] = (),
    cache: FingerprintCache | None = None,
    evidence: str | Path | None = None,
    code_reference: str | Path | None = None,
    progress: Progress = no_progress,
) -> AuditReport:
    """Audit one release (resolved here unless given as a Release); ``against`` are reference releases
    for weights/tokenizer comparison.

    ``benchmarks``: benchmark files the user has; when the card reports benchmark scores, each is tested
    for contamination (:mod:`taoke.contamination`) and the result joins the report's claims.
    ``cache``: fingerprints kept by content (:mod:`taoke.weights.cache`).
    ``evidence``: a JSON/YAML file of links and statements for the openness dimensions that need
    evidence from outside the release (:func:`taoke.analyzers.openness.load_evidence`); read first, so
    a bad file fails before any analysis.
    ``code_reference``: a transformers source tree to trace the release's code against instead of the
    installed one (:func:`taoke.analyzers.code.transformers_tree`: a ``pip install --no-deps --target
    DIR transformers==4.36.2`` folder, or a version fetched from PyPI), for code written against the
    transformers of its date; checked once the release is found, before any analysis; fetching and
    indexing it (seconds to a minute, once) is reported to ``progress``.
    """
    user_evidence = openness_mod.load_evidence(Path(evidence)) if evidence is not None else None
    if isinstance(source, Release):
        release, limits = source, limits or source.limits
    else:
        limits = limits or current_limits()
        release = resolve(str(source), limits)
    # after the release is found (a mistyped SOURCE fails before a download), before any analysis
    code_tree = _code_tree(code_reference, progress) if code_reference is not None else None
    subject = _Subject(release, limits)
    references: list[_Subject] = []
    try:
        return _audit(
            subject,
            release.spec,
            against,
            lang,
            benchmarks,
            references,
            cache,
            user_evidence,
            code_tree,
            progress,
        )
    finally:
        for s in (subject, *references):
            s.close()


def _code_tree(reference: str | Path, progress: Progress = no_progress) -> tuple[Path, str]:
    """``--code-reference``: a folder holding a transformers source tree, or a release ("4.36.2")
    fetched into taoke's cache (:func:`taoke.analyzers.code.fetch_transformers`); else one line."""
    path = Path(reference)
    if path.is_dir():
        tree = code_lineage.transformers_tree(path)
        if tree is None:
            raise UnsupportedFormat(
                "not a transformers source tree: no transformers/__init__.py with a release __version__ "
                "beside a models/ folder (make one: pip install --no-deps --target DIR transformers==X)",
                path,
            )
        return tree
    if code_lineage.release_version(str(reference)) is not None:
        progress("fetch transformers source", 0, 1, item=str(reference))
        tree = code_lineage.fetch_transformers(str(reference))
        progress("fetch transformers source", 1, 1, item=str(reference))
        return tree
    raise SourceNotFound(
        "no such folder, and not a transformers release (--code-reference takes a folder or e.g. 4.36.2)",
        path,
    )


def _code_era(subject: _Subject, code: code_lineage.CodeLineageResult, index_version: str) -> list[Evidence]:
    """When config.json says an older transformers wrote the release than the one its code was traced
    against, and a modeling file found no parent: say that the trace is inconclusive and how to make it
    (5.x rewrote the modeling files: a 2023 copy of llama finds no 5.x parent), instead of letting "no
    reference implementation matches" read as original code."""
    unmatched = [
        f.path
        for f in code.files
        if f.status == "compared" and Path(f.path).name.startswith("modeling") and f.best is None
    ]
    if not unmatched:
        return []
    try:
        cfg = load_config(subject.release, subject.limits)
    except TaokeError:
        return []  # the claims layer reports an unreadable config
    wrote = code_lineage.release_version(cfg.get("transformers_version"))
    if wrote is None or code_lineage.version_key(wrote) >= code_lineage.version_key(index_version):
        return []
    return [
        Evidence(
            "code",
            "code-reference-newer",
            f"config.json was written by transformers {wrote} and the code was traced against transformers "
            f"{index_version}: no parent found for {', '.join(unmatched[:3])} is not evidence of original "
            f"code (modeling files are rewritten between releases); trace it against the version of its date "
            f"with --code-reference {wrote}",
            "medium",
            detail={"declared": wrote, "reference": index_version, "files": unmatched},
        )
    ]


def _audit(
    subject: _Subject,
    source: str,
    against: Iterable[str | Path],
    lang: str,
    benchmarks: Sequence[str | Path],
    references: list[_Subject],
    cache: FingerprintCache | None = None,
    user_evidence: dict[str, openness_mod.UserEvidence] | None = None,
    code_tree: tuple[Path, str] | None = None,
    progress: Progress = no_progress,
) -> AuditReport:
    limits = subject.limits
    ev: list[Evidence] = []
    report = AuditReport(
        source,
        subject.release.name,
        lang if lang in ("en", "zh") else "en",
        [r for r, _ in subject.files],
        evidence=ev,
    )
    _load_weights(subject)
    meta, card_text = _card(subject, ev)
    gguf = _gguf_meta(subject, ev)
    texts = _texts(subject, ev)
    display = str(meta.get("model_name") or gguf.get("general.name") or subject.release.name)
    report.name = display

    # code lineage
    py = [(r, p) for r, p in subject.files if r.lower().endswith(".py")]
    if py:
        if code_tree is not None:  # the first index of a release reads all its modeling files (~15 s)
            progress("index transformers source", 0, 1, item=code_tree[1])
        index = code_lineage.reference_index(code_tree)  # None: the installed transformers
        if code_tree is not None:
            progress("index transformers source", 1, 1, item=code_tree[1])
        report.code = code_lineage.analyze_files(py, limits, index)
        if index is not None:
            report.code.evidence.extend(_code_era(subject, report.code, index.version))
    else:
        report.code = code_lineage.CodeLineageResult(
            [], None, evidence=[Evidence("code", "no-code", "the release ships no .py files", "info")]
        )

    # declared lineage
    report.declared = declared_mod.declared_lineage(meta, card_text, gguf)

    # claims
    report.claims = _architecture_claims(subject, card_text)
    report.benchmarks = benchmark_claims(card_text)
    if report.benchmarks:
        report.claims.append(
            Evidence(
                "claims",
                "benchmark-claims",
                f"the card reports {len(report.benchmarks)} benchmark table row(s) (listed, not verified)",
                "info",
            )
        )
    if benchmarks:
        _contamination(report, subject, list(benchmarks))

    # licence of the release
    tag = meta.get("license")
    tag_source = "card"
    if tag in (None, "") and gguf.get("general.license"):
        tag, tag_source = gguf["general.license"], "gguf:general.license"
    report.licence = licence_mod.analyze_release_licence(dict(texts), tag, card_text)
    report.licence.tag_source = tag_source if tag not in (None, "") else None

    # comparisons
    measured: list[declared_mod.Measured] = []
    for ref in against:
        comp = _one_comparison(str(ref), subject, references, cache)
        report.comparisons.append(comp)
        measured.extend(_measured(comp))
        if comp.status != "ok":
            ev.append(Evidence("compare", "compare-" + comp.status, f"{ref}: {comp.message}", "info"))
    if not report.comparisons:
        known = _tokenizer_identity(subject, ev)
        if known is not None:
            measured.append(known)
    for f in report.code.files if report.code else []:
        if f.best is not None:
            measured.append(
                declared_mod.Measured(
                    f"transformers {f.best.reference}", "code", True, "copied-code", detail={"file": f.path}
                )
            )
    report.reconciliation = declared_mod.reconcile(report.declared, measured)

    # obligations
    facts = licence_mod.ReleaseFacts(
        display, card_text, texts, report.licence, _derived_code(report.code, subject)
    )
    report.obligations = _obligations(report, facts, measured)

    # openness
    spdx = None
    if report.licence.licence:
        info = licence_mod.licence_info(report.licence.licence)
        spdx = info.get("spdx") if info else None
    headers = {
        f.path: (f.header.get("licence") if f.header else None)
        for f in (report.code.files if report.code else [])
    }
    inv = openness_mod.inventory_from_release(
        [r for r, _ in subject.files], meta, card_text, report.licence.licence, spdx, headers
    )
    report.openness = openness_mod.assess(inv, display, user_evidence)

    report.headline_findings = _headlines(report)
    return report


def _load_weights(subject: _Subject) -> None:
    """Load the Model view first when the release has weights, so the card and GGUF metadata come from
    it; a view that cannot be loaded is reported by the layers that need it (claims, compare)."""
    if subject.has_weights:
        try:
            subject.model()
        except TaokeError:
            pass


def _one_comparison(
    ref: str, subject: _Subject, references: list[_Subject], cache: FingerprintCache | None = None
) -> Comparison:
    try:
        reference = _Subject(resolve(ref, subject.limits), subject.limits)
    except TaokeError as exc:
        return Comparison(ref, ref, "error", str(exc))
    references.append(reference)
    _load_weights(reference)
    ref_meta, ref_card = _card(reference, [])
    ref_name = str(ref_meta.get("model_name") or reference.release.name)
    ref_texts = _texts(reference, [])
    ref_lic = licence_mod.analyze_release_licence(ref_texts, ref_meta.get("license"), ref_card).licence
    status, message, result = _compare(reference, subject, cache)
    tok_msg, tok = _tokenizer_compare(reference, subject)
    msg = "; ".join(x for x in (message, tok_msg) if x)
    return Comparison(ref, ref_name, status, msg, result, tok, ref_lic)


def _derived_code(code: code_lineage.CodeLineageResult | None, subject: _Subject) -> list[dict[str, Any]]:
    out = []
    for f in code.files if code else []:
        if f.best is None:
            continue
        path = dict(subject.files).get(f.path)
        head = ""
        if path is not None:
            text, _ = code_lineage.read_code_text(path, subject.limits)
            head = "\n".join((text or "").splitlines()[:40])
        out.append(
            {"file": f.path, "reference": f.best.reference, "notice": f.notice_kept, "header_text": head}
        )
    return out


def _obligations(
    report: AuditReport, facts: licence_mod.ReleaseFacts, measured: list[declared_mod.Measured]
) -> list[licence_mod.ObligationCheck]:
    """Which licences bind the release, and why: weights derived from a reference (its licence),
    a declared base model (licence inferred from its name), code copied from transformers (Apache-2.0).
    One licence reached for several reasons is checked once, with all its reasons."""
    reasons: dict[str, list[str]] = {}
    for comp in report.comparisons:
        derived = any(
            m.derived and m.layer == "weights" and m.reference == comp.reference_name for m in measured
        )
        if derived and comp.reference_licence:
            reasons.setdefault(comp.reference_licence, []).append(
                f"weights derive from {comp.reference_name}"
            )
    for p in report.declared.structured if report.declared else []:
        lid = licence_mod.from_base_model_name(p.name)
        if lid:
            reasons.setdefault(lid, []).append(
                f"declared base model {p.name} (licence inferred from its name)"
            )
    heads = (
        {f.best.reference: f.reference_header.get("licence") for f in report.code.files if f.best}
        if (report.code)
        else {}
    )
    apache_code = sorted(ref for ref, lic in heads.items() if lic == "Apache-2.0")
    if apache_code:
        reasons.setdefault("apache-2.0", []).append("code copied from transformers " + ", ".join(apache_code))
    out: list[licence_mod.ObligationCheck] = []
    for lid, why in reasons.items():
        out += licence_mod.check_obligations(lid, facts, "; ".join(why))
    return out


def _contamination(report: AuditReport, subject: _Subject, files: list[str | Path]) -> None:
    """Test the card's benchmark claims against the user's benchmark files (one model load for all).

    A bad benchmark file is the user's input error and raises; a model taoke cannot run becomes a
    finding, so the rest of the audit still stands.
    """
    if not report.benchmarks:
        report.claims.append(
            Evidence(
                "contamination",
                "contamination-skipped",
                "benchmark files were given but the card reports no benchmark scores: not tested",
                "info",
            )
        )
        return
    parsed = [(f, read_benchmark(f)) for f in files]
    try:
        # the view already loaded for the claims; the release (loaded there) when there is none
        scorer = load_scorer(subject.loaded or subject.release)
    except TaokeError as exc:
        report.claims.append(
            Evidence(
                "contamination", "contamination-not-run", f"benchmark contamination not tested: {exc}", "low"
            )
        )
        return
    for f, items in parsed:
        result = analyze(scorer, items, f)
        report.contamination.append(result)
        report.claims.extend(result.evidence()[-1:])


def _headlines(report: AuditReport) -> list[Evidence]:
    """What a reader must see first: lineage not declared or contradicted, copied code without its
    notice, unmet obligations, a licence tag that contradicts the licence text, the openness verdict."""
    out: list[Evidence] = []
    seen: set[str] = set()

    def add(e: Evidence) -> None:
        if e.message not in seen:
            seen.add(e.message)
            out.append(e)

    for e in report.reconciliation.findings if report.reconciliation else []:
        if e.severity == "high":
            add(e)
    for e in report.code.evidence if report.code else []:
        if e.kind in ("code-notice-missing", "code-reference-newer"):
            add(e)
    for c in report.contamination:
        if c.contaminated:
            add(c.evidence()[-1])
    not_met = [o for o in report.obligations if o.status == "not-met"]
    if not_met:
        listed = "; ".join(f"{o.licence} {o.clause}" for o in not_met[:6])
        add(
            Evidence(
                "license",
                "obligations-not-met",
                f"{len(not_met)} licence obligation(s) not met: {listed}",
                "high",
                detail={"count": len(not_met), "list": listed},
            )
        )
    if report.licence:
        for e in report.licence.evidence:
            if e.kind == "licence-tag-mismatch":
                add(e)
    if report.openness:
        add(
            Evidence(
                "openness",
                "openness-conclusion",
                report.openness.conclusion_text,
                "info",
                detail={"slug": report.openness.conclusion},
            )
        )
    return out
