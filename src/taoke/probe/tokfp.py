"""Tokenizer fingerprint of a black-box endpoint from ``usage.prompt_tokens``.

WHY it works: an endpoint reports how many tokens the prompt took. The chat template and any hidden
system prompt add an unknown but *constant* overhead, so the difference between a probe text and a
baseline cancels it (up to a constant boundary effect of a token or two, fitted as an offset). Texts
chosen where tokenizers disagree most (Chinese, code indentation, digits, emoji, Cyrillic, long words)
give a vector of counts that a few known tokenizers reproduce exactly and the rest miss by tens of
tokens. A shell that injects a system prompt cannot hide it without rewriting ``usage``.

The expected counts of known tokenizers live in ``probe/data/tokenizer_counts.json``, built offline from
tokenizer files by ``python -m taoke.probe.tokfp build`` (the shared fixtures, SmolLM2, Gemma 3, the zoo).
When the endpoint offers ``logprobs``, the token strings it returns are a second, direct witness.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taoke.probe.client import ProbeClient

WRAP = "Text:\n{}\n"
BASELINE = "Text:\n\n"

PROBE_TEXTS: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog near the riverbank.",
    "人工智能模型的来源审计需要可靠的证据和清晰的解释。",
    "def f(x):\n    return [i ** 2 for i in range(x) if i % 3 == 0]",
    "3.14159265358979 + 2718281828 = 123456789012",
    "café naïve façade 😀🚀🤖 ½ °C",
    "Привет, как дела? Это проверка токенизатора.",
    "antidisestablishmentarianism internationalization pneumonoultramicroscopic",
    "    indented\n\n\n\ttabs   and    spaces",
)

DATA_FILE = Path(__file__).parent / "data" / "tokenizer_counts.json"
MAX_OFFSET = 3


def expected_deltas(encode: Any) -> list[int]:
    """Token counts of each wrapped probe text minus the wrapped baseline, for one encoder."""
    base = len(encode(BASELINE))
    return [len(encode(WRAP.format(t))) - base for t in PROBE_TEXTS]


def load_known(path: Path = DATA_FILE) -> dict[str, dict[str, Any]]:
    """The known tokenizers' expected deltas: name -> {deltas, family, source}."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("probe_texts") != list(PROBE_TEXTS):
        raise ValueError(
            f"{path}: built for other probe texts; rebuild with python -m taoke.probe.tokfp build"
        )
    return doc["tokenizers"]


def distance(observed: list[int], expected: list[int]) -> tuple[float, int, int]:
    """Relative L1 distance after fitting the constant template offset; also the offset and exact hits."""
    best: tuple[float, int, int] | None = None
    total = max(1, sum(abs(e) for e in expected))
    for c in range(-MAX_OFFSET, MAX_OFFSET + 1):
        diffs = [o - e - c for o, e in zip(observed, expected, strict=True)]
        d = sum(abs(x) for x in diffs) / total
        exact = sum(1 for x in diffs if x == 0)
        if best is None or (d, -exact) < (best[0], -best[2]):
            best = (d, c, exact)
    assert best is not None
    return best


@dataclass
class TokenizerMatch:
    name: str
    family: str
    distance: float
    offset: int
    exact: int


@dataclass
class TokenizerFingerprint:
    """Observed count deltas and the known tokenizers ranked by distance."""

    observed: list[int] | None
    ranking: list[TokenizerMatch] = field(default_factory=list)
    message: str = ""
    logprob_tokens: list[str] = field(default_factory=list)

    @property
    def best(self) -> TokenizerMatch | None:
        return self.ranking[0] if self.ranking else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "observed_deltas": self.observed,
            "message": self.message,
            "ranking": [m.__dict__ for m in self.ranking[:5]],
            "logprob_tokens": self.logprob_tokens[:16],
        }


def match(observed: list[int], known: dict[str, dict[str, Any]] | None = None) -> TokenizerFingerprint:
    """Rank known tokenizers by how well they reproduce ``observed``.

    A match is called when the best one is within 2% and clearly ahead of the runner-up (half its
    distance or less): tokenizers of one lineage (Mistral v1/v2/v3) legitimately tie.
    """
    known = load_known() if known is None else known
    ranking = []
    for name, entry in known.items():
        d, c, exact = distance(observed, entry["deltas"])
        ranking.append(TokenizerMatch(name, entry.get("family", ""), round(d, 4), c, exact))
    ranking.sort(key=lambda m: (m.distance, -m.exact))
    fp = TokenizerFingerprint(observed, ranking)
    if not ranking:
        fp.message = "no known tokenizers"
        return fp
    b = ranking[0]
    second = ranking[1].distance if len(ranking) > 1 else 1.0
    n = len(observed)
    if b.distance <= 0.02 and second > 0 and (b.distance <= second / 2 or second - b.distance >= 0.02):
        fp.message = f"prompt-token counts match {b.name} ({b.exact}/{n} exact, offset {b.offset:+d})"
    elif b.distance <= 0.02:
        ties = [m.name for m in ranking if m.distance <= b.distance]
        fp.message = f"counts fit {', '.join(ties)} equally (one lineage: extended or re-packed)"
    else:
        fp.message = f"no known tokenizer reproduces the counts (nearest {b.name}, {b.distance:.0%} off)"
    return fp


