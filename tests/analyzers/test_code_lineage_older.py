"""Issue 19: code written against an older transformers (4.36.2, December 2023) is traced to its parent
with an index built from that release (``code.reference_index(code.transformers_tree(DIR))``).
(With the installed 5.x index it is not: 5.x rewrote modeling_llama.py, 4.36.2's llama shares 16% of
its fingerprints with it; bench/code_lineage.py --old-tree reports both.)

transformers 4.36.2 is read as text from a ``pip install --no-deps --target DIR`` folder (never
imported): ``$TAOKE_OLD_TRANSFORMERS``, else ``~/.cache/taoke-tests/transformers-4.36.2``; under CI
(PyPI reachable) it is installed there when missing; locally, without it, the test is skipped with the
command to run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taoke.analyzers import code
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
