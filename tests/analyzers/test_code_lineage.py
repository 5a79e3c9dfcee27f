"""Code lineage: normalised token winnowing against the installed transformers' modeling files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from taoke.analyzers import code
from taoke.limits import Limits
from taoke.zoo.refactor import yi_style_refactor
from tests.helpers.need import unavailable

SNIPPET = textwrap.dedent('''
    # a comment that must not matter
    class LlamaMLP(nn.Module):
        """Docstring that must not matter."""

        def __init__(self, config):
            super().__init__()
            self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
            self.act_fn = ACT2FN[config.hidden_act]

        def forward(self, x):
            return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))
''')


def test_normalisation_survives_renaming_comments_docstrings_and_layout():
    renamed = (
        SNIPPET.replace("LlamaMLP", "YiFeedForward")
        .replace("gate_proj", "w1")
        .replace("# a comment that must not matter", "")
        .replace('"""Docstring that must not matter."""', "")
        .replace(
            "nn.Linear(config.hidden_size, config.intermediate_size, bias=False)",
            "nn.Linear(\n            config.hidden_size,\n            config.intermediate_size,\n"
            "            bias=False)",
        )
    )
    assert code.normalise(SNIPPET).norm == code.normalise(renamed).norm


def test_normalisation_keeps_structure():
    changed = SNIPPET.replace("return self.down_proj(", "if x:\n                return self.down_proj(")
    assert code.normalise(SNIPPET).norm != code.normalise(changed).norm


def test_winnowing_guarantee_shared_run_always_detected():
    # Schleimer et al. 2003: any shared run of >= w + k - 1 tokens shares a fingerprint.
    rng = np.random.default_rng(0)
    vocab = [f"t{i}" for i in range(50)]
    for _ in range(20):
        shared = list(rng.choice(vocab, code.W + code.K - 1))
        a = list(rng.choice(vocab, 100)) + shared + list(rng.choice(vocab, 100))
        b = list(rng.choice(vocab, 37)) + shared + list(rng.choice(vocab, 61))
        ha, hb = code.kgram_hashes(a), code.kgram_hashes(b)
        fa, fb = set(ha[code.winnow(ha)].tolist()), set(hb[code.winnow(hb)].tolist())
        assert fa & fb


def test_winnow_picks_rightmost_minimum_once():
    h = np.array([5, 3, 3, 7, 9, 1, 1, 8], dtype=np.uint64)
    pos = code.winnow(h, 3).tolist()
    assert pos == sorted(set(pos))
    assert 2 in pos and 6 in pos  # rightmost of the tied minima


@pytest.fixture(scope="module")
def index():
    idx = code.reference_index()
    if idx is None:
        unavailable("transformers is not installed: no reference implementations")
    return idx


@pytest.fixture(scope="module")
def llama_text(index):
    return (index.root / "llama" / "modeling_llama.py").read_text(encoding="utf-8")


def test_index_covers_installed_transformers(index):
    rels = {f.rel for f in index.files}
    assert "llama/modeling_llama.py" in rels
    assert len(rels) > 100
    assert np.all(np.diff(index.hashes.astype(np.float64)) >= 0)


def test_yi_style_refactor_attributed_to_modeling_llama_with_notice_missing(index, llama_text):
    yi = yi_style_refactor(llama_text)
    assert "LlamaAttention" not in yi and "ln1" in yi and "input_layernorm" not in yi
    assert "Licensed under the Apache License" not in yi
    fl = code.analyze_text("modeling_yi.py", yi, index)
    assert fl.best is not None and fl.best.reference == "llama/modeling_llama.py"
    assert fl.best.containment_suspect > 0.6
    assert fl.notice_kept == "missing"
    assert fl.reference_header["licence"] == "Apache-2.0"
    derived = {b["name"] for b in fl.best.blocks if b["cover"] >= 0.5}
    assert {"LlamaAttention", "LlamaDecoderLayer", "rotate_half"} <= derived
    assert fl.spans and all(s.suspect_text and s.reference_text for s in fl.spans)
    # side by side: the matched suspect lines really are the renamed reference lines
    s = max(fl.spans, key=lambda s: s.fingerprints)
    assert s.suspect_end >= s.suspect_start and s.reference_end >= s.reference_start


def test_verbatim_copy_with_header_keeps_notice(index, llama_text):
    fl = code.analyze_text("modeling_copy.py", llama_text, index, with_spans=False)
    assert fl.best is not None
    assert fl.notice_kept == "kept"


def test_unrelated_code_has_no_parent(index):
    text = textwrap.dedent("""
        import json, sys
        def main(argv):
            data = json.load(open(argv[1]))
            total = 0
            for row in data["rows"]:
                if row.get("skip"):
                    continue
                total += row["value"] * 2
            print(total)
        if __name__ == "__main__":
            main(sys.argv)
    """)
    fl = code.analyze_text("tool.py", text, index)
    assert fl.best is None


def test_bad_files_become_one_line_findings(tmp_path: Path, index):
    (tmp_path / "junk.py").write_bytes(b"x = 1\n\x00\x01\x02\xff" * 10)
    (tmp_path / "bad.py").write_bytes(b'x = "\xff\xfe"\n')
    (tmp_path / "latin.py").write_bytes(b'# -*- coding: latin-1 -*-\nx = "\xe9"\n')
    (tmp_path / "broken.py").write_text("def f(:\n    return [1, 2\n", encoding="utf-8")
    (tmp_path / "huge.py").write_text("x = 1\n" * 2000, encoding="utf-8")
    files = [(p.name, p) for p in sorted(tmp_path.iterdir())]
    res = code.analyze_files(files, Limits(max_text_bytes=4096), index=index)
    by = {f.path: f for f in res.files}
    assert by["junk.py"].status == "skipped" and "NUL" in by["junk.py"].reason
    assert by["bad.py"].status == "skipped" and "not decodable" in by["bad.py"].reason
    assert by["huge.py"].status == "skipped" and "limit" in by["huge.py"].reason
    assert by["latin.py"].status == "compared"
    assert by["broken.py"].status == "compared" and by["broken.py"].tolerant
    kinds = [e.kind for e in res.evidence]
    assert kinds.count("code-unreadable") == 3 and "code-not-python" in kinds
    assert all("\n" not in e.message for e in res.evidence)


def test_code_over_the_code_bound_is_skipped_before_tokenizing(tmp_path: Path, index):
    """Normalising a 15 MB .py took 1.8 GB (issue 16): files over TAOKE_MAX_CODE_BYTES (2 MiB by
    default, under the 16 MiB text limit) are skipped with a one-line reason, smaller ones compared."""
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * (Limits().max_code_bytes // 6 + 1), encoding="utf-8")
    assert Limits().max_code_bytes < big.stat().st_size < Limits().max_text_bytes
    (tmp_path / "small.py").write_text("x = 1\n" * 100, encoding="utf-8")
    files = [(p.name, p) for p in sorted(tmp_path.iterdir())]
    by = {f.path: f for f in code.analyze_files(files, Limits(), index=index).files}
    assert by["big.py"].status == "skipped" and "TAOKE_MAX_CODE_BYTES" in by["big.py"].reason
    assert str(big.stat().st_size) in by["big.py"].reason and "\n" not in by["big.py"].reason
    assert by["small.py"].status == "compared"
    tight = {f.path: f for f in code.analyze_files(files, Limits(max_code_bytes=100), index=index).files}
    assert tight["small.py"].status == "skipped" and "TAOKE_MAX_CODE_BYTES" in tight["small.py"].reason


def test_index_cache_roundtrip(tmp_path: Path, index, monkeypatch):
    files = sorted(index.root.glob("llama/modeling_*.py")) + sorted(index.root.glob("gpt2/modeling_*.py"))
    small = code.build_index(index.root, index.version, files)
    code.save_index(small, tmp_path)
    loaded = code.load_index(tmp_path, index.version, index.root)
    assert loaded is not None and loaded.from_cache
    assert [f.rel for f in loaded.files] == [f.rel for f in small.files]
    assert np.array_equal(loaded.hashes, small.hashes)
    assert code.load_index(tmp_path, "0.0.0-other", index.root) is None  # keyed by transformers version


def _blocks_of(text: str, *names: str) -> str:
    """The source of the named top-level classes/functions of a text, in that order."""
    lines = text.splitlines()
    by = {b.name: b for b in code.top_level_blocks(text)}
    return "\n\n".join("\n".join(lines[by[n].start - 1 : by[n].end]) for n in names) + "\n"


def test_classes_are_credited_to_the_file_each_came_from(index):
    """A file assembled from two parents (llama's decoder classes, bert's embeddings and pooler),
    every class renamed: each class is aligned to the file it came from, both are parents, and the
    one supplying most of the rare code is the best match."""
    llama = (index.root / "llama" / "modeling_llama.py").read_text(encoding="utf-8")
    bert = (index.root / "bert" / "modeling_bert.py").read_text(encoding="utf-8")
    text = _blocks_of(llama, "LlamaMLP", "LlamaAttention", "LlamaDecoderLayer", "LlamaModel") + _blocks_of(
        bert, "BertEmbeddings", "BertPooler"
    )
    text = text.replace("Llama", "Mix").replace("Bert", "Mix")
    fl = code.analyze_text("modeling_mix.py", text, index, with_spans=False)
    origins = {b.name: b.origins for b in fl.blocks}
    assert set(origins) == {
        "MixMLP",
        "MixAttention",
        "MixDecoderLayer",
        "MixModel",
        "MixEmbeddings",
        "MixPooler",
    }
    assert "llama/modeling_llama.py" in origins["MixDecoderLayer"]
    assert "bert/modeling_bert.py" in origins["MixEmbeddings"]
    parents = {m.reference for m in fl.matches if m.parent}
    assert {"llama/modeling_llama.py", "bert/modeling_bert.py"} <= parents
    assert fl.best is not None and fl.best.reference == "llama/modeling_llama.py"
    shares = {m.reference: m.origin_share for m in fl.matches}
    assert shares["llama/modeling_llama.py"] > shares["bert/modeling_bert.py"] >= code.MIN_ORIGIN


# three methods no reference file holds: they make each class below differ from llama's as a whole
NOVEL_METHODS = """
    def zeta_schedule(self, steps, warm, floor):
        out = []
        for s in range(steps):
            if s < warm:
                out.append((s + 1) / warm)
            else:
                span = max(1, steps - warm)
                frac = (s - warm) / span
                out.append(floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * frac)))
        return out

    def zeta_bucket(self, positions, n_buckets, max_distance):
        sign = (positions > 0).long()
        rel = positions.abs()
        exact = n_buckets // 2
        small = rel < exact
        scale = torch.log(rel.float() / exact + 1e-6) / math.log(max_distance / exact)
        large = exact + (scale * (n_buckets - exact)).long()
        large = torch.minimum(large, torch.full_like(large, n_buckets - 1))
        return sign * n_buckets + torch.where(small, rel, large)

    def zeta_gate_stats(self, gates, tokens_per_expert, eps):
        density = tokens_per_expert.float() / tokens_per_expert.sum().clamp(min=eps)
        prob = gates.mean(dim=0)
        balance = (density * prob).sum() * gates.shape[-1]
        entropy = -(prob * (prob + eps).log()).sum()
        return {"balance": balance, "entropy": entropy, "max": prob.max(), "min": prob.min()}
