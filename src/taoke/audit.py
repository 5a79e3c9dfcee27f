"""``taoke audit``: one report on a release — lineage declared vs measured, code, claims, licence
obligations, openness — with evidence for every line.

The orchestrator only gathers inputs (files, card, GGUF metadata, texts) and calls the analyzers; each
layer that cannot run (no weights, no transformers, compare not installed) becomes an info finding, not
an exception. Only a source that cannot be resolved at all raises (one-line ``TaokeError``).

>>> report = audit("path/to/release", against=["path/to/llama"])   # doctest: +SKIP
>>> report.headline                                                 # doctest: +SKIP
'weights derive from llama (fine-tuned); the release declares no base model'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taoke.analyzers import code as code_lineage
from taoke.analyzers import declared as declared_mod
from taoke.analyzers import license as licence_mod
from taoke.analyzers import openness as openness_mod
from taoke.errors import TaokeError
from taoke.evidence import Evidence
from taoke.limits import Limits, current_limits

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
    contamination: list[Any] = field(default_factory=list)  # taoke.contamination.ContaminationResult
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


@dataclass
class _Inputs:
    source: str
    name: str
    root: Path
    files: list[tuple[str, Path]]
    release: Any = None


def _resolve(source: str | Path, limits: Limits) -> _Inputs:
    """The release's files, through ``taoke.sources.resolve`` (folder, file, HF cache, hub id)."""
    from taoke.release import resolve

    rel = resolve(str(source), limits)
    files = [(rel.relative(p), p) for p in rel.files]
    return _Inputs(str(source), rel.name, rel.root, files, rel)


def _read_text(path: Path, limits: Limits) -> str:
    from taoke.release.bounded import read_text

    return read_text(path, limits)


def _card(inp: _Inputs, limits: Limits, ev: list[Evidence]) -> tuple[dict[str, Any], str]:
    from taoke.release import parse_card

    by = {r.lower(): p for r, p in inp.files}
    path = next((by[n] for n in ("readme.md", "readme", "model_card.md") if n in by), None)
    if path is None:
        ev.append(Evidence("audit", "no-model-card", "the release has no README.md model card", "medium"))
        return {}, ""
    try:
        card = parse_card(_read_text(path, limits), path, limits)
    except TaokeError as exc:
        ev.append(Evidence("audit", "card-unreadable", str(exc), "medium"))
        return {}, ""
    return card.metadata, card.text


