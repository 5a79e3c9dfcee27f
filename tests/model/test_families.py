"""Family identification from real configs (../shared/fixtures/configs) and from tensor layouts."""

from __future__ import annotations

import json

import gguf
import pytest

from taoke.families import (
    FAMILIES,
    RoleMapper,
    family,
    family_for_config,
    fit_layout,
    identify,
    mapper_for_family,
)

# fixture folder -> family taoke must name (deepseek-llm and Yi-1.5 are LlamaForCausalLM releases)
EXPECTED = {
    "bert": "bert",
    "deepseek": "llama",
    "gemma": "gemma2",
    "gpt2": "gpt2",
    "llama": "llama",
    "llama3": "llama",
    "phi": "phi",
    "phi3": "phi3",
    "qwen2": "qwen2",
    "t5": "t5",
    "yi": "llama",
}


def _configs(fixtures_dir):
    index = json.loads((fixtures_dir / "index.json").read_text())
    return [e for e in index if e["kind"] == "hf-config-json"]


def test_every_fixture_config_is_identified(fixtures_dir):
    entries = _configs(fixtures_dir)
    assert len(entries) >= 16
    seen = set()
    for entry in entries:
        config = json.loads((fixtures_dir / entry["path"]).read_text())
        match = identify(config)
        assert match.family == EXPECTED[entry["family"]], (entry["path"], match.why)
        assert match.arch == family(match.family).gguf_arch
        assert match.confidence >= 0.8
        seen.add(entry["family"])
    assert seen == set(EXPECTED)


def test_fixture_gguf_archs_are_real_gguf_architectures():
    names = set(gguf.MODEL_ARCH_NAMES.values())
    for fam in FAMILIES.values():
        assert fam.gguf_arch in names, fam.name
        for ttype in list(fam.tensors) + list(fam.optional):
            assert ttype in gguf.MODEL_TENSOR.__members__, (fam.name, ttype)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_canonical_layout_identifies_its_own_family(name):
    fam = family(name)
    names = list(fam.expected_names(3))
    match = identify({}, names)
    # Mistral and Gemma store exactly LLaMA's names: the layout alone says llama, the config tells them apart
    twins = sorted(
        (
            f
            for f in FAMILIES.values()
            if dict(f.tensors) == dict(fam.tensors)
            and f.biases == fam.biases
            and dict(f.fused) == dict(fam.fused)
        ),
        key=lambda f: f.priority,
    )
    assert match.family == twins[0].name, match.fits
    with_config = identify({"architectures": [fam.hf_classes[0]]}, names)
    assert with_config.family == name and with_config.agree
    assert not match.renamed
    fit = fit_layout(fam, names)
    assert fit.mapped == fit.exact == len(names)
    assert fit.missing_types == [] and fit.unexpected_types == []


def test_yi_renamed_layout_is_llama_renamed():
    names = [
        n.replace("input_layernorm", "ln1").replace("post_attention_layernorm", "ln2")
        for n in family("llama").expected_names(60)
    ]
    match = identify({"architectures": ["YiForCausalLM"], "model_type": "Yi"}, names)
    assert match.renamed
    assert match.label == "llama family, renamed"
    assert "YiForCausalLM" in (match.note or "")
    # without any config the layout alone still says llama, renamed
    bare = identify({}, names)
    assert bare.family == "llama" and bare.renamed


def test_config_and_layout_disagreement_is_reported():
    qwen_names = list(family("qwen2").expected_names(2))  # q/k/v biases: not a llama layout
    match = identify({"architectures": ["LlamaForCausalLM"]}, qwen_names)
    assert match.family == "qwen2"
    assert match.agree is False
    assert any("config says llama" in w for w in match.why)


