"""CLI end to end: compare (json/text/html, exit codes 0/1/2), fingerprint, demo."""

from __future__ import annotations

import json

from taoke.cli.main import main
from tests.helpers.compare import zoo_path


def _json(capsys, argv):
    code = main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else out


def test_compare_json_derived_and_exit_codes(capsys):
    a, obf = zoo_path("base-a"), zoo_path("a-obf-all")
    code, d = _json(capsys, ["compare", a, obf, "--format", "json"])
    assert code == 0
    assert d["relationship"] == "obfuscated-copy" and d["derived"] is True and d["p_value"] < 1e-6
    assert len(d["layers"]) == 4 and d["transformations"]["residual_stream"]["kind"] == "rotation"
    code, _ = _json(capsys, ["compare", a, obf, "--format", "json", "--fail-if-derived"])
    assert code == 1


def test_compare_independent_passes_fail_if_derived(capsys):
    code, d = _json(
        capsys, ["compare", zoo_path("base-a"), zoo_path("base-a2"), "--format", "json", "--fail-if-derived"]
    )
    assert code == 0
    assert d["derived"] is False and d["relationship"] == "independent-same-architecture"


def test_compare_bad_input_exits_2(tmp_path, capsys):
    code = main(["compare", str(tmp_path / "nope"), zoo_path("base-a")])
    assert code == 2
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert main(["compare", str(bad), zoo_path("base-a")]) == 2
    assert main(["compare", zoo_path("base-a"), zoo_path("base-a"), "--format", "xml"]) == 2
    capsys.readouterr()


def test_fingerprint_then_compare_fingerprints(tmp_path, capsys):
    fa, fb = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["fingerprint", zoo_path("base-a"), "-o", str(fa)]) == 0
    assert main(["fingerprint", zoo_path("a-yi"), "-o", str(fb)]) == 0
    capsys.readouterr()
    code, d = _json(capsys, ["compare", str(fa), str(fb), "--format", "json"])
    assert code == 0 and d["derived"] is True
    assert d["timings_s"]["compare"] < 1.0


def test_compare_text_and_html(tmp_path, capsys):
    a, ft = zoo_path("base-a"), zoo_path("a-ft-man")
    assert main(["compare", a, ft]) == 0
    text = capsys.readouterr().out
    assert "fine-tuned" in text and "p-value" in text
    out = tmp_path / "r.html"
    assert main(["compare", a, ft, "--format", "html", "-o", str(out)]) == 0
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page


def test_demo_runs_and_is_right(capsys):
    code, d = _json(capsys, ["demo", "--format", "json"])
    assert code == 0
    rows = {r["suspect"]: r for r in d["rows"]}
    assert set(rows) == {"a-yi", "a-obf-all", "a-ft-man", "base-a2"}
    for r in rows.values():
        assert r["relationship"] == r["truth"]
    assert rows["base-a2"]["derived"] is False


def test_device_option_torch_backend_and_unavailable_cuda(tmp_path, capsys, monkeypatch):
    """``--device``: a torch device gives the CPU's fingerprint (CI runs torch on the CPU); a CUDA
    device on a machine without one is a one-line error with exit code 2, before anything is read."""
    from tests.helpers.need import require

    torch = require("torch")
    a = zoo_path("base-a")
    for dev, out in (("cpu", "cpu.npz"), ("torch-cpu", "torch.npz")):
        assert main(["fingerprint", a, "-o", str(tmp_path / out), "-f", "json", "--device", dev]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "cpu.npz"), str(tmp_path / "torch.npz"), "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["relationship"] == "identical"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["compare", a, a, "--device", "cuda", "--no-cache", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no CUDA device" in err[0]