def _gguf_meta(inp: _Inputs, limits: Limits, ev: list[Evidence]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rel, path in inp.files:
        if not rel.lower().endswith(".gguf"):
            continue
        try:
            from taoke.formats.gguf import GGUFFile

            with GGUFFile(path, limits) as g:
                out.update({k: v for k, v in g.metadata().items() if k.startswith("general.")})
        except TaokeError as exc:
            ev.append(Evidence("audit", "gguf-unreadable", str(exc), "medium"))
        break  # shards of one model share the general.* keys
    return out


def _texts(inp: _Inputs, limits: Limits, ev: list[Evidence]) -> dict[str, str]:
    """Top-level text files other than the card (licences, NOTICE, policies — whatever their names:
    a renamed licence is identified by its content)."""
    out: dict[str, str] = {}
    for rel, path in inp.files:
        name = rel.rsplit("/", 1)[-1]
        suffix = Path(name).suffix.lower()
        if "/" in rel and not licence_mod.is_licence_like(rel):
            continue
        if suffix not in _TEXT_EXT or name.lower() in ("readme.md", "readme") or name.startswith("."):
            continue
        if suffix == "" and not licence_mod.is_licence_like(rel):
            continue
        try:
            out[rel] = _read_text(path, limits)
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


def _architecture_claims(inp: _Inputs, limits: Limits, card_text: str) -> tuple[list[Evidence], Any]:
    """The architecture/claims analyzers' checks, when a model can be loaded from the release."""
    has_weights = any(
        r.lower().endswith((".safetensors", ".gguf", ".bin", ".pt", ".pth")) for r, _ in inp.files
    )
    has_config = any(r.lower() == "config.json" for r, _ in inp.files)
    if not (has_weights or has_config):
        return [
            Evidence(
                "claims",
                "claims-skipped",
                "no weights or config.json: no architecture claims to check",
                "info",
            )
        ], None
    if not has_weights:
        return _config_only_claims(inp, limits, card_text), None
    try:
        from taoke import model as model_mod
        from taoke.analyzers import architecture
    except ImportError as exc:  # another engineer's module not present in this build
        return [
            Evidence("claims", "claims-unavailable", f"architecture analyzer unavailable ({exc})", "info")
        ], None
    try:
        m = model_mod.load(inp.release if inp.release is not None else inp.root, limits)
    except TaokeError as exc:
        return [Evidence("claims", "model-unreadable", str(exc), "medium")], None
    ev: list[Evidence] = []
    try:
        ev.extend(architecture.analyze(m).evidence)
        try:
            from taoke.analyzers import claims as claims_mod  # type: ignore[attr-defined]

            res = claims_mod.analyze(m)
            ev.extend(getattr(res, "evidence", res if isinstance(res, list) else []))
        except ImportError:
            pass
    except TaokeError as exc:
        ev.append(Evidence("claims", "claims-error", str(exc), "medium"))
    return ev, m


def _config_only_claims(inp: _Inputs, limits: Limits, card: str) -> list[Evidence]:
    """Without weights the model view cannot be built; the context claim can still be checked against
    config.json (the Yi-34B case: card 200K, config 4096 positions, no RoPE scaling)."""
    import json

    path = dict(inp.files).get("config.json")
    try:
        cfg = json.loads(_read_text(path, limits)) if path else {}
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
    try:
        from taoke.analyzers.claims import context_claims
    except ImportError:
        return ev
    claims = context_claims(card, "card") if card else []
    if eff is None:
        return ev
    for c in claims:
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
    if not claims:
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


def _compare(reference: str, suspect: str, limits: Limits) -> tuple[str, str, dict[str, Any] | None]:
    """(status, message, result dict) from ``taoke.compare.compare``; 'unavailable' when not installed."""
    try:
        from taoke.compare import compare  # type: ignore[import-not-found]
    except ImportError:
        return "unavailable", "compare unavailable (taoke.compare is not installed in this build)", None
    try:
        res = compare(reference, suspect)
    except TaokeError as exc:
        return "error", str(exc), None
    except (ValueError, ArithmeticError, MemoryError, OSError) as exc:
        # one layer failing must not lose the rest of the report; the failure is stated, not hidden
        return "error", f"compare failed: {type(exc).__name__}: {exc}", None
    return "ok", "", res.to_dict() if hasattr(res, "to_dict") else dict(res)


def _tokenizer_compare(reference: Any, suspect: Any) -> tuple[str, dict[str, Any] | None]:
    """Tokenizer lineage between the two releases (``taoke.tokenizers``), when both have one."""
    try:
        from taoke.tokenizers import compare as tcmp
        from taoke.tokenizers import loaders
    except ImportError:
        return "tokenizer comparison unavailable", None

    def view(rel: Any) -> Any:
        loader = getattr(loaders, "load_release_tokenizer", None) or getattr(loaders, "load_tokenizer", None)
        if loader is not None:
            return loader(rel)
        path = rel.find("tokenizer.json")
        return loaders.load_tokenizer_json(path, rel.limits) if path else None

    try:
        a, b = view(reference), view(suspect)
        if a is None or b is None:
            return "no tokenizer.json in one of the releases", None
        res = tcmp.compare_tokenizers(a, b, behaviour=False)
    except TaokeError as exc:
        return str(exc), None
    except (ValueError, KeyError, TypeError, OSError) as exc:
        return f"tokenizer comparison failed: {type(exc).__name__}: {exc}", None
    return "", res.to_dict() if hasattr(res, "to_dict") else {"relation": getattr(res, "relation", None)}


def _tokenizer_identity(inp: _Inputs, limits: Limits, ev: list[Evidence]) -> declared_mod.Measured | None:
    """Without --against: the nearest tokenizer of taoke's shipped library (tokenizer lineage), when the
    release has a tokenizer. Only identical / extended / subset / reordered vocabularies count as lineage."""
    try:
        from taoke.tokenizers import library, loaders
    except ImportError:
        return None
    if inp.release is None or not loaders.find_tokenizer_files(inp.release):
        return None
    try:
        res = library.identify(loaders.load_tokenizer(inp.release, limits), top=3)
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
            derived = rel in declared_mod.DERIVED_RELATIONSHIPS
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
    source: str | Path,
    against: Sequence[str | Path] | Iterable[str | Path] = (),
    lang: str = "en",
    limits: Limits | None = None,
    benchmarks: Sequence[str | Path] = (),
) -> AuditReport:
    """Audit one release; ``against`` are reference releases for weights/tokenizer comparison.

    ``benchmarks``: benchmark files the user has; when the card reports benchmark scores, each is tested
    for contamination (:mod:`taoke.contamination`) and the result joins the report's claims.
    """
    limits = limits or current_limits()
    inp = _resolve(source, limits)
    ev: list[Evidence] = []
    report = AuditReport(
        inp.source, inp.name, lang if lang in ("en", "zh") else "en", [r for r, _ in inp.files], evidence=ev
    )
    meta, card_text = _card(inp, limits, ev)
    gguf = _gguf_meta(inp, limits, ev)
    texts = _texts(inp, limits, ev)
    display = str(meta.get("model_name") or gguf.get("general.name") or inp.name)
    report.name = display

    # code lineage
    py = [(r, p) for r, p in inp.files if r.lower().endswith(".py")]
    report.code = (
        code_lineage.analyze_files(py, limits)
        if py
        else code_lineage.CodeLineageResult(
            [], None, evidence=[Evidence("code", "no-code", "the release ships no .py files", "info")]
        )
    )

    # declared lineage
    report.declared = declared_mod.declared_lineage(meta, card_text, gguf)

    # claims
    report.claims, _model = _architecture_claims(inp, limits, card_text)
    if _model is not None:
        _model.close()
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
        _contamination(report, inp, list(benchmarks))

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
        comp = _one_comparison(str(ref), inp, limits)
        report.comparisons.append(comp)
        measured.extend(_measured(comp))
        if comp.status != "ok":
            ev.append(Evidence("compare", "compare-" + comp.status, f"{ref}: {comp.message}", "info"))
    if not report.comparisons:
        known = _tokenizer_identity(inp, limits, ev)
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
        display, card_text, texts, report.licence, _derived_code(report.code, texts, inp, limits)
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
        [r for r, _ in inp.files], meta, card_text, report.licence.licence, spdx, headers
    )
    report.openness = openness_mod.assess(inv, display)

    report.headline_findings = _headlines(report)
    return report


