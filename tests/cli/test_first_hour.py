"""Issue 17, a real user's first hour: each defect reproduced through the public CLI or API, on real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from taoke.cli.main import main
from tests.helpers.compare import zoo_path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _without_tokenizer(src: Path, dest: Path) -> Path:
    """The same weights and config, no tokenizer files: what a weights-only copy ships."""
    dest.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(src / name, dest / name)
    return dest


def test_search_finds_an_identical_parent_whatever_tokenizer_the_suspect_ships(capsys, tmp_path) -> None:
    """The token-keyed shortlist vector put a tokenizer-less copy at cosine -0.02 from its own parent:
    search answered 'no significant relative'."""
    from taoke.registry.vector import compact_vector, raw_vector
    from taoke.weights import fingerprint

    base = Path(zoo_path("base-a"))
    copy = _without_tokenizer(base, tmp_path / "copy")
    fp_base, fp_copy = fingerprint(base), fingerprint(copy)
    assert abs(float(compact_vector(fp_base) @ compact_vector(fp_copy))) < 0.3  # what the old shortlist saw
    assert float(raw_vector(fp_base) @ raw_vector(fp_copy)) > 0.99
    assert abs(float(raw_vector(fp_base) @ raw_vector(fingerprint(zoo_path("base-a2"))))) < 0.3
    db = str(tmp_path / "r.sqlite")
    others = [zoo_path(m) for m in ("base-a2", "calib-00", "calib-01")]
    code, _, err = _run(capsys, "index", str(base), *others, "--db", db, "-q")
    assert code == 0, err
    code, out, err = _run(capsys, "search", str(copy), "--db", db, "-f", "json", "-q")
    assert code == 0, err
    res = json.loads(out)
    best = [h for h in res["hits"] if h["significant"]]
    assert (
        best
        and best[0]["model"]["name"] == "base-a"
        and best[0]["relationship"] in ("identical", "renamed-copy")
    )
    # a tokenizer of another family does not hide the parent either
    other = _without_tokenizer(base, tmp_path / "retokenized")
    shutil.copyfile(Path(zoo_path("base-b")) / "tokenizer.json", other / "tokenizer.json")
    code, out, err = _run(capsys, "search", str(other), "--db", db, "-f", "json", "-q")
    assert code == 0, err
    assert [h["model"]["name"] for h in json.loads(out)["hits"] if h["significant"]][:1] == ["base-a"]


def test_search_refuses_a_registry_that_does_not_exist(capsys, tmp_path) -> None:
    """`search --db NEW` created a folder and an empty database, then said the registry was empty."""
    db = tmp_path / "typo" / "registry.sqlite"
    code, out, err = _run(capsys, "search", zoo_path("base-a"), "--db", str(db))
    assert code == 2 and out == "" and err.count("\n") == 1 and "no such registry" in err
    assert not (tmp_path / "typo").exists()


def test_errors_about_a_single_file_release_name_the_file(capsys, tmp_path) -> None:
    """A single .safetensors without config: the error named its parent folder, not the file."""
    one = tmp_path / "one.safetensors"
    shutil.copyfile(Path(zoo_path("base-a")) / "model.safetensors", one)
    code, _, err = _run(capsys, "llamafy", str(one), str(tmp_path / "out"))
    assert code == 2 and err.count("\n") == 1 and str(one) in err
    code, _, err = _run(capsys, "tokenizer", "identify", str(tmp_path / "nothing-here"))
    assert code == 2


def test_audit_json_names_releases_not_python_objects(capsys, tmp_path) -> None:
    """A reference without tokenizer files: the audit JSON carried "Release(spec=..., kind=...)"."""
    copy = _without_tokenizer(Path(zoo_path("base-a")), tmp_path / "bare")
    code, out, err = _run(capsys, "audit", zoo_path("a-yi"), "--against", str(copy), "-f", "json")
    assert code == 0, err
    assert "Release(" not in out and "PosixPath(" not in out
    comp = json.loads(out)["comparisons"][0]
    assert str(copy) in comp["message"]


def test_eval_writes_nothing_where_it_runs(capsys, tmp_path, monkeypatch) -> None:
    """`taoke eval` used to write ./bench/results/ in whatever folder it ran."""
    manifest = tmp_path / "pairs.json"
    manifest.write_text(
        json.dumps(
            [{"reference": "base-a", "suspect": "a-yi", "relationship": "renamed-copy", "derived": True}]
        )
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = _run(capsys, "eval", str(manifest), "--no-real", "-q", "-f", "json")
    assert list(work.iterdir()) == []
    assert code == 0, err  # the pair is evaluated: success, not an error


def test_vectors_are_unit_norm(tmp_path) -> None:
    from taoke.registry.vector import stored_vector
    from taoke.weights import fingerprint

    v = stored_vector(fingerprint(zoo_path("base-a")))
    assert v.shape == (512,) and np.allclose([np.linalg.norm(v[:256]), np.linalg.norm(v[256:])], 1, atol=1e-5)


def test_scan_reads_a_copy_as_derived_from_the_original_not_the_reverse(capsys, tmp_path) -> None:
    """A GGUF and its llamafied copy in one scan: the original was flagged as an undeclared derivative
    of its own copy."""
    original = Path(zoo_path("a-gguf-f16"))
    copy = tmp_path / "a-gguf-f16-hf"
    code, _, err = _run(capsys, "llamafy", str(original), str(copy), "--no-logits", "-q")
    assert code == 0, err
    listing = tmp_path / "models.txt"
    listing.write_text(f"{original}\n{copy}\n")
    code, out, err = _run(
        capsys, "scan", str(listing), "--db", str(tmp_path / "r.sqlite"), "-w", "1", "-q", "-f", "json"
    )
    assert code == 0, err
    found = {Path(f["source"]).name: f for f in json.loads(out)["findings"]}
    assert found[original.name]["finding"] == "has-derivative"
    assert found[copy.name]["finding"] == "declared-parent-confirmed"
