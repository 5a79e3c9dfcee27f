"""identify() against the shipped library built from the real fixtures, and the user library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taoke.errors import CorruptFile
from taoke.tokenizers import identify, load_tokenizer
from taoke.tokenizers.build_library import CURATED, TOKENIZER_KINDS
from taoke.tokenizers.library import add_to_user_library, load_library, shipped_library_path

# Leave-one-container-out: with the query's own entry removed, what the nearest known tokenizer must be.
# None: no other container of a related vocabulary exists; the answer must then not claim lineage.
LOO = {
    "mpt/ggml-vocab-mpt.gguf": ("gpt-neox-20b", "identical"),  # same entry, other container
    "gpt-neox/ggml-vocab-gpt-neox.gguf": ("gpt-neox-20b", "identical"),
    "llama/llama2/tokenizer.json": ("mistral-v1", "identical"),
    "mistral/tokenizer.model.v1": ("mistral-v1", "identical"),
    "phi3/ggml-vocab-phi-3.gguf": ("llama2-spm", "extends"),
    "llama/ggml-vocab-llama-spm.gguf": ("phi-3", "subset"),
    "llama3/tokenizer.model": ("llama3", "subset"),
    "llama3/ggml-vocab-llama-bpe.gguf": ("llama3-tiktoken", "extends"),
    "mistral/mistral_instruct_tokenizer_240216.model.v2": ("mistral-v1", "extends"),
    "mistral/mistral_instruct_tokenizer_240323.model.v3": ("mistral-v1", "extends"),
    "baichuan/baichuan2/tokenizer.json": ("baichuan-7b", "extends"),
    "baichuan/ggml-vocab-baichuan.gguf": ("baichuan2", "subset"),
    "refact/ggml-vocab-refact.gguf": ("starcoder2", "partial-overlap"),
    "starcoder/ggml-vocab-starcoder.gguf": ("refact-1.6", "partial-overlap"),
    "qwen2/ggml-vocab-qwen2.gguf": ("llama3", "partial-overlap"),
    "deepseek/ggml-vocab-deepseek-coder.gguf": ("deepseek-llm", "partial-overlap"),
    "deepseek/ggml-vocab-deepseek-llm.gguf": ("deepseek-coder", "partial-overlap"),
    "internlm/internlm2/tokenizer.json": ("llama3", "partial-overlap"),  # cl100k-derived (InternLM2 report)
    "bert/ggml-vocab-bert-bge.gguf": None,
    "chatglm/chatglm3/tokenizer.json": None,
    "falcon/ggml-vocab-falcon.gguf": None,
    "gpt2/ggml-vocab-gpt-2.gguf": None,
    "yi/yi/tokenizer.json": None,
}


def _fixture_items(fixtures_dir: Path) -> list[dict]:
    index = json.loads((fixtures_dir / "index.json").read_text(encoding="utf-8"))
    return [it for it in index if it["kind"] in TOKENIZER_KINDS]


@pytest.fixture(scope="module")
def library():
    return load_library(include_user=False)


def test_library_is_small_and_cites_sources(fixtures_dir: Path, library, gemma3_gguf: Path) -> None:
    assert shipped_library_path().stat().st_size < 400_000
    index = {it["path"]: it for it in _fixture_items(fixtures_dir)}
    cited = {s["path"] for e in library for s in e.sources}
    from taoke.tokenizers.build_library import REAL

    real = {p for p in cited if p.startswith("real:")}  # the real models of build_library.REAL (Gemma 3)
    assert {p.split("/")[0].removeprefix("real:") for p in real} == set(REAL)
    assert cited - real == set(index)  # every tokenizer fixture, nothing else
    import hashlib

    index[f"real:gemma3/{gemma3_gguf.name}"] = {
        "sha256": hashlib.sha256(gemma3_gguf.read_bytes()).hexdigest()
    }
    for e in library:
        for s in e.sources:
            assert s["sha256"] == index[s["path"]]["sha256"] and s["source"] and s["license"]


def test_every_fixture_identifies_itself_exactly(fixtures_dir: Path, library) -> None:
    wrong = []
    for it in _fixture_items(fixtures_dir):
        name, family, _ = CURATED[it["path"].split("/", 1)[1]]
        best = identify(load_tokenizer(fixtures_dir / it["path"]), top=3, library=library).best
        if not (best and best.name == name and best.family == family and best.exact == "order"):
            wrong.append((it["path"], best and (best.name, best.relation)))
    assert not wrong


def test_leave_one_container_out(fixtures_dir: Path, library) -> None:
    assert set(LOO) == {it["path"].split("/", 1)[1] for it in _fixture_items(fixtures_dir)}
    wrong = []
    for rel, expected in LOO.items():
        path = f"tokenizers/{rel}"
        rest = [e for e in library if not (len(e.sources) == 1 and e.sources[0]["path"] == path)]
        if (
            expected and expected[1] == "identical"
        ):  # the query's entry stays only through its other container
            rest = [e if e.name != expected[0] else _without(e, path) for e in library]
        best = identify(load_tokenizer(fixtures_dir / path), top=3, library=rest).best
        got = (best.name, best.relation) if best else None
        if expected is None:
            if got is None or got[1] not in ("unrelated",):
                wrong.append((rel, got, "expected no lineage"))
        elif got != expected:
            wrong.append((rel, got, expected))
    assert not wrong


def _without(entry, path: str):
    """The entry as if only its other containers had been in the fixtures (hashes are per vocabulary)."""
    import copy

    e = copy.copy(entry)
    e.sources = [s for s in entry.sources if s["path"] != path]
    assert e.sources, "an 'identical' leave-one-out needs a second container"
    return e


def test_extension_figures(fixtures_dir: Path, library) -> None:
    v3 = load_tokenizer(fixtures_dir / "tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3")
    m = next(m for m in identify(v3, top=10, library=library).matches if m.name == "mistral-v1")
    assert m.relation == "extends" and m.containment == 1.0
    assert m.offset == 768 and m.offset_fraction > 0.99


def test_shipped_library_is_what_the_script_builds(fixtures_dir: Path, library, gemma3_gguf: Path) -> None:
    """The script also reads the real Gemma 3 GGUF (taoke.datasets): ``gemma3_gguf`` makes it available."""
    from taoke.tokenizers.build_library import build

    built, _ = build(fixtures_dir)
    assert {e.name: e.to_json() for e in built} == {e.name: e.to_json() for e in library}


def test_user_library_add_and_identify(fixtures_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TAOKE_CACHE_DIR", str(tmp_path))
    from taoke.tokenizers.encode import gguf_spm_proto

    proto = gguf_spm_proto(fixtures_dir / "tokenizers/llama/ggml-vocab-llama-spm.gguf")
    for i, piece in enumerate(["我们", "北京", "大学"]):
        p = proto.pieces.add()
        p.piece, p.score, p.type = piece, -60000.0 - i, 1
    (tmp_path / "tokenizer.model").write_bytes(proto.SerializeToString())
    mine = load_tokenizer(tmp_path / "tokenizer.model")
    entry = add_to_user_library(mine, "my-chinese-llama", family="llama")
    assert (tmp_path / "tokenizers" / "library.json").is_file()
    res = identify(mine, top=3)
    assert res.best is not None and res.best.name == entry.name and res.best.origin == "user"
    assert res.matches[1].name == "llama2-spm" and res.matches[1].relation == "extends"

    (tmp_path / "tokenizers" / "library.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CorruptFile, match="library.json"):
        identify(mine)


def test_gemma_is_in_the_library(gemma3_gguf) -> None:
    """Issue 17: the library had no Gemma entry, so the real Gemma 3 GGUF was 'nearest' to something
    unrelated. Its embedded vocabulary is now an entry (built from taoke.datasets.fetch('gemma3'))."""
    from taoke.tokenizers import load_tokenizer
    from taoke.tokenizers.library import identify

    res = identify(load_tokenizer(gemma3_gguf))
    assert res.best is not None and res.best.name == "gemma3" and res.best.family == "gemma"
    assert str(res.best.relation) == "identical"
