"""Small zoo models of other families (issue 15.5): Gemma, Qwen2, Phi-3, GPT-NeoX and BERT, trained on CPU.

WHY: ``taoke compare`` reads every family through canonical roles, but what a family stores differs in
ways that change the lineage invariants -- Gemma keeps RMSNorm gains as ``w`` with gain ``1 + w`` and ties
its embeddings, Qwen2 carries q/k/v biases, Phi-3 fuses ``qkv_proj`` and ``gate_up_proj``, GPT-NeoX fuses
``query_key_value``, uses LayerNorm with bias, parallel attention and an ungated FFN, and BERT normalises
*after* the residual add. Only trained models of each family show whether compare still separates a
fine-tune from an independent twin there; random-init weights would not carry the signals of training.

Per family three checkpoints are trained (transformers' own classes, so names and layouts are exactly the
family's): a base (seed ``s``), an independent twin (seed ``s + 1``, same config, data, tokenizer) and a
fine-tune of the base (150 steps on man pages at lr 3e-4, as the LLaMA zoo's ``a-ft-man``). Everything is
d = 64, 2 blocks, the zoo's ``tok-code`` tokenizer and its stdlib-code corpus; BERT trains with masked-LM
loss (15 % masking), the others with the causal LM loss. Checkpoints are float16 safetensors under
``data/families/`` with their config in ``data/families/train_log.json``; the layout copies of
:mod:`taoke.zoo.family_transforms` are built from them at materialisation time.

Run: ``python -m taoke.zoo train --stage families`` (about two minutes on one CPU thread).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from taoke.zoo.family_catalog import DATA, FAMILIES, load_checkpoint, load_family, model_ids, train_log
from taoke.zoo.hf import CONTEXT, SEQ_LEN
from taoke.zoo.train import stored_weights

__all__ = ["DATA", "FAMILIES", "load_checkpoint", "load_family", "model_ids", "train_log"]

VOCAB = 2048
TOKENIZER = "tok-code"
CORPUS = "code"
BASE_STEPS, BASE_LR = 400, 3e-3
FT_STEPS, FT_LR, FT_CORPUS = 150, 3e-4, "man"
FT2_CORPUS = "doc"  # the sibling fine-tune (issue 20): same base, steps and lr, other data
BATCH = 16
MLM_RATE = 0.15
_SEEDS = {"gemma": 300, "qwen2": 310, "phi3": 320, "gptneox": 330, "bert": 340}


def family_config(fam: str) -> dict:
    """The Hugging Face config.json of a small model of family ``fam`` (d = 64, 2 blocks)."""
    common = {
        "vocab_size": VOCAB,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": CONTEXT,
        "initializer_range": 0.02,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "pad_token_id": 0,
    }
    if fam == "gemma":
        return {
            "architectures": ["GemmaForCausalLM"],
            "model_type": "gemma",
            **common,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "intermediate_size": 128,
            "hidden_act": "gelu_pytorch_tanh",
            "hidden_activation": "gelu_pytorch_tanh",
            "rms_norm_eps": 1e-6,
            "rope_theta": 10000.0,
            "tie_word_embeddings": True,
        }
    if fam == "qwen2":
        return {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            **common,
            "num_key_value_heads": 2,
            "intermediate_size": 128,
            "hidden_act": "silu",
            "rms_norm_eps": 1e-6,
            "rope_theta": 10000.0,
            "tie_word_embeddings": True,
            "use_sliding_window": False,
        }
    if fam == "phi3":
        return {
            "architectures": ["Phi3ForCausalLM"],
            "model_type": "phi3",
            **common,
            "num_key_value_heads": 2,
            "intermediate_size": 128,
            "hidden_act": "silu",
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "original_max_position_embeddings": CONTEXT,
            "tie_word_embeddings": False,
        }
    if fam == "gptneox":
        return {
            "architectures": ["GPTNeoXForCausalLM"],
            "model_type": "gpt_neox",
            **common,
            "intermediate_size": 256,
            "hidden_act": "gelu",
            "rotary_pct": 0.25,
            "rotary_emb_base": 10000,
            "use_parallel_residual": True,
            "layer_norm_eps": 1e-5,
            "tie_word_embeddings": False,
        }
    if fam == "bert":
        return {
            "architectures": ["BertForMaskedLM"],
            "model_type": "bert",
            **common,
            "intermediate_size": 256,
            "hidden_act": "gelu",
            "type_vocab_size": 2,
            "layer_norm_eps": 1e-12,
            "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0,
            "tie_word_embeddings": True,
        }
    raise KeyError(fam)


def build_model(config: dict, seed: int):
    """A freshly initialised transformers model of the config's class (float32, seeded)."""
    from taoke.zoo.train import require_torch

    torch = require_torch()
    import transformers

    torch.manual_seed(seed)
    cls = getattr(transformers, config["architectures"][0])
    cfg_cls = transformers.AutoConfig.for_model(config["model_type"]).__class__
    cfg = {k: v for k, v in config.items() if k not in ("architectures", "model_type", "torch_dtype")}
    return cls(cfg_cls(**cfg)).float()


