"""CLI end to end on real files: `taoke inspect` and `taoke llamafy` (exit codes, JSON, one-line errors)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from taoke.cli.main import main
from tests.helpers.need import require

require("torch")
require("transformers")

from tests.helpers.llama import baichuan_release, yi_release  # noqa: E402


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_smollm2_json(capsys, smollm2_gguf):
    code, out, err = _run(capsys, "inspect", str(smollm2_gguf), "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["family"]["family"] == "llama" and d["n_params"] == 134_515_008
    assert d["format"] == "gguf" and d["dtypes"] == {"Q8_0": 1, "F32": 61, "Q4_1": 210}
    assert len(d["tensors"]) == 272 and all(t.get("canonical") for t in d["tensors"])
    q = next(t for t in d["tensors"] if t["name"] == "blk.0.attn_q.weight")
    assert q["hf_name"] == "model.layers.0.self_attn.q_proj.weight" and q["tensor_type"] == "ATTN_Q"
    assert d["tokenizer"]["size"] == 49152
    assert {"source": "gguf general.license", "value": "apache-2.0"} in d["licence"]
    assert d["hparams"]["n_kv_heads"] == 3
    assert any(e["kind"] == "param-claim" for e in d["evidence"])


def test_inspect_smollm2_text_verify(capsys, smollm2_gguf):
    code, out, err = _run(capsys, "inspect", str(smollm2_gguf), "--verify")
    assert code == 0, err
    assert "llama family" in out and "134,515,008" in out
    assert "blk.*.attn_q.weight" in out and "model.layers.*.self_attn.q_proj.weight" in out and "30x" in out
    assert "read all 272 tensors" in out and "non-finite: 0" in out
    assert "apache-2.0" in out


@pytest.mark.slow
def test_inspect_gemma3_folder_verify(capsys, gemma3_gguf):
    code, out, err = _run(capsys, "inspect", str(gemma3_gguf.parent), "--format", "json", "--verify")
    assert code == 0, err
    d = json.loads(out)
    assert d["family"]["family"] == "gemma3" and d["n_params"] == 268_098_176
    assert d["verify"]["canonical_tensors"] == 236 and d["verify"]["nonfinite"] == []
    assert "Q4_K" in d["dtypes"] and "Q6_K" in d["dtypes"]
    assert d["tokenizer"]["size"] == 262144
    assert set(d["license_files"]) == {"GEMMA_TERMS.html", "NOTICE.md"}
    assert {"source": "gguf general.license", "value": "gemma"} in d["licence"]


def test_inspect_minilm_text(capsys, minilm_dir):
    code, out, err = _run(capsys, "inspect", str(minilm_dir))
    assert code == 0, err
    assert "bert family" in out and "22,713,216" in out and "wordpiece" in out
    assert "blk.*.attn_q.weight" in out and "encoder.layer.*.attention.self.query.weight" in out


def test_inspect_yi_findings_and_code_never_run(capsys, tmp_path):
    folder, _ = yi_release(
        tmp_path / "Yi-34B", card="---\nlicense: apache-2.0\n---\nSupports 200K context.\n"
    )
    code, out, err = _run(capsys, "inspect", str(folder), "--format", "json")
    assert code == 0, err  # modeling_yi.py raises SystemExit if imported: it was not
    d = json.loads(out)
    kinds = {e["kind"]: e for e in d["evidence"]}
    assert d["family"]["label"] == "llama family, renamed"
    assert kinds["renamed-tensor"]["severity"] == "medium"
    assert kinds["context-claim"]["severity"] == "high"
    assert kinds["custom-code"]["detail"]["files"] == ["modeling_yi.py"]
    assert d["code_files"] == ["modeling_yi.py"]


def test_llamafy_cli(capsys, tmp_path):
    src, _ = baichuan_release(tmp_path / "bc")
    code, out, err = _run(capsys, "llamafy", str(src), str(tmp_path / "out"))
    assert code == 0, err
    assert "21/21 output tensors equal their source slice" in out and "PASS" in out
    code, out, err = _run(capsys, "llamafy", str(src), str(tmp_path / "out"))
    assert code == 2 and "--force" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("make", ["missing", "empty", "garbage", "truncated", "not-json-config"])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, make):
    target = tmp_path / "bad"
    if make == "missing":
        pass
    elif make == "empty":
        target.mkdir()
    elif make == "garbage":
        target = tmp_path / "model.safetensors"
        target.write_bytes(b"\x00" * 64)
    elif make == "truncated":
        import numpy as np
        from safetensors.numpy import save_file

        target.mkdir()
        save_file({"w": np.zeros((64, 64), np.float32)}, str(target / "model.safetensors"))
        data = (target / "model.safetensors").read_bytes()
        (target / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif make == "not-json-config":
        folder, _ = yi_release(target)
        (folder / "config.json").write_text("{not json")
    code, out, err = _run(capsys, "inspect", str(target))
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in err
    assert target.name in lines[0]


def test_console_script_subprocess(minilm_dir):
    """The installed entry point, as a user runs it: JSON on stdout, exit 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "taoke.cli.main", "inspect", str(minilm_dir), "-f", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["family"]["family"] == "bert"


def test_inspect_json_streamed_is_the_whole_document(capsys, tmp_path):
    """`inspect -f json` streams its JSON (issue 16: 850,000 tensor rows made the document gigabytes
    in memory): stdout and `-o FILE` hold exactly the text `json_report` gives for the same result with
    its rows materialised, and the rows are made on demand from the model's records."""
    from dataclasses import replace

    from taoke.jobs.inspect import TensorRows, inspect
    from taoke.render.common import json_report
    from taoke.render.inspect import render_inspect

    folder, _ = yi_release(tmp_path / "yi")
    result = inspect(folder)
    assert isinstance(result.tensors, TensorRows)
    rows = list(result.tensors)
    assert len(rows) == len(result.tensors) > 10 and rows[3] == result.tensors[3]
    assert result.tensors[1:3] == rows[1:3]
    whole = json_report("inspect", replace(result, tensors=rows), str(result.family["family"]))
    assert str(render_inspect(result, "json")) == whole
    code, out, err = _run(capsys, "inspect", str(folder), "--format", "json")
    assert code == 0, err
    assert out == whole + "\n"
    target = tmp_path / "out.json"
    code, _, err = _run(capsys, "inspect", str(folder), "--format", "json", "-o", str(target))
    assert code == 0 and target.read_text(encoding="utf-8") == whole + "\n"
    d = json.loads(out)
    ln1 = next(t for t in d["tensors"] if t["name"] == "model.layers.0.ln1.weight")
    assert ln1["canonical"] == "blk.0.attn_norm.weight" and ln1["file"] == "model.safetensors"