def test_role_mapper_uses_gguf_tables_and_extra_data():
    llama = mapper_for_family("llama")
    role = llama.lookup("model.layers.17.ln1.weight")  # gguf's TensorNameMap knows Yi's name
    assert (role.ttype, role.block, role.suffix) == ("ATTN_NORM", 17, ".weight")
    assert llama.lookup("blk.4.attn_q.weight").ttype == "ATTN_Q"
    baichuan = mapper_for_family("baichuan")  # W_pack comes from tensor_names.json
    assert baichuan.lookup("model.layers.0.self_attn.W_pack.weight").ttype == "ATTN_QKV"
    assert RoleMapper("llama").lookup("model.layers.0.self_attn.W_pack.weight") is None
    gemma2 = mapper_for_family("gemma2")  # same HF name, different role per architecture
    assert gemma2.lookup("model.layers.1.post_attention_layernorm.weight").ttype == "ATTN_POST_NORM"
    assert llama.lookup("model.layers.1.post_attention_layernorm.weight").ttype == "FFN_NORM"
    bert = mapper_for_family("bert")
    prefixed = bert.lookup("bert.encoder.layer.2.attention.self.query.bias")
    assert (prefixed.ttype, prefixed.block, prefixed.prefix) == ("ATTN_Q", 2, "bert.")
    t5 = mapper_for_family("t5")  # literal layer numbers inside T5 names are not the block
    assert t5.lookup("decoder.block.5.layer.2.DenseReluDense.wo.weight").block == 5


def test_gguf_mapper_does_not_mutate_gguf_class_tables():
    before = {k: tuple(v) for k, v in gguf.TensorNameMap.block_mappings_cfg.items()}
    RoleMapper("arctic")
    after = {k: tuple(v) for k, v in gguf.TensorNameMap.block_mappings_cfg.items()}
    assert before == after


def test_unknown_class_known_model_type_and_unknown_everything():
    fam, why, note = family_for_config({"architectures": ["MyLlamaForCausalLM"], "model_type": "llama"})
    assert fam.name == "llama" and "not a known llama class" in note
    fam, why, note = family_for_config({"architectures": ["Nope"], "model_type": "nope"})
    assert fam is None
    assert identify({"architectures": ["Nope"]}).family is None


def test_generic_gguf_architecture_falls_back_to_gguf_tables():
    match = identify(
        {}, ["token_embd.weight", "blk.0.attn_qkv.weight", "blk.0.ffn_up.weight"], gguf_arch="mpt"
    )
    assert match.family == "mpt" and match.arch == "mpt"
    assert match.confidence <= 0.6


def test_real_vocab_only_gguf_files_identified_by_general_architecture(fixtures_dir):
    """llama.cpp's vocab-only GGUFs (real converter output): the family follows general.architecture."""
    from taoke.analyzers.architecture import analyze
    from taoke.model import load

    expected = {
        "ggml-vocab-baichuan.gguf": "baichuan",
        "ggml-vocab-bert-bge.gguf": "bert",
        "ggml-vocab-deepseek-llm.gguf": "llama",
        "ggml-vocab-falcon.gguf": "falcon",
        "ggml-vocab-gpt-neox.gguf": "gptneox",
        "ggml-vocab-gpt-2.gguf": "gpt2",
        "ggml-vocab-llama-spm.gguf": "llama",
        "ggml-vocab-phi-3.gguf": "phi3",
        "ggml-vocab-qwen2.gguf": "qwen2",
        "ggml-vocab-mpt.gguf": "mpt",
    }
    found = {p.name: p for p in (fixtures_dir / "tokenizers").glob("*/*.gguf")}
    assert set(expected) <= set(found)
    for name, fam in expected.items():
        with load(found[name]) as m:
            assert m.family.family == fam and m.family.gguf_arch == m.gguf_metadata["general.architecture"]
            assert m.n_params == 0
            kinds = [e.kind for e in analyze(m).evidence]
            assert "no-tensors" in kinds and "missing-tensor" not in kinds


def _llama_names(n_blocks: int) -> list[str]:
    fam = family("llama")
    names = [fam.hf_name(t, None) for t in fam.tensors if "{bid}" not in fam.tensors[t]]
    for b in range(n_blocks):
        names += [fam.hf_name(t, b) for t in fam.tensors if "{bid}" in fam.tensors[t]]
    return [n for n in names if n]