def _batch(tokens: np.ndarray, rng: np.random.Generator, mlm: bool):
    import torch

    starts = rng.integers(0, len(tokens) - SEQ_LEN - 1, size=BATCH)
    x = torch.from_numpy(np.stack([tokens[s : s + SEQ_LEN] for s in starts]))
    if not mlm:
        return x, x
    mask = torch.from_numpy(rng.random(x.shape) < MLM_RATE)
    labels = torch.where(mask, x, torch.full_like(x, -100))
    inputs = torch.where(mask, torch.full_like(x, 1), x)  # token 1 stands in for [MASK]
    return inputs, labels


def train(model, tokens: np.ndarray, steps: int, lr: float, seed: int, mlm: bool) -> dict:
    """AdamW, linear warm-up then cosine decay to 10 % (as :func:`taoke.zoo.train.train_loop`)."""
    import math

    import torch

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    warmup = max(1, min(50, steps // 10))
    losses: list[float] = []
    t0 = time.time()
    model.train()
    for step in range(steps):
        scale = (
            (step + 1) / warmup
            if step < warmup
            else 0.1 + 0.45 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))
        )
        for group in opt.param_groups:
            group["lr"] = lr * scale
        x, y = _batch(tokens, rng, mlm)
        loss = model(input_ids=x, labels=y).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.item()))
    return {
        "steps": steps,
        "lr": lr,
        "batch": BATCH,
        "seq_len": SEQ_LEN,
        "seed": seed,
        "objective": "masked-lm" if mlm else "causal-lm",
        "loss_initial": round(losses[0], 4),
        "loss_final": round(float(np.mean(losses[-20:])), 4),
        "seconds": round(time.time() - t0, 1),
    }


