"""Issue 19: code written against an older transformers (4.36.2, December 2023) is traced to its parent
with an index built from that release (``code.reference_index(code.transformers_tree(DIR))``).
(With the installed 5.x index it is not: 5.x rewrote modeling_llama.py, 4.36.2's llama shares 16% of
its fingerprints with it; bench/code_lineage.py --old-tree reports both.)

transformers 4.36.2 is read as text from a ``pip install --no-deps --target DIR`` folder (never
imported): ``$TAOKE_OLD_TRANSFORMERS``, else ``~/.cache/taoke-tests/transformers-4.36.2``; under CI
(PyPI reachable) it is installed there when missing; locally, without it, the test is skipped with the
command to run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taoke.analyzers import code
from taoke.cli.main import main
from taoke.errors import SourceNotFound
from taoke.zoo.refactor import yi_style_refactor
from tests.helpers.need import IN_CI, unavailable

VERSION = "4.36.2"


@pytest.fixture(scope="module")
def old_tree() -> tuple[Path, str]:
    folder = Path(
        os.environ.get("TAOKE_OLD_TRANSFORMERS")
        or Path.home() / ".cache" / "taoke-tests" / f"transformers-{VERSION}"
    )
    if code.transformers_tree(folder) is None and IN_CI:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--target",
                str(folder),
                f"transformers=={VERSION}",
            ],
            check=False,
            timeout=600,
        )
    tree = code.transformers_tree(folder)
    if tree is None:
        unavailable(
            f"transformers {VERSION} not found under {folder}: run "
            f"`pip install --no-deps --target {folder} transformers=={VERSION}`"
        )
    assert tree[1] == VERSION
    return tree


def test_older_release_traced_with_the_index_of_its_date(old_tree):
    models, _ = old_tree
    installed = code.reference_index()
    if installed is None:
        unavailable("transformers is not installed: no reference implementations")
    old_index = code.reference_index(old_tree)
    assert old_index.version == VERSION and old_index is not installed
    assert len(old_index.files) < len(installed.files)  # an older, smaller model zoo

    # a custom modeling file of December 2023: 4.36.2's llama refactored Yi-style (classes renamed,
    # norms renamed, licence header dropped)
    yi = yi_style_refactor((models / "llama" / "modeling_llama.py").read_text(encoding="utf-8"))
    fl = code.analyze_text("modeling_yi.py", yi, old_index)
    assert fl.best is not None and fl.best.reference == "llama/modeling_llama.py"
    assert fl.notice_kept == "missing"

    # 4.36.2's mistral says "# Copied from transformers.models.llama..." (comments, dropped by the
    # normalisation): llama is among its reported parents, with mistral's own file left out of the index
    # (the best match is mixtral, mistral's own child of the same year: date precedence cannot order them)
    mistral = (models / "mistral" / "modeling_mistral.py").read_text(encoding="utf-8")
    assert "Copied from transformers.models.llama" in mistral
    fl = code.analyze_text(
        "modeling_mistral.py", mistral, old_index, exclude={old_index.file_id("mistral/modeling_mistral.py")}
    )
    assert fl.best is not None
    assert fl.best.reference in ("llama/modeling_llama.py", "mixtral/modeling_mixtral.py")
    assert "llama/modeling_llama.py" in {m.reference for m in fl.matches if m.parent}


def _yi_release(folder: Path, models: Path, wrote: str | None) -> Path:
    """A release of December 2023: 4.36.2's llama refactored Yi-style, and a config saying who wrote it."""
    folder.mkdir()
    text = (models / "llama" / "modeling_llama.py").read_text(encoding="utf-8")
    (folder / "modeling_yi.py").write_text(yi_style_refactor(text), encoding="utf-8")
    cfg = {"architectures": ["YiForCausalLM"], "model_type": "Yi", "hidden_size": 64}
    if wrote is not None:
        cfg["transformers_version"] = wrote
    (folder / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return folder


def test_audit_code_reference_traces_against_the_given_tree(old_tree, tmp_path, capsys):
    """``taoke audit --code-reference DIR``: the code is traced against that transformers, named in the
    report; the parent and the dropped licence header are found."""
    models, _ = old_tree
    release = _yi_release(tmp_path / "yi", models, VERSION)
    folder = models.parent.parent  # the pip --target folder
    assert main(["audit", str(release), "--code-reference", str(folder), "-f", "json"]) == 0
    out = capsys.readouterr()
    rep = json.loads(out.out)
    assert "index transformers source 1/1" in out.err  # the one slow step says so (not with -q)
    assert main(["audit", str(release), "--code-reference", str(folder), "-f", "json", "-q"]) == 0
    assert not capsys.readouterr().err
    assert rep["code"]["reference"] == f"transformers {VERSION}"
    (f,) = rep["code"]["files"]
    assert f["best"]["reference"] == "llama/modeling_llama.py" and f["notice_kept"] == "missing"
    assert not [e for e in rep["code"]["evidence"] if e["kind"] == "code-reference-newer"]


def test_audit_says_an_older_release_needs_its_own_transformers(tmp_path, capsys):
    """A modeling file that finds no parent in the installed (newer) transformers: when config.json
    names the older transformers that wrote the release, the audit must not leave that reading as
    original code and must say how to trace it (4.36.2's llama refactored Yi-style is such a file
    under 5.x, which rewrote llama; a file of code of its own is the same case, whatever transformers
    is installed). Without the config's version, or with the installed one, nothing is claimed."""
    installed = code.transformers_models_dir()
    if installed is None or code.version_key(installed[1]) <= code.version_key(VERSION):
        unavailable(f"needs a transformers newer than {VERSION} installed (CI pins 5.x)")
    own = (
        "def fold_quux(zeta, omega):\n"
        "    grid = [zeta * k - omega for k in range(17)]\n"
        "    return sorted(grid)[3:-3]\n"
    )
    for name, wrote, warned in (
        ("old", VERSION, True),
        ("bare", None, False),
        ("same", installed[1], False),
    ):
        release = tmp_path / name
        release.mkdir()
        (release / "modeling_quux.py").write_text(own, encoding="utf-8")
        cfg = {"architectures": ["QuuxForCausalLM"], "model_type": "quux"}
        if wrote is not None:
            cfg["transformers_version"] = wrote
        (release / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
        assert main(["audit", str(release), "-f", "json", "-q"]) == 0
        rep = json.loads(capsys.readouterr().out)
        (f,) = rep["code"]["files"]
        assert f["best"] is None
        ev = [e for e in rep["code"]["evidence"] if e["kind"] == "code-reference-newer"]
        assert bool(ev) == warned, name
        if warned:
            assert ev[0]["detail"]["declared"] == VERSION and ev[0]["detail"]["files"] == ["modeling_quux.py"]
            assert f"--code-reference {VERSION}" in ev[0]["message"]
            assert any(h["kind"] == "code-reference-newer" for h in rep["headline_findings"])


@pytest.mark.parametrize("kind", ["missing", "not-a-tree", "bad-version", "path-like"])
def test_audit_code_reference_bad_input_is_one_line_exit_2(kind, tmp_path, capsys):
    release = tmp_path / "rel"
    release.mkdir()
    (release / "modeling_x.py").write_text("def f(x):\n    return x + 1\n", encoding="utf-8")
    if kind == "missing":
        ref = tmp_path / "no-such-folder"
    elif kind == "not-a-tree":
        ref = tmp_path / "empty"
        ref.mkdir()
    elif kind == "bad-version":  # a version string that would name a folder outside the cache
        ref = tmp_path / "evil"
        (ref / "transformers" / "models").mkdir(parents=True)
        (ref / "transformers" / "__init__.py").write_text('__version__ = "../../outside"\n', encoding="utf-8")
    else:
        ref = Path("../x")
    assert main(["audit", str(release), "--code-reference", str(ref)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(ref) in err[0]


def test_fetch_transformers_installs_a_release_into_the_cache_or_says_why(tmp_path, monkeypatch):
    """``--code-reference VERSION``: pip fetches the release into taoke's cache once (the files are read,
    never imported); a release PyPI does not have is one line saying so."""
    monkeypatch.setenv("TAOKE_HOME", str(tmp_path / "home"))
    with pytest.raises(SourceNotFound) as err:
        code.fetch_transformers("0.0.0.999")
    assert "0.0.0.999" in str(err.value) and len(str(err.value).splitlines()) == 1
    with pytest.raises(SourceNotFound):
        code.fetch_transformers("1.0/../../x")
    try:
        models, version = code.fetch_transformers(VERSION)
    except SourceNotFound as exc:
        if IN_CI:
            raise
        unavailable(f"PyPI not reachable here: {exc}")
    assert version == VERSION and (models / "llama" / "modeling_llama.py").is_file()
    assert models.is_relative_to(tmp_path / "home" / "transformers-src")
    assert code.fetch_transformers(VERSION) == (models, version)  # cached: no second install
    assert not [p for p in (tmp_path / "home" / "transformers-src").iterdir() if p.name.startswith(".tmp")]