def test_fit_layout_grouped_by_shape_equals_name_by_name() -> None:
    """Identification groups names that differ only in their block number (issue 16: 850,000 tensors
    made ~10^8 look-ups). The grouped score must be the per-name score exactly, for names that are
    canonical, renamed, zero-padded (``07``: not the canonical ``7``), with two numbers, ignored
    buffers, or hostile numbers (``²``, 5,000 digits: ``int`` refuses both, and crashed before)."""
    from taoke.families.identify import _name_groups

    names = _llama_names(40)
    names += ["model.layers.07.mlp.up_proj.weight", "model.layers.3.mlp.experts.5.w1.weight"]
    names += ["transformer.h.4.attn.c_attn.weight", "model.layers.9.self_attn.rotary_emb.inv_freq"]
    names += ["model.layers.\u00b2.mlp.up_proj.weight", "model.layers." + "9" * 5000 + ".mlp.up_proj.weight"]
    assert len(_name_groups(tuple(names), True)) < len(names) // 5  # really grouped
    for fam in ("llama", "gpt2", "qwen2", "gemma2"):
        grouped = fit_layout(family(fam), names)
        _name_groups.cache_clear()
        ungrouped = _name_groups(tuple(names), False)
        assert len(ungrouped) == len(names) - 1  # the inv_freq buffer is ignored
        # name by name: the same fit computed over single names
        single = fit_layout(family(fam), names[:0])
        mapped = exact = 0
        for n in names:
            f = fit_layout(family(fam), [n])
            mapped, exact = mapped + f.mapped, exact + f.exact
        assert (grouped.mapped, grouped.exact, grouped.n_tensors) == (mapped, exact, len(names) - 1), fam
        assert single.n_tensors == 0
    llama = fit_layout(family("llama"), names)
    assert llama.mapped == len(_llama_names(40)) + 1  # the padded 07 has a role but is not exact
    assert llama.exact == len(_llama_names(40))
    mapper = mapper_for_family("llama")
    assert mapper.lookup("model.layers.\u00b2.mlp.up_proj.weight") is None
    assert mapper.lookup("model.layers." + "9" * 5000 + ".mlp.up_proj.weight") is None
    assert identify({}, names).family == "llama"


def test_block_pattern_replaces_the_block_component_only() -> None:
    from taoke.analyzers.architecture import block_pattern

    assert block_pattern("model.layers.7.ln1.weight", 7) == "model.layers.*.ln1.weight"
    assert block_pattern("a.7.7", 7) == "a.*.7"
    assert block_pattern("x.07.y", 7) == "x.07.y" and block_pattern("x.17", 7) == "x.17"
    assert block_pattern("7.x", 7) == "*.x" and block_pattern("x.7", None) == "x.7"


def test_generic_fits_skip_names_no_architecture_maps_exactly() -> None:
    """When no family fits, every gguf architecture is scored; names that none of them can map are
    dropped once (issue 16: 100,000 unknown names x ~100 architectures). The fits must equal those
    computed over all the names."""
    from taoke.families.data import generic_family
    from taoke.families.identify import _generic_mappers

    names = [f"transformer.blocks.{b}.ffn.experts.mlp.w1.weight" for b in range(6)]
    names += [f"model.layers.{i}.extra.w{i}" for i in range(3000)]
    names += ["rwkv.blocks.0.attention.key.weight", "blk.0.attn_q.weight", "output.weight"]
    match = identify({}, names)
    got = {f["family"]: (f["mapped"], f["exact"], f["n_tensors"]) for f in match.fits}
    generic = [a for a in _generic_mappers() if a in got]
    assert generic, got
    for arch in generic:
        full = fit_layout(generic_family(arch), names)
        assert got[arch] == (full.mapped, full.exact, full.n_tensors), arch


def test_family_fits_skip_names_no_mapper_maps_exactly() -> None:
    """Names that no family and no architecture can map are dropped once before the family fits
    (issue 16: 100,000 distinct unmapped names were looked up once per family). Every fit, with its
    score and missing/unexpected roles, must equal the fit computed over all the names."""
    from taoke.families.identify import _any_mapper

    base = _llama_names(6) + ["transformer.h.4.attn.c_attn.weight", "model.layers.2.mlp.up_proj.bias"]
    names = base + [f"model.layers.{i}.extra.w{i}" for i in range(2000)]
    assert sum(_any_mapper().lookup(n) is None for n in names) >= 2000
    match = identify({}, names)
    fits = {f["family"]: f for f in match.fits}
    assert len(fits) == 3
    for name, got in fits.items():
        full = fit_layout(family(name), names).to_dict()
        assert got == full, name
        assert got["n_tensors"] == len(names)
    # a name the union maps is kept: a llama role in the middle of the unmapped ones changes the fit
    assert identify({}, names[:-1] + ["model.layers.1999.mlp.up_proj.weight"]).fits != match.fits