def _one_comparison(ref: str, inp: _Inputs, limits: Limits) -> Comparison:
    try:
        ref_inp = _resolve(ref, limits)
    except TaokeError as exc:
        return Comparison(ref, ref, "error", str(exc))
    ref_meta, ref_card = _card(ref_inp, limits, [])
    ref_name = str(ref_meta.get("model_name") or ref_inp.name)
    ref_texts = _texts(ref_inp, limits, [])
    ref_lic = licence_mod.analyze_release_licence(ref_texts, ref_meta.get("license"), ref_card).licence
    status, message, result = _compare(ref, inp.source, limits)
    tok_msg, tok = ("", None)
    if ref_inp.release is not None and inp.release is not None:
        try:
            tok_msg, tok = _tokenizer_compare(ref_inp.release, inp.release)
        except TaokeError as exc:
            tok_msg = str(exc)
    msg = "; ".join(x for x in (message, tok_msg) if x)
    return Comparison(ref, ref_name, status, msg, result, tok, ref_lic)


def _derived_code(
    code: code_lineage.CodeLineageResult | None, texts: dict[str, str], inp: _Inputs, limits: Limits
) -> list[dict[str, Any]]:
    out = []
    for f in code.files if code else []:
        if f.best is None:
            continue
        path = dict(inp.files).get(f.path)
        head = ""
        if path is not None:
            text, _ = code_lineage.read_code_text(path, limits)
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


def _contamination(report: AuditReport, inp: _Inputs, files: list[str | Path]) -> None:
    """Test the card's benchmark claims against the user's benchmark files (one model load for all).

    A bad benchmark file is the user's input error and raises; a model taoke cannot run becomes a
    finding, so the rest of the audit still stands.
    """
    from taoke.contamination import analyze, load_scorer, read_benchmark

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
        scorer = load_scorer(inp.source)
    except TaokeError as exc:
        report.claims.append(
            Evidence(
                "contamination", "contamination-not-run", f"benchmark contamination not tested: {exc}", "low"
            )
        )
        return
    for f, items in parsed:
        result = analyze(inp.source, f, scorer=scorer, items=items)
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
        if e.kind == "code-notice-missing":
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
