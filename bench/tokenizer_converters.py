"""taoke's GGUF pre-tokenizer table against the converter transformers ships, on llama.cpp's own vectors.

Why this exists: issue 17 asked whether taoke could reuse an existing converter instead of keeping a
table of llama.cpp's pre-tokenizer rules (``taoke.tokenizers.encode.GGUF_PRE_PATTERNS``). The only one
installed is transformers' GGUF tokenizer builder (``transformers.integrations.gguf``:
``get_gguf_tokenizer`` + ``convert_gguf_tokenizer``, the public pair). For each fixture GGUF that has
llama.cpp test-tokenizer-0 vectors (``.inp``/``.out``), both encode every text and the script counts
exact id matches. Prints a table and writes ``bench/results/tokenizer_converters.json``.

    python bench/tokenizer_converters.py [FIXTURES_DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests is a package


def _transformers_encoder(path: Path):  # noqa: ANN202
    from transformers.integrations.gguf import convert_gguf_tokenizer, get_gguf_tokenizer

    arch, tok_dict, _ = get_gguf_tokenizer(str(path))
    tok, _ = convert_gguf_tokenizer(arch, tok_dict)
    return lambda t: tok.encode(t, add_special_tokens=False).ids, tok_dict.get("pre_tokenizer_type")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fixtures", nargs="?", type=Path, default=REPO.parent / "shared" / "fixtures")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "tokenizer_converters.json")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    import transformers

    from taoke.tokenizers import load_tokenizer
    from taoke.tokenizers.encode import make_encoder
    from tests.tokenizers.test_tokenizer_behaviour import ENCODABLE, _vectors

    rows = []
    for rel in ENCODABLE:
        path = args.fixtures / "tokenizers" / rel
        vec = _vectors(path)
        ours = make_encoder(load_tokenizer(path))
        row = {"file": rel, "texts": len(vec), "taoke": sum(ours.encode(t) == ids for t, ids in vec)}
        try:
            enc, pre = _transformers_encoder(path)
            row.update(pre=pre, transformers=sum(enc(t) == ids for t, ids in vec))
        except Exception as exc:  # noqa: BLE001 - a vocabulary the converter cannot build is a result
            row.update(pre=None, transformers=None, transformers_error=f"{type(exc).__name__}: {exc}"[:120])
        rows.append(row)
    print(f"{'vocabulary':45s} {'pre':15s} {'taoke':>8s} {'transformers':>13s}")
    for r in rows:
        tf = "n/a" if r["transformers"] is None else f"{r['transformers']}/{r['texts']}"
        print(f"{r['file']:45s} {str(r['pre']):15s} {r['taoke']:>5d}/{r['texts']:<2d} {tf:>13s}")
    built = [r for r in rows if r["transformers"] is not None]
    summary = {
        "vocabularies": len(rows),
        "taoke": [sum(r["taoke"] for r in rows), sum(r["texts"] for r in rows)],
        "transformers_built": len(built),
        "transformers": [sum(r["transformers"] for r in built), sum(r["texts"] for r in built)],
        "transformers_version": transformers.__version__,
    }
    print(
        f"taoke {summary['taoke'][0]}/{summary['taoke'][1]} on {len(rows)} vocabularies; transformers "
        f"{summary['transformers'][0]}/{summary['transformers'][1]} on the {len(built)} it builds"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "platform": platform.platform()}
    args.out.write_text(json.dumps({"machine": machine, "summary": summary, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
