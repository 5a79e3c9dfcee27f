"""Licence identification by text (real licence texts) and obligation checks."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from taoke.analyzers import license as lic


@pytest.fixture(scope="module")
def licdir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "licenses"


def test_shipped_fingerprints_are_reproducible_from_fixtures(licdir: Path):
    shipped = json.loads(
        (resources.files("taoke") / "data" / "licenses" / "fingerprints.json").read_text("utf-8")
    )
    assert lic.build_fingerprints(licdir)["fingerprints"] == shipped["fingerprints"]


def test_every_fixture_text_is_identified_as_itself(licdir: Path):
    for entry in lic.catalog()["licences"]:
        best = lic.identify_text((licdir / entry["file"]).read_text(encoding="utf-8"))[0]
        assert best.licence == entry["id"], entry["file"]
        assert best.f1 > 0.99


def test_near_identical_versions_are_told_apart(licdir: Path):
    for lid in ("llama-3.1", "llama-3.2", "llama-3.3", "llama-4"):
        text = (licdir / f"{lid}.txt").read_text(encoding="utf-8")
        matches = lic.identify_text(text)
        assert matches[0].licence == lid
        assert matches[0].f1 - matches[1].f1 > 0.03


def test_edited_licence_still_identified(licdir: Path):
    lines = (licdir / "llama-3.1.txt").read_text(encoding="utf-8").splitlines()
    edited = "\n".join(line.upper() if i % 3 == 0 else line for i, line in enumerate(lines) if i % 5 != 0)
    best = lic.identify_text("# MODEL TERMS\n\n" + edited)[0]
    assert best.licence == "llama-3.1" and best.f1 >= lic.IDENTIFY_F1


def test_unrelated_text_matches_nothing():
    assert lic.identify_text("This model was trained on cats. " * 20) == []


def test_renamed_licence_file_and_tag_mismatch(licdir: Path):
    text = (licdir / "gemma-terms-of-use-2024-02-21.txt").read_text(encoding="utf-8")
    res = lic.analyze_release_licence({"TERMS_OF_MODEL.md": text}, "apache-2.0")
    assert res.licence == "gemma-2024-02-21"
    assert res.card_licence == "apache-2.0"
    assert any(e.kind == "licence-tag-mismatch" and e.severity == "high" for e in res.evidence)


def test_card_tag_mapping():
    assert lic.from_card_tag("llama3.1") == "llama-3.1"
    assert lic.from_card_tag("Apache-2.0") == "apache-2.0"
    assert lic.from_card_tag("other") is None
    assert lic.from_base_model_name("meta-llama/Llama-3.1-8B-Instruct") == "llama-3.1"
    assert lic.from_base_model_name("meta-llama/Meta-Llama-3-8B") == "llama-3"


def _facts(
    licdir: Path, name: str, card: str, extra: dict[str, str], licence_file: str | None
) -> lic.ReleaseFacts:
    texts = dict(extra)
    if licence_file:
        texts["LICENSE"] = (licdir / licence_file).read_text(encoding="utf-8")
    rl = lic.analyze_release_licence(texts, None)
    return lic.ReleaseFacts(name, card, texts, rl)


def status(checks: list[lic.ObligationCheck]) -> dict[str, str]:
    return {c.id: c.status for c in checks}


def test_llama31_derivative_that_complies(licdir: Path):
    facts = _facts(
        licdir,
        "Llama-3.1-Storyteller-8B",
        "Built with Llama. Use is subject to the Llama 3.1 Acceptable Use Policy.",
        {
            "NOTICE": "Llama 3.1 is licensed under the Llama 3.1 Community License, Copyright © Meta "
            "Platforms, Inc. All Rights Reserved."
        },
        "llama-3.1.txt",
    )
    st = status(lic.check_obligations("llama-3.1", facts, "weights derive from Llama-3.1-8B"))
    assert st == {
        "copy-of-licence": "met",
        "built-with": "met",
        "name-prefix": "met",
        "notice-file": "met",
        "use-policy": "met",
        "mau": "unknown",
    }


def test_llama31_derivative_that_does_not_comply(licdir: Path):
    # The licence text itself quotes "Built with Llama" and the notice: a copy of it does not count.
    facts = _facts(licdir, "Storyteller-8B", "A helpful assistant.", {}, "llama-3.1.txt")
    st = status(lic.check_obligations("llama-3.1", facts, "weights derive from Llama-3.1-8B"))
    assert st["copy-of-licence"] == "met"
    assert st["built-with"] == "not-met"
    assert st["name-prefix"] == "not-met"
    assert st["notice-file"] == "not-met"
    assert st["use-policy"] == "not-met"


def test_llama3_name_prefix_is_llama_3(licdir: Path):
    ok = _facts(licdir, "Llama-3-Chinese-8B", "Built with Meta Llama 3", {}, "llama-3.txt")
    bad = _facts(licdir, "Llama-2-style-8B", "", {}, None)
    assert status(lic.check_obligations("llama-3", ok, "x"))["name-prefix"] == "met"
    assert status(lic.check_obligations("llama-3", ok, "x"))["built-with"] == "met"
    assert (
        status(lic.check_obligations("llama-3", ok, "x"))["use-policy"] == "met"
    )  # AUP appended in the file
    assert status(lic.check_obligations("llama-3", bad, "x"))["name-prefix"] == "not-met"


def test_gemma_notice_and_non_commercial_relicensing(licdir: Path):
    facts = _facts(
        licdir,
        "my-gemma",
        "",
        {
            "NOTICE": "Gemma is provided under and subject to the Gemma Terms "
            "of Use found at ai.google.dev/gemma/terms"
        },
        None,
    )
    assert status(lic.check_obligations("gemma-2024-02-21", facts, "x"))["notice-file"] == "met"
    relicensed = _facts(licdir, "qwen-ft", "", {}, "apache-2.0.txt")
    st = status(lic.check_obligations("qwen-research-2024-09-19", relicensed, "x"))
    assert st["non-commercial"] == "not-met"


def test_apache_code_obligations_from_code_lineage():
    facts = lic.ReleaseFacts(
        "yi",
        "",
        {},
        lic.ReleaseLicence(),
        [
            {
                "file": "modeling_yi.py",
                "reference": "llama/modeling_llama.py",
                "notice": "missing",
                "header_text": "import torch",
            }
        ],
    )
    st = status(lic.check_obligations("apache-2.0", facts, "code copied"))
    assert st["retain-notices"] == "not-met" and st["mark-modifications"] == "not-met"
    assert st["copy-of-licence"] == "not-met"
    ok = lic.ReleaseFacts(
        "x",
        "",
        {},
        lic.ReleaseLicence(),
        [
            {
                "file": "m.py",
                "reference": "r",
                "notice": "kept",
                "header_text": "# Modified from transformers' modeling_llama.py",
            }
        ],
    )
    st = status(lic.check_obligations("apache-2.0", ok, "code copied"))
    assert st["retain-notices"] == "met" and st["mark-modifications"] == "met"