def probe_tokenizer(client: ProbeClient, want_logprobs: bool = True) -> TokenizerFingerprint:
    """Send the baseline and the probe texts with ``max_tokens=1``; match the count deltas."""
    base = client.chat(BASELINE, max_tokens=1, logprobs=want_logprobs)
    if base.prompt_tokens is None:
        return TokenizerFingerprint(None, message="the endpoint reports no usage.prompt_tokens")
    observed = []
    for t in PROBE_TEXTS:
        r = client.chat(WRAP.format(t), max_tokens=1)
        if r.prompt_tokens is None:
            return TokenizerFingerprint(None, message="usage.prompt_tokens missing on some answers")
        observed.append(r.prompt_tokens - base.prompt_tokens)
    fp = match(observed)
    if base.logprobs:
        fp.logprob_tokens = [str(e.get("token")) for e in base.logprobs if isinstance(e, dict)]
    return fp


# -- offline library builder -----------------------------------------------------------------------
def _encoder_for(path: Path, prefer_transformers: bool = False) -> Any:
    """A counting encoder for a tokenizer file: taoke's data-only encoders, or transformers for GGUF.

    WHY transformers for the served models' GGUFs: the test and demo servers (and most deployments)
    tokenize with transformers' conversion of the GGUF vocabulary, which keeps Gemma 3's whitespace
    runs; the data-only SentencePiece proto differs from it on indentation (2-4 tokens per probe).
    """
    from taoke.tokenizers import load_tokenizer
    from taoke.tokenizers.encode import EncoderUnavailable, make_encoder

    if not (prefer_transformers and path.suffix == ".gguf"):
        try:
            return make_encoder(load_tokenizer(str(path))).encode
        except EncoderUnavailable:
            if path.suffix != ".gguf":
                raise
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(  # nosec B615 - a local GGUF file, local_files_only: no download
        str(path.parent), gguf_file=path.name, local_files_only=True
    )
    return lambda t: tok(t, add_special_tokens=False)["input_ids"]


def build(fixtures: Path, extra: dict[str, tuple[Path, str]]) -> dict[str, Any]:
    """Expected deltas for every fixture tokenizer (curated names) plus ``extra`` name -> (file, family)."""
    from taoke.tokenizers.build_library import CURATED

    out: dict[str, Any] = {}
    sources: list[tuple[str, Path, str]] = []
    for rel, (name, family, _note) in CURATED.items():
        sources.append((name, fixtures / "tokenizers" / rel, family))
    sources += [(n, p, f) for n, (p, f) in extra.items()]
    for name, path, family in sources:
        if name in out or not path.exists():
            continue
        try:
            enc = _encoder_for(path, prefer_transformers=name in extra)
        except Exception as exc:  # a tokenizer we cannot run is skipped and said so
            print(f"skip {name}: {type(exc).__name__}: {str(exc)[:80]}", file=sys.stderr)
            continue
        out[name] = {"family": family, "source": path.name, "deltas": expected_deltas(enc)}
    return {"probe_texts": list(PROBE_TEXTS), "wrap": WRAP, "baseline": BASELINE, "tokenizers": out}


def main(argv: list[str] | None = None) -> int:
    """``python -m taoke.probe.tokfp build [FIXTURES]``: rebuild ``data/tokenizer_counts.json``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "build":
        print("usage: python -m taoke.probe.tokfp build [FIXTURES_DIR]", file=sys.stderr)
        return 2
    from taoke import datasets

    default = os.environ.get("TAOKE_FIXTURES") or str(
        Path(__file__).parents[3].parent / "shared" / "fixtures"
    )
    fixtures = Path(argv[1]) if len(argv) > 1 else Path(default)
    zoo_tok = Path(__file__).parents[1] / "zoo" / "data" / "tokenizers"
    extra: dict[str, tuple[Path, str]] = {
        "smollm2": (Path(datasets.fetch("smollm2")), "smollm2"),
        "gemma3": (Path(datasets.fetch("gemma3")), "gemma3"),
        "zoo-tok-code": (zoo_tok / "tok-code.json", "zoo"),
        "zoo-tok-man": (zoo_tok / "tok-man.json", "zoo"),
        "zoo-tok-code-ext": (zoo_tok / "tok-code-ext.json", "zoo"),
    }
    doc = build(fixtures.resolve(), extra)
    DATA_FILE.parent.mkdir(parents=True, exist_ok=True)
    DATA_FILE.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{DATA_FILE}: {len(doc['tokenizers'])} tokenizers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