"""


def test_a_class_whose_forward_was_rewritten_is_traced_by_its_other_methods(index):
    """llama's MLP, attention, decoder layer and rotary embedding, renamed, each with its ``forward``
    rewritten and new methods added: no class matches llama's as a whole (Dice under BLOCK_SIM), so
    crediting whole classes finds no parent at all; aligned method by method, the unchanged methods
    name llama (fails on the whole-class rule)."""
    llama = (index.root / "llama" / "modeling_llama.py").read_text(encoding="utf-8")
    lines = llama.splitlines()
    blocks, members = code.parse_blocks(llama)
    by = {b.name: b for b in blocks}
    parts = []
    for name in ("LlamaMLP", "LlamaAttention", "LlamaDecoderLayer", "LlamaRotaryEmbedding"):
        b = by[name]
        fw = next(m for m in members if m.name == f"{name}.forward")
        assert fw.kind == "method" and b.start < fw.start <= fw.end <= b.end
        parts.append(
            "\n".join(lines[b.start - 1 : fw.start - 1] + lines[fw.end : b.end]) + "\n" + NOVEL_METHODS
        )
    text = ("import math\nimport torch\n\n\n" + "\n\n".join(parts)).replace("Llama", "Zeta")
    fl = code.analyze_text("modeling_zeta.py", text, index, with_spans=False)
    classes = {b.name: b for b in fl.blocks}
    assert set(classes) == {"ZetaMLP", "ZetaAttention", "ZetaDecoderLayer", "ZetaRotaryEmbedding"}
    assert all(0 < b.similarity < code.BLOCK_SIM for b in classes.values())
    att = classes["ZetaAttention"]
    assert {m.name for m in att.members} >= {"ZetaAttention.__init__", "ZetaAttention.zeta_bucket"}
    assert "llama/modeling_llama.py" in att.origins
    assert not next(m for m in att.members if m.name == "ZetaAttention.zeta_bucket").origins
    assert fl.best is not None and fl.best.reference == "llama/modeling_llama.py" and fl.best.parent
    assert fl.best.origin_share >= code.MIN_ORIGIN


def test_a_common_parent_outranks_a_sibling_that_copied_it_later(index):
    """qwen3 and smollm3 are both assembled from llama and qwen2 (their modular files say so) and
    each is the other's nearest file; the older common parent is the one named, not the sibling."""
    rel = "qwen3/modeling_qwen3.py"
    fl = code.analyze_text(
        rel,
        (index.root / rel).read_text(encoding="utf-8"),
        index,
        exclude={index.file_id(rel)},
        with_spans=False,
    )
    assert fl.best is not None
    assert fl.best.reference in {
        "llama/modeling_llama.py",
        "qwen2/modeling_qwen2.py",
        "gemma/modeling_gemma.py",
    }
    # the sibling is below the best one, or not even among the ten reported matches (since undated
    # references such as qwen2 are dated by their model folder, they take the classes they hold)
    shares = {m.reference: m.origin_share for m in fl.matches}
    assert shares.get("smollm3/modeling_smollm3.py", 0.0) < fl.best.origin_share


