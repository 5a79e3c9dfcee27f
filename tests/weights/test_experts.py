"""Issue 15.4: mixture-of-experts layouts and expert-level lineage, on the zoo's trained CPU MoEs.

Ground truth comes from ``train_log.json`` (which experts were initialised from base-a's FFN, the expert
order moe-perm applied). The pairs are catalog.MOE_PAIRS; those marked ``fit`` informed the design, the
others are test pairs (nothing is tuned: alpha 1e-3 and 999 permutations are fixed)."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from taoke import zoo
from taoke.model import load
from taoke.moe import ExpertStorage, experts_of, moe_layout
from taoke.weights.experts import expert_lineage
from taoke.zoo.build import train_log


def _model(mid: str):
    return load(str(zoo.materialize(mid)))


def test_stacked_layout_is_read_with_router_count_and_active():
    with _model("base-moe") as m:
        lay = moe_layout(m)
        assert m.family.family == "mixtral"
        assert lay is not None and lay.storage is ExpertStorage.STACKED
        assert (lay.n_experts, lay.active, lay.n_shared, lay.expert_ffn) == (4, 2, 0, 96)
        assert lay.moe_layers == [0, 1, 2, 3] and "4 experts, 2 active per token" in lay.describe()
    with _model("base-a") as dense:
        assert moe_layout(dense) is None


def test_per_expert_qwen_layout_with_shared_expert_reads_the_same_experts(tmp_path):
    """The stacked checkpoint rewritten with Qwen-MoE per-expert names plus a shared expert."""
    src = zoo.materialize("base-moe")
    w = load_file(str(src / "model.safetensors"))
    out = {}
    for k, v in w.items():
        if k.endswith("mlp.experts.gate_up_proj"):
            p = k[: -len("experts.gate_up_proj")]
            for e in range(v.shape[0]):
                out[f"{p}experts.{e}.gate_proj.weight"] = v[e, :96].copy()
                out[f"{p}experts.{e}.up_proj.weight"] = v[e, 96:].copy()
            out[p + "shared_expert.gate_proj.weight"] = v[0, :96].copy()
            out[p + "shared_expert.up_proj.weight"] = v[0, 96:].copy()
        elif k.endswith("mlp.experts.down_proj"):
            p = k[: -len("experts.down_proj")]
            for e in range(v.shape[0]):
                out[f"{p}experts.{e}.down_proj.weight"] = v[e].copy()
            out[p + "shared_expert.down_proj.weight"] = v[0].copy()
        else:
            out[k] = v
    dst = tmp_path / "qwen-moe"
    dst.mkdir()
    save_file(out, str(dst / "model.safetensors"))
    cfg = (src / "config.json").read_text().replace('"num_local_experts"', '"num_experts"')
    (dst / "config.json").write_text(cfg)
    with load(str(dst)) as m, load(str(src)) as ref:
        lay, lay_ref = moe_layout(m), moe_layout(ref)
        assert lay.storage is ExpertStorage.PER_EXPERT and lay.n_shared == 1 and lay.n_experts == 4
        for a, b in zip(experts_of(m, lay, 2), experts_of(ref, lay_ref, 2), strict=True):
            assert np.array_equal(a.gate, b.gate) and np.array_equal(a.down, b.down)


def test_upcycled_names_the_experts_that_carry_the_dense_parent():
    with _model("base-a") as a, _model("moe-up-a") as b:
        res = expert_lineage(a, b)
    truth = {int(k): v for k, v in train_log()["moe-up-a"]["experts_from_parent"].items()}
    assert res.relationship == "upcycled" and res.carried == truth, res.to_dict()
    assert all(m.kept > 0.9 for m in res.matches if m.p_value <= res.alpha)


@pytest.mark.parametrize("ref", ["base-a2", "base-b"])
def test_dense_twin_is_not_an_upcycling_parent(ref):
    with _model(ref) as a, _model("moe-up-a") as b:
        res = expert_lineage(a, b)
    assert res.relationship is None and not res.carried


def test_copied_and_reordered_experts_are_found_in_their_new_order():
    with _model("base-moe") as a, _model("moe-perm") as b:
        res = expert_lineage(a, b)
    assert res.relationship == "expert-lineage" and res.reordered
    order = train_log()["moe-perm"]["expert_order"]  # new expert e is old expert order[e]
    for m in res.matches:
        assert m.reference == order[str(m.layer)][m.suspect] and m.neurons == "permuted"


def test_independent_moes_share_no_expert():
    with _model("base-moe") as a, _model("base-moe2") as b:
        res = expert_lineage(a, b, attention_derived=False)
    assert res.relationship is None and not res.carried


def test_retrained_experts_behind_copied_attention_need_the_attention_verdict():
    with _model("base-moe") as a, _model("moe-att") as b:
        assert expert_lineage(a, b, attention_derived=True).relationship == "expert-lineage"
        assert expert_lineage(a, b, attention_derived=False).relationship is None


def test_retrained_experts_behind_copied_attention_converge_but_carry_nothing():
    """Experts trained anew behind moe-att's frozen attention match base-moe's significantly in some blocks
    (they learn in the same residual basis) but keep none of its neurons: "convergent", not carried, so
    the reason says retrained, never "copied and re-ordered"."""
    with _model("base-moe") as a, _model("moe-att") as b:
        res = expert_lineage(a, b, attention_derived=True)
    assert not res.carried and not res.reordered, res.to_dict()
    assert res.reasons == ["attention copied, experts retrained (no expert carries REFERENCE's)"]
    assert any(m.neurons == "convergent" for m in res.matches)
    assert all(m.kept < 0.5 for m in res.matches if m.neurons == "convergent")


def _residual(ref: str, sus: str):
    from taoke.weights import fingerprint
    from taoke.weights.alignment import residual_map

    return residual_map(fingerprint(str(zoo.materialize(ref))), fingerprint(str(zoo.materialize(sus))))


def test_rotated_moe_copy_is_matched_through_the_residual_map():
    """moe-perm with its residual stream rotated (norms folded; router and experts rotated too): the raw
    probes miss it (the answer would read "experts retrained"), the map found from shared anchors
    recovers every expert in its new order."""
    rot = _residual("base-moe", "moe-perm-rot")
    assert rot is not None and rot.shape == (64, 64) and np.allclose(rot @ rot.T, np.eye(64), atol=1e-6)
    order = train_log()["moe-perm"]["expert_order"]
    with _model("base-moe") as a, _model("moe-perm-rot") as b:
        raw = expert_lineage(a, b, attention_derived=True)
        res = expert_lineage(a, b, attention_derived=True, residual=rot)
    assert not raw.carried
    assert res.relationship == "expert-lineage" and res.reordered and res.residual_mapped
    assert res.carried == {i: [0, 1, 2, 3] for i in range(4)}
    for m in res.matches:
        assert m.reference == order[str(m.layer)][m.suspect] and m.kept > 0.9


def test_rotated_upcycled_moe_names_the_dense_parent():
    with _model("base-a") as a, _model("moe-up-a-rot") as b:
        res = expert_lineage(a, b, residual=_residual("base-a", "moe-up-a-rot"))
    truth = {int(k): v for k, v in train_log()["moe-up-a"]["experts_from_parent"].items()}
    assert res.relationship == "upcycled" and res.carried == truth


def test_no_residual_map_between_independent_moes():
    assert _residual("base-moe2", "moe-perm-rot") is None
    assert _residual("base-moe", "moe-perm") is None  # identity: nothing to undo


@pytest.mark.parametrize(
    ("ref", "sus", "label"),
    [
        ("base-a", "moe-up-a", "upcycled"),
        ("base-moe", "moe-att", "expert-lineage"),
        ("base-moe", "base-moe2", "independent-same-architecture"),
        ("base-moe", "moe-perm-rot", "expert-lineage"),
    ],
)
def test_compare_job_gives_the_expert_verdict(ref, sus, label):
    from taoke.jobs import compare

    res = compare(str(zoo.materialize(ref)), str(zoo.materialize(sus)))
    assert res.relationship == label, res.reasons
    assert "experts" in res.transformations and any(e.kind == "expert-lineage" for e in res.evidence)
    if sus.endswith("-rot"):
        assert res.transformations["experts"]["residual_mapped"] and res.transformations["experts"]["carried"]


def test_inspect_prints_the_experts_line():
    import subprocess
    import sys

    from taoke.jobs.inspect import inspect

    res = inspect(str(zoo.materialize("moe-perm")))
    assert res.experts["n_experts"] == 4 and res.experts["active_per_token"] == 2
    cmd = [sys.executable, "-m", "taoke.cli.main", "inspect", str(zoo.materialize("moe-perm"))]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", **__import__("os").environ}
    )
    assert out.returncode == 0 and "4 experts, 2 active per token, 0 shared" in out.stdout, out.stderr
    assert inspect(str(zoo.materialize("base-a"))).experts is None


def _write_moe_gguf(path, w):
    """base-moe as llama.cpp writes a Mixtral: arch llama, ffn_{gate,up,down}_exps and ffn_gate_inp."""
    import gguf

    wr = gguf.GGUFWriter(str(path), "llama")
    wr.add_block_count(4)
    wr.add_embedding_length(64)
    wr.add_head_count(4)
    wr.add_head_count_kv(2)
    wr.add_feed_forward_length(96)
    wr.add_context_length(512)
    wr.add_expert_count(4)
    wr.add_expert_used_count(2)
    f32 = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in w.items()}
    wr.add_tensor("token_embd.weight", f32["model.embed_tokens.weight"])
    wr.add_tensor("output.weight", f32["lm_head.weight"])
    wr.add_tensor("output_norm.weight", f32["model.norm.weight"])
    names = {
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
    }
    for i in range(4):
        p = f"model.layers.{i}."
        gu = f32[p + "mlp.experts.gate_up_proj"]
        wr.add_tensor(f"blk.{i}.ffn_gate_exps.weight", np.ascontiguousarray(gu[:, :96]))
        wr.add_tensor(f"blk.{i}.ffn_up_exps.weight", np.ascontiguousarray(gu[:, 96:]))
        wr.add_tensor(f"blk.{i}.ffn_down_exps.weight", f32[p + "mlp.experts.down_proj"])
        wr.add_tensor(f"blk.{i}.ffn_gate_inp.weight", f32[p + "mlp.gate.weight"])
        for g, h in names.items():
            wr.add_tensor(f"blk.{i}.{g}.weight", f32[p + h + ".weight"])
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def test_gguf_experts_read_as_the_hf_ones_and_match_in_order(tmp_path):
    src = zoo.materialize("base-moe")
    _write_moe_gguf(tmp_path / "moe.gguf", load_file(str(src / "model.safetensors")))
    with load(str(tmp_path / "moe.gguf")) as m, load(str(src)) as ref:
        lay = moe_layout(m)
        assert lay.storage is ExpertStorage.GGUF and (lay.n_experts, lay.active) == (4, 2)
        for a, b in zip(experts_of(m, lay, 1), experts_of(ref, moe_layout(ref), 1), strict=True):
            assert np.allclose(a.gate, b.gate, atol=1e-3) and np.allclose(a.down, b.down, atol=1e-3)
        res = expert_lineage(ref, m, attention_derived=True)
    # the same experts in the same order: a copy, not expert-lineage (the dense verdict stands)
    assert res.relationship is None and not res.reordered
    assert res.carried == {i: [0, 1, 2, 3] for i in range(4)}
    assert all(mt.neurons == "identity" and mt.response > 0.999 for mt in res.matches)


def test_expert_reasons_have_chinese():
    from taoke import i18n

    with _model("base-a") as a, _model("moe-up-a") as b:
        res = expert_lineage(a, b)
    zh = i18n.text(i18n.message(None, res.reasons[0], None, "zh"))
    assert "专家 0, 1, 2" in zh and "4/4" in zh, zh
    for reason in (
        "experts copied and re-ordered in 3/4 MoE blocks",
        "experts copied, the rest of the weights retrained",
        "attention copied, experts retrained (no expert carries REFERENCE's)",
    ):
        zh = i18n.text(i18n.message(None, reason, None, "zh"))
        assert "专家" in zh and "experts" not in zh, zh


def test_eval_expert_table_scores_every_moe_pair_per_split():
    from rich.console import Console

    from taoke.render.compare import expert_renderables
    from taoke.zoo.catalog import MOE_PAIRS
    from taoke.zoo.expert_eval import expert_table

    ex = expert_table()
    assert len(ex["rows"]) == len(MOE_PAIRS) and set(ex["accuracy"]) == {"fit", "test"}
    wrong = [(r["reference"], r["suspect"], r["answer"]) for r in ex["rows"] if not r["correct"]]
    assert not wrong, wrong
    console = Console(width=200, record=True)
    for r in expert_renderables(ex):
        console.print(r)
    text = console.export_text()
    n_test = sum(r["split"] == "test" for r in ex["rows"])
    assert "mixture-of-experts pairs" in text and f"test: {n_test}/{n_test}" in text and "fit: 4/4" in text
    assert n_test == 9  # the six of issue 15.4 and the three rotated pairs


def test_deepseek_layout_first_block_dense_shared_experts(tmp_path):
    """DeepSeek-V2-Lite-shaped names (MLA attention, block 0 dense, then per-expert routed experts plus
    concatenated shared experts), tiny random tensors: the layout, not lineage, is under test."""
    import json

    rng = np.random.default_rng(0)
    d, f, n_exp = 32, 16, 6
    t: dict[str, np.ndarray] = {
        "model.embed_tokens.weight": rng.standard_normal((100, d)),
        "model.norm.weight": np.ones(d),
        "lm_head.weight": rng.standard_normal((100, d)),
    }
    for i in range(3):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = np.ones(d)
        t[p + "post_attention_layernorm.weight"] = np.ones(d)
        t[p + "self_attn.q_proj.weight"] = rng.standard_normal((48, d))
        t[p + "self_attn.kv_a_proj_with_mqa.weight"] = rng.standard_normal((24, d))
        t[p + "self_attn.kv_a_layernorm.weight"] = np.ones(16)
        t[p + "self_attn.kv_b_proj.weight"] = rng.standard_normal((64, 16))
        t[p + "self_attn.o_proj.weight"] = rng.standard_normal((d, 32))
        if i == 0:
            for n, shape in (("gate_proj", (64, d)), ("up_proj", (64, d)), ("down_proj", (d, 64))):
                t[p + f"mlp.{n}.weight"] = rng.standard_normal(shape)
            continue
        t[p + "mlp.gate.weight"] = rng.standard_normal((n_exp, d))
        for e in range(n_exp):
            for n, shape in (("gate_proj", (f, d)), ("up_proj", (f, d)), ("down_proj", (d, f))):
                t[p + f"mlp.experts.{e}.{n}.weight"] = rng.standard_normal(shape)
        for n, shape in (("gate_proj", (2 * f, d)), ("up_proj", (2 * f, d)), ("down_proj", (d, 2 * f))):
            t[p + f"mlp.shared_experts.{n}.weight"] = rng.standard_normal(shape)
    from safetensors.numpy import save_file as save

    save({k: v.astype(np.float16) for k, v in t.items()}, str(tmp_path / "model.safetensors"))
    cfg = {
        "architectures": ["DeepseekV2ForCausalLM"],
        "model_type": "deepseek_v2",
        "hidden_size": d,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "vocab_size": 100,
        "n_routed_experts": n_exp,
        "num_experts_per_tok": 2,
        "n_shared_experts": 2,
        "first_k_dense_replace": 1,
        "hidden_act": "silu",
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with load(str(tmp_path)) as m:
        lay = moe_layout(m)
        assert m.family.family == "deepseek2"
        assert (lay.n_experts, lay.active, lay.n_shared, lay.expert_ffn) == (n_exp, 2, 2, f)
        assert (
            lay.moe_layers == [1, 2] and lay.dense_layers == [0] and lay.storage is ExpertStorage.PER_EXPERT
        )
        from taoke.moe import shared_of

        assert shared_of(m, lay, 2).width == 2 * f and len(experts_of(m, lay, 1)) == n_exp


def test_two_dense_models_read_no_ffn():
    with _model("base-a") as a, _model("base-a2") as b:
        calls = []
        for m in (a, b):
            m.canonical = lambda key, _f=m.canonical: calls.append(key) or _f(key)
        assert expert_lineage(a, b) is None and not calls