def train_families(only: set[str] | None = None, out: Path = DATA) -> dict:
    """Train every missing family checkpoint into ``out``; returns the training log."""
    from taoke.zoo.train import Workspace, load_weights

    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "train_log.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else {}
    ws = Workspace(Path(__file__).resolve().parent / "data")  # tokenizers and corpora of the LLaMA zoo
    tokens = ws.stream(TOKENIZER, CORPUS)
    ft_tokens = ws.stream(TOKENIZER, FT_CORPUS)
    for fam in FAMILIES:
        if only and fam not in only:
            continue
        cfg = family_config(fam)
        mlm = fam == "bert"
        ids = model_ids(fam)
        for role, seed in (("base", _SEEDS[fam]), ("twin", _SEEDS[fam] + 1)):
            mid = ids[role]
            if mid in log and (out / f"{mid}.safetensors").exists():
                continue
            model = build_model(cfg, seed)
            rec = train(model, tokens, BASE_STEPS, BASE_LR, seed, mlm)
            _save(out, mid, stored_weights(model), log, cfg, rec, {"kind": role, "corpus": CORPUS})
            print(f"{mid}: {rec}", flush=True)
        mid = ids["ft"]
        if mid not in log or not (out / f"{mid}.safetensors").exists():
            model = build_model(cfg, _SEEDS[fam])
            _, parent = load_checkpoint_from(out, ids["base"])
            load_weights_loose(model, parent, load_weights)
            rec = train(model, ft_tokens, FT_STEPS, FT_LR, _SEEDS[fam] + 7, mlm)
            info = {"kind": "fine-tune", "corpus": FT_CORPUS, "parent": ids["base"]}
            _save(out, mid, stored_weights(model), log, cfg, rec, info)
            print(f"{mid}: {rec}", flush=True)
        mid = ids["ft2"]
        if mid not in log or not (out / f"{mid}.safetensors").exists():
            model = build_model(cfg, _SEEDS[fam])
            _, parent = load_checkpoint_from(out, ids["base"])
            load_weights_loose(model, parent, load_weights)
            rec = train(model, ws.stream(TOKENIZER, FT2_CORPUS), FT_STEPS, FT_LR, _SEEDS[fam] + 8, mlm)
            info = {"kind": "fine-tune", "corpus": FT2_CORPUS, "parent": ids["base"]}
            _save(out, mid, stored_weights(model), log, cfg, rec, info)
            print(f"{mid}: {rec}", flush=True)
    return log


def load_checkpoint_from(out: Path, model_id: str) -> tuple[dict, dict[str, np.ndarray]]:
    log = json.loads((out / "train_log.json").read_text())
    w = load_file(str(out / f"{model_id}.safetensors"))
    return dict(log[model_id]["config"]), {k: v.astype(np.float32) for k, v in w.items()}


def load_weights_loose(model, tensors: dict[str, np.ndarray], strict_loader) -> None:
    """Load stored weights into ``model``; a tied head that was not stored is re-tied by the model."""
    import torch

    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in tensors.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not _tied_head(k) for k in missing):
        strict_loader(model, tensors)  # raises with the full list
    model.tie_weights()