def test_unparseable_or_deeply_nested_code_has_no_blocks_but_is_compared(index):
    nested = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    assert code.top_level_blocks(nested) == []
    assert code.top_level_blocks("def f(:\n") == []
    fl = code.analyze_text("nested.py", nested + SNIPPET, index, with_spans=False)
    assert fl.status == "compared" and fl.blocks == []


def _boilerplate_classes(n: int) -> str:
    return "".join(
        f"class C{i}(nn.Module):\n    def forward(self, hidden_states, mask):\n"
        f"        hidden_states = self.proj(hidden_states) * mask + {i}\n"
        "        return self.norm(hidden_states)\n\n"
        for i in range(n)
    )


def test_the_class_alignment_join_is_bounded_and_only_ever_lowers_similarities(index):
    """Issue 19's method alignment met the e2e campaign: 12,000 boilerplate classes (2 MB) share their
    fingerprints with thousands of reference classes each, and aligning them took 8 minutes and 1.3 GB.
    The join is sized before it is made; past the bound the file's most common fingerprints are left
    out. A real file is never bounded at the default; a bounded one only loses similarity."""
    text = _boilerplate_classes(3000)
    fl = code.analyze_text("modeling_rep.py", text, index, with_spans=False, max_align_rows=400_000)
    assert 0 < fl.align_rows <= 400_000 and fl.align_left_out > 0
    free = code.analyze_text("modeling_rep.py", text, index, with_spans=False, max_align_rows=10**9)
    assert free.align_left_out == 0 and free.align_rows > 400_000
    rel = "qwen3_omni_moe/modeling_qwen3_omni_moe.py"  # the largest join of transformers 5.25's files
    real = (index.root / rel).read_text(encoding="utf-8")
    kw = {"exclude": {index.file_id(rel)}, "with_spans": False}
    full = code.analyze_text(rel, real, index, **kw)
    assert full.align_left_out == 0 and full.align_rows <= Limits().max_align_rows
    cut = code.analyze_text(rel, real, index, max_align_rows=full.align_rows // 4, **kw)
    assert cut.align_left_out > 0
    for a, b in zip(cut.blocks, full.blocks, strict=True):
        assert a.similarity <= b.similarity
        for ma, mb in zip(a.members, b.members, strict=True):
            assert ma.similarity <= mb.similarity


def test_a_bounded_alignment_is_reported(tmp_path: Path, index, monkeypatch):
    (tmp_path / "modeling_rep.py").write_text(_boilerplate_classes(1500), encoding="utf-8")
    monkeypatch.setenv("TAOKE_MAX_RELEASE_ALIGN_ROWS", "300000")
    res = code.analyze_files([("modeling_rep.py", tmp_path / "modeling_rep.py")], index=index)
    (fl,) = res.files
    assert fl.status == "compared" and 0 < fl.align_rows <= 300_000
    (ev,) = [e for e in res.evidence if e.kind == "code-alignment-bounded"]
    assert "modeling_rep.py" in ev.message and "TAOKE_MAX_RELEASE_ALIGN_ROWS" in ev.message


def test_one_code_budget_per_release_modeling_files_first(tmp_path: Path, index):
    """Issue 16 (the e2e campaign): 60 .py files of 90 KB, each under the per-file bound, took 25 s of
    CPU. TAOKE_MAX_CODE_BYTES bounds the release's code together; modeling files are compared first,
    so padding with other files cannot push the modeling code out."""
    for i in range(6):
        (tmp_path / f"aaa_pad{i}.py").write_text("def f(a, b):\n    return a + b\n" * 300, encoding="utf-8")
    (tmp_path / "modeling_x.py").write_text("x = 1\n" * 100, encoding="utf-8")
    files = [(p.name, p) for p in sorted(tmp_path.iterdir())]
    pad = (tmp_path / "aaa_pad0.py").stat().st_size
    res = code.analyze_files(files, Limits(max_code_bytes=600 + 2 * pad), index=index)
    by = {f.path: f for f in res.files}
    assert by["modeling_x.py"].status == "compared"
    compared = sorted(p for p, f in by.items() if f.status == "compared")
    assert compared == ["aaa_pad0.py", "aaa_pad1.py", "modeling_x.py"]
    for i in range(2, 6):
        f = by[f"aaa_pad{i}.py"]
        assert f.status == "skipped" and "budget" in f.reason and "TAOKE_MAX_CODE_BYTES" in f.reason


def test_a_block_weighs_its_specificity_not_its_length(index):
    """Two methods (or functions) held by the same number of reference files weigh the same, however
    long each is: a long head copied into dozens of files must not outweigh the short classes only the
    parent holds (fails on the earlier fingerprints x idf weight)."""
    rel = "roberta/modeling_roberta.py"  # bert-like: many classes with as many holders
    fl = code.analyze_text(
        rel,
        (index.root / rel).read_text(encoding="utf-8"),
        index,
        exclude={index.file_id(rel)},
        with_spans=False,
    )
    by_holders: dict[int, set[float]] = {}
    lengths: dict[int, set[int]] = {}
    # the credited units: top-level functions, and the methods of the classes (align_blocks)
    units = [b for b in fl.blocks if b.kind != "class"] + [m for b in fl.blocks for m in b.members]
    assert all(b.holders == 0 for b in fl.blocks if b.kind == "class")
    for b in units:
        if b.holders:
            by_holders.setdefault(b.holders, set()).add(round(b.weight, 9))
            lengths.setdefault(b.holders, set()).add(b.fingerprints)
    shared = [h for h, ls in lengths.items() if len(ls) > 1]
    assert shared, "the test needs two blocks of different length with as many holders"
    for h in shared:
        assert len(by_holders[h]) == 1
    assert max(b.weight for b in units) <= float(np.log(len(index.files)))


def test_bench_ground_truth_reads_every_spelling_of_a_modular_import(tmp_path):
    """nemotron_h's modular file imports ``from ...models.jamba.modeling_jamba``: the bench read only
    ``..X`` and ``transformers.models.X`` and gave it no ground truth at all (fails on the old regex)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_code_lineage", Path(__file__).parents[2] / "bench" / "code_lineage.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for name in ("llama", "jamba", "qwen2", "child"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"modeling_{name}.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "child" / "modular_child.py").write_text(
        "from ...models.jamba.modeling_jamba import JambaAttention\n"
        "from ..llama.modeling_llama import LlamaRMSNorm\n"
        "from transformers.models.qwen2.modeling_qwen2 import Qwen2MLP\n",
        encoding="utf-8",
    )
    known = {f"{n}/modeling_{n}.py" for n in ("llama", "jamba", "qwen2", "child")}
    gt = bench.ground_truth(tmp_path, known)
    assert gt["child/modeling_child.py"] == {
        "jamba/modeling_jamba.py",
        "llama/modeling_llama.py",
        "qwen2/modeling_qwen2.py",
    }


def test_an_undated_reference_is_dated_by_its_model_folder(tmp_path: Path):
    """A modeling file generated from a modular file has no copyright line (mistral, qwen2, phi): it
    counted as the youngest file of all and was never credited with a class a dated file also holds.
    Its folder's other headers date it; its own header, when dated, wins; the index stores both years
    and reads them back (fails on index format 5: no folder fallback, no latest year stored)."""
    from taoke.analyzers.code.index import file_years

    gen = tmp_path / "models" / "gen"
    gen.mkdir(parents=True)
    (gen / "modeling_gen.py").write_text("# generated, no notice\n" + SNIPPET, encoding="utf-8")
    (gen / "configuration_gen.py").write_text(
        "# Copyright 2023 Gen team and The HuggingFace Inc. team.\n# Copyright 2024 Gen team.\nX = 1\n",
        encoding="utf-8",
    )
    (gen / "modular_gen.py").write_text("from ..llama.modeling_llama import LlamaMLP\n", encoding="utf-8")
    dated = tmp_path / "models" / "dated"
    dated.mkdir()
    (dated / "modeling_dated.py").write_text("# Copyright 2021 Dated team.\n" + SNIPPET, encoding="utf-8")
    (dated / "configuration_dated.py").write_text("# Copyright 2019 Other.\nX = 1\n", encoding="utf-8")
    alone = tmp_path / "models" / "alone"
    alone.mkdir()
    (alone / "modeling_alone.py").write_text(SNIPPET, encoding="utf-8")

    def years(p: Path) -> tuple[int, int]:
        return file_years(p, code.header_notice(p.read_text(encoding="utf-8")))

    assert years(gen / "modeling_gen.py") == (2023, 2024)
    assert years(dated / "modeling_dated.py") == (2021, 2021)
    assert years(alone / "modeling_alone.py") == (9999, 9999)
    index = code.build_index(tmp_path / "models", "test")
    code.save_index(index, tmp_path / "cache")
    loaded = code.load_index(tmp_path / "cache", "test", tmp_path / "models")
    assert loaded is not None
    for idx in (index, loaded):
        by = {f.rel: (f.year, f.latest) for f in idx.files}
        assert by == {
            "gen/modeling_gen.py": (2023, 2024),
            "dated/modeling_dated.py": (2021, 2021),
            "alone/modeling_alone.py": (9999, 9999),
        }


def test_an_undated_release_file_is_dated_by_its_folder(tmp_path: Path, index):
    """A release's modeling file without a copyright year takes the earliest year of its folder's
    other headers, as the reference files do: references younger than that are not its parents."""
    (tmp_path / "modeling_x.py").write_text(SNIPPET, encoding="utf-8")
    files = [("modeling_x.py", tmp_path / "modeling_x.py")]
    undated = code.analyze_files(files, index=index).files[0]
    assert any(2019 < m.year < 9999 for m in undated.matches)
    (tmp_path / "configuration_x.py").write_text("# Copyright 2019 X team.\nX = 1\n", encoding="utf-8")
    files.append(("configuration_x.py", tmp_path / "configuration_x.py"))
    dated = next(f for f in code.analyze_files(files, index=index).files if f.path == "modeling_x.py")
    assert all(m.year == 9999 or m.year <= 2019 for m in dated.matches)


def test_shipped_first_release_data_holds_what_it_claims(index):
    """``data/code/first_release.json`` (bench/transformers_releases.py): scanned releases in order,
    one cited wheel each, every entry one of them, history in order (llama before mistral before
    qwen2), every modeling file of the installed transformers listed when the data reaches its
    version, and small."""
    import json
    import re
    from importlib import resources

    from taoke.analyzers.code.index import FIRST_RELEASE_DATA, first_releases, version_key

    raw = resources.files("taoke").joinpath(*FIRST_RELEASE_DATA).read_bytes()
    assert len(raw) < 100_000
    data = json.loads(raw)
    versions = data["versions"]
    keys = [version_key(v) for v in versions]
    assert keys == sorted(set(keys)) and keys[0] == (2, 0) and (4, 0) in keys
    assert [w["version"] for w in data["wheels"]] == versions
    for w in data["wheels"]:
        assert w["file"].startswith(f"transformers-{w['version']}-") and w["file"].endswith(".whl")
        assert re.fullmatch(r"[0-9a-f]{64}", w["sha256"])
    first, listed = first_releases()
    assert listed == versions and first == data["first"]
    assert set(first.values()) <= set(versions)
    assert all(re.fullmatch(r"[^/]+/modeling_[^/]+\.py", k) for k in first)
    # before 4.0 the files were flat (transformers/modeling_bert.py), and count as their later path:
    # bert and roberta were in 2.0, bart came in 2.6, marian in 2.9, blenderbot in 3.4
    assert version_key(first["bert/modeling_bert.py"]) == (2, 0)
    bart, marian, blenderbot = (first[f"{m}/modeling_{m}.py"] for m in ("bart", "marian", "blenderbot"))
    assert (2, 0) < version_key(bart) < version_key(marian) < version_key(blenderbot) < (4, 0)
    assert "utils/modeling_utils.py" not in first  # a flat file without a models/ path is not listed
    llama, mistral, qwen2 = (first[f"{m}/modeling_{m}.py"] for m in ("llama", "mistral", "qwen2"))
    assert version_key(llama) < version_key(mistral) < version_key(qwen2)
    if version_key(index.version) <= keys[-1]:
        assert {f.rel for f in index.files} <= set(first)
        assert (index.release_order() >= 0).all()


def test_a_same_year_holder_first_shipped_earlier_takes_the_block(tmp_path: Path):
    """Two references of the same copyright years hold one class: the year cannot say which is the
    parent, and both used to be credited. The one that transformers shipped first (shipped data) is
    credited alone; the data is not applied to a tree older than its claim (a file of the tree
    existed when it was released), nor to a tree without a release version: both fall back to the years."""
    header = "# Copyright 2023 The HuggingFace Inc. team.\n"
    for model in ("llama", "mistral"):
        folder = tmp_path / "models" / model
        folder.mkdir(parents=True)
        (folder / f"modeling_{model}.py").write_text(header + SNIPPET, encoding="utf-8")
    suspect = SNIPPET.replace("Llama", "Mine")

    def origins(version: str) -> set[str]:
        index = code.build_index(tmp_path / "models", version)
        fl = code.analyze_text("modeling_mine.py", suspect, index, with_spans=False)
        (block,) = [b for b in fl.blocks if b.name == "MineMLP"]
        return set(block.origins)

    both = {"llama/modeling_llama.py", "mistral/modeling_mistral.py"}
    assert origins("5.25.0") == {"llama/modeling_llama.py"}  # llama 4.28, mistral 4.34
    assert origins("4.30.0") == both  # the data dates mistral after this tree: unknown, years decide
    assert origins("test") == both


def test_a_bounded_alignment_that_found_nothing_does_not_read_as_no_match(tmp_path: Path, index, monkeypatch):
    """A user who sets TAOKE_MAX_ALIGN_ROWS too low (0, a typo) gets no parent for a llama copy: the
    text and HTML reports must say the alignment was bounded, not "no reference implementation matches"."""
    from taoke.cli.main import main

    release = tmp_path / "rel"
    release.mkdir()
    llama = (index.root / "llama" / "modeling_llama.py").read_text(encoding="utf-8")
    (release / "modeling_x.py").write_text(llama, encoding="utf-8")
    monkeypatch.setenv("TAOKE_MAX_ALIGN_ROWS", "0")
    out = tmp_path / "a.html"
    assert main(["audit", "-q", "-f", "html", "-o", str(out), str(release)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "alignment was bounded (TAOKE_MAX_ALIGN_ROWS)" in page
    assert "no reference implementation matches" not in page
    assert main(["audit", "-q", "-f", "json", "-o", str(tmp_path / "a.json"), str(release)]) == 0
    (f,) = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))["code"]["files"]
    assert f["best"] is None and f["align_left_out"] > 0
