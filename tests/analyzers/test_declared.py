"""Declared lineage (card YAML, GGUF keys, card text) and its reconciliation with measurements."""

from __future__ import annotations

from taoke.analyzers import declared as d


def test_card_yaml_base_model_and_relation():
    dl = d.declared_lineage({"base_model": ["meta-llama/Llama-3.1-8B"], "base_model_relation": "finetune"})
    assert [(p.name, p.relation, p.source) for p in dl.parents] == [
        ("meta-llama/Llama-3.1-8B", "finetune", "card:base_model")
    ]
    merge = d.declared_lineage({"base_model": ["a/x", "b/y"], "base_model_relation": "merge"})
    assert len(merge.structured) == 2 and merge.relation == "merge"


def test_unknown_relation_and_relation_without_base():
    dl = d.declared_lineage({"base_model_relation": "distilled"})
    kinds = {e.kind for e in dl.evidence}
    assert {"unknown-base-model-relation", "relation-without-base", "no-declared-parent"} <= kinds


def test_gguf_base_model_keys():
    g = {
        "general.base_model.count": 2,
        "general.base_model.0.name": "Qwen2.5 7B",
        "general.base_model.0.organization": "Qwen",
        "general.base_model.1.repo_url": "https://huggingface.co/mistralai/Mistral-7B-v0.1",
    }
    dl = d.declared_lineage({}, "", g)
    assert [p.source for p in dl.parents] == ["gguf:general.base_model.0", "gguf:general.base_model.1"]
    assert dl.parents[0].name == "Qwen/Qwen2.5 7B"


def test_card_text_mentions():
    text = (
        "This model is fine-tuned from meta-llama/Llama-2-7b-hf on our data. "
        "It is a quantized version of Foo-7B."
    )
    dl = d.declared_lineage({}, text)
    got = {(p.name, p.relation) for p in dl.parents}
    assert ("meta-llama/Llama-2-7b-hf", "finetune") in got and ("Foo-7B", "quantized") in got
    assert all(p.source == "card text" for p in dl.parents) and dl.structured == []


def test_same_model_names():
    assert d.same_model("meta-llama/Llama-2-7b-hf", "Llama-2-7b-hf")
    assert d.same_model("meta-llama/Llama-2-7b-hf", "llama2-7b-hf")
    assert not d.same_model("meta-llama/Llama-2-7b-hf", "Qwen/Qwen2.5-7B")


def test_undeclared_parent_is_the_headline():
    dl = d.declared_lineage({}, "Our model is trained from scratch.")
    rec = d.reconcile(dl, [d.Measured("Llama-2-7b-hf", "weights", True, "fine-tuned", 1e-30)])
    assert (
        rec.headline == "weights derive from Llama-2-7b-hf (fine-tuned); the release declares no base model"
    )
    assert rec.findings[0].severity == "high" and rec.findings[0].p_value == 1e-30


def test_declared_parent_unsupported_and_confirmed():
    dl = d.declared_lineage({"base_model": "meta-llama/Llama-2-7b-hf"})
    rec = d.reconcile(dl, [d.Measured("Llama-2-7b-hf", "weights", False, "independent", 0.6)])
    assert rec.headline.startswith("declares base meta-llama/Llama-2-7b-hf but the weights do not support it")
    ok = d.reconcile(dl, [d.Measured("Llama-2-7b-hf", "weights", True, "fine-tuned")])
    assert ok.headline is None and ok.findings[0].kind == "declared-parent-confirmed"


def test_declared_other_parent_than_measured():
    dl = d.declared_lineage({"base_model": "mistralai/Mistral-7B-v0.1"})
    rec = d.reconcile(dl, [d.Measured("Qwen2.5-7B", "weights", True, "fine-tuned")])
    assert "declares mistralai/Mistral-7B-v0.1 instead" in rec.headline


def test_tokenizer_and_code_lineage_findings():
    dl = d.declared_lineage({})
    rec = d.reconcile(
        dl,
        [
            d.Measured("llama", "tokenizer", True, "identical"),
            d.Measured("transformers llama/modeling_llama.py", "code", True, "copied-code"),
        ],
    )
    kinds = [e.kind for e in rec.findings]
    assert kinds == ["undeclared-tokenizer", "borrowed-code"] and rec.headline is None