def _tied_head(name: str) -> bool:
    return name in ("lm_head.weight", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias")


def _save(out: Path, mid: str, w: dict[str, np.ndarray], log: dict, cfg: dict, rec: dict, info: dict) -> None:
    save_file(
        {k: np.ascontiguousarray(v.astype(np.float16)) for k, v in w.items()}, str(out / f"{mid}.safetensors")
    )
    log[mid] = {**info, "config": cfg, "tokenizer": TOKENIZER, "training": rec}
    (out / "train_log.json").write_text(json.dumps(log, indent=1, sort_keys=True) + "\n")


TIED_DIR = DATA / "calib-tied"
N_TIED = 9


def tied_config() -> dict:
    """The tied-embedding calibration shape: LLaMA at the families' size (d = 64, 2 blocks, FFN 128)."""
    from taoke.zoo.hf import llama_config

    return llama_config("small", VOCAB, num_hidden_layers=2, intermediate_size=128, tie_word_embeddings=True)


def train_tied_calibration(n: int = N_TIED, work: Path | None = None, dest: Path = TIED_DIR) -> list[Path]:
    """Train ``n`` independent tied-embedding LLaMA twins (seeds 500..) and commit compact fingerprints.

    WHY: a tied model's embedding rows are also its output head, so two independently trained tied
    models share more token geometry than untied ones; the basis-free statistic (S1) reads that as
    lineage (on the family zoo, an independent Gemma twin scored z = 14.8 against the untied null). The
    tied null (``basis_free_tied`` in ``weights_null.json``) is fitted on these twins only -- never on
    the family models it is then tested on (:func:`fit_tied_null`). Checkpoints go to ``work`` (not
    committed); compact fingerprints (no embedding rows) to ``dest``.
    """
    from taoke.paths import cache_dir
    from taoke.weights import fingerprint
    from taoke.zoo.calib import compact
    from taoke.zoo.hf import model_card, write_folder
    from taoke.zoo.train import Workspace

    work = work or cache_dir("zoo-tied")
    work.mkdir(parents=True, exist_ok=True)
    dest.mkdir(parents=True, exist_ok=True)
    ws = Workspace(Path(__file__).resolve().parent / "data")
    tokens = ws.stream(TOKENIZER, CORPUS)
    cfg = tied_config()
    log_path = dest / "train_log.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else {}
    out = []
    for i in range(n):
        mid = f"tied-{i:02d}"
        path = dest / f"{mid}.taoke.npz"
        if path.exists() and mid in log:
            out.append(path)
            continue
        model = build_model(cfg, 500 + i)
        rec = train(model, tokens, BASE_STEPS, BASE_LR, 500 + i, False)
        folder = write_folder(
            work / mid, cfg, stored_weights(model), ws.tokenizer_json(TOKENIZER), model_card(mid, "tied twin")
        )
        fp = fingerprint(str(folder))
        out.append(compact(fp).save(path))
        log[mid] = {"config": cfg, "tokenizer": TOKENIZER, "corpus": CORPUS, "training": rec}
        log_path.write_text(json.dumps(log, indent=1, sort_keys=True) + "\n")
        print(f"{mid}: {rec}", flush=True)
    return out


def fit_tied_null(src: Path = TIED_DIR, write_to: Path | None = None) -> dict:
    """Fit the tied-embedding S1 nulls on every pair of the tied twins (split ``fit``) and, with
    ``write_to``, lay them into that nulls JSON (``taoke/data/weights_null.json``) as
    ``basis_free_tied`` / ``basis_free_median_tied``. Same estimator as the untied null
    (:func:`taoke.weights.lineage.fit_nulls`: pooled layer-pair z with a 3.5-SD floor on the maximum;
    per-pair median of best z)."""
    from itertools import combinations

    from taoke.weights import load_fingerprint
    from taoke.weights.lineage import fit_nulls, pair_scores

    fps = {
        p.name.removesuffix(".taoke.npz"): load_fingerprint(p) for p in sorted(src.glob("tied-*.taoke.npz"))
    }
    if len(fps) < 5:
        raise ValueError(f"{src}: {len(fps)} tied calibration fingerprints, need >= 5")
    pairs = list(combinations(sorted(fps), 2))
    zs = [pair_scores(fps[a], fps[b])[0] for a, b in pairs]
    source = (
        f"tied-embedding calibration: {len(pairs)} independent pairs of {len(fps)} tied LLaMA twins (d=64)"
    )
    nulls = fit_nulls(zs, [], source, n_models=len(fps))
    fitted = {
        "basis_free_tied": nulls.basis_free.to_dict("_z") if nulls.basis_free else None,
        "basis_free_median_tied": nulls.basis_free_median.to_dict() if nulls.basis_free_median else None,
    }
    if write_to is not None:
        data = json.loads(Path(write_to).read_text())
        about = data.pop("_about", None)
        data.update({k: v for k, v in fitted.items() if v is not None})
        if about is not None:
            data["_about"] = about
        Path(write_to).write_text(json.dumps(data, indent=2) + "\n")
    return fitted


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m taoke.zoo.train_families", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--only", nargs="*", help="families to train (default: all)")
    ap.add_argument("--out", type=Path, default=DATA)
    ap.add_argument("--tied", action="store_true", help="train the tied-embedding calibration twins instead")
    args = ap.parse_args(argv)
    if args.tied:
        train_tied_calibration()
        from importlib import resources

        null_file = Path(str(resources.files("taoke").joinpath("data", "weights_null.json")))
        print(json.dumps(fit_tied_null(write_to=null_file), indent=1))
        return 0
    train_families(set(args.only) if args.only else None, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
