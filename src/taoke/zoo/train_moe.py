"""Training of the zoo's mixture-of-experts checkpoints (issue 15.4): CPU-sized Mixtral models.

Four MoE models, each a transformers ``MixtralForCausalLM`` (d = 64, 4 layers, GQA 4/2, 4 SwiGLU experts of
width 96, top-2 routing), so that tensor names and config semantics are those of real Mixtral releases:

- ``base-moe`` / ``base-moe2``: independent MoEs trained from scratch on stdlib code (seeds 30, 31).
- ``moe-up-a``: *upcycled* from the dense ``base-a`` (Komatsuzaki et al. 2022, "Sparse Upcycling"), the
  fine-grained way Qwen1.5-MoE was made from Qwen-1.8B: base-a's 192 FFN neurons are split into two
  halves of 96; experts 0 and 1 get one half each, expert 2 a neuron-shuffled copy of the first half,
  expert 3 is initialised at random. Attention, norms and embeddings are base-a's; all is then trained.
  Ground truth: experts 0, 1, 2 carry base-a.
- ``moe-perm``: base-moe with its experts re-ordered (another permutation per layer, router rows along)
  and each expert's neurons permuted, then fine-tuned on man pages: the "experts copied and re-ordered"
  side of the 2025 Pangu/Qwen argument.
- ``moe-att``: base-moe's attention, norms and embeddings kept (frozen), experts and router re-initialised
  and trained: "attention copied, experts retrained".

Run ``python -m taoke.zoo.train_moe [--out DIR]`` (about 10 minutes on one CPU thread).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from taoke.weights.relationship import Relationship as R
from taoke.zoo.hf import llama_config
from taoke.zoo.train import VOCAB, Workspace, load_weights, require_torch, train_loop, weights_of

N_EXPERTS = 4
TOP_K = 2
EXPERT_FFN = 96


def moe_config() -> dict:
    """A complete MixtralForCausalLM config.json of the zoo's MoE shape."""
    cfg = llama_config("small", VOCAB, intermediate_size=EXPERT_FFN)
    cfg.pop("mlp_bias", None)
    cfg.update(
        architectures=["MixtralForCausalLM"],
        model_type="mixtral",
        num_local_experts=N_EXPERTS,
        num_experts_per_tok=TOP_K,
        router_aux_loss_coef=0.02,
        output_router_logits=True,
        router_jitter_noise=0.0,
        sliding_window=None,
    )
    return cfg


def build_moe(config: dict, seed: int):
    torch = require_torch()
    from transformers import MixtralConfig, MixtralForCausalLM

    torch.manual_seed(seed)
    cfg = {k: v for k, v in config.items() if k not in ("architectures", "model_type", "torch_dtype")}
    return MixtralForCausalLM(MixtralConfig(**cfg)).float()


def _layer(i: int) -> str:
    return f"model.layers.{i}."


def upcycle(dense: dict[str, np.ndarray], fresh: dict[str, np.ndarray], seed: int) -> tuple[dict, dict]:
    """base-a's weights in the MoE layout: attention/norms/embeddings copied, experts from FFN halves."""
    rng = np.random.default_rng(seed)
    out = dict(fresh)
    for k, v in dense.items():
        if ".mlp." not in k:
            out[k] = v
    n_layers = 1 + max(int(k.split(".")[2]) for k in dense if k.startswith("model.layers."))
    carried: dict[str, list[int]] = {}
    for i in range(n_layers):
        p = _layer(i)
        gate, up, down = (dense[p + f"mlp.{n}_proj.weight"] for n in ("gate", "up", "down"))
        perm = rng.permutation(gate.shape[0])
        halves = [perm[:EXPERT_FFN], perm[EXPERT_FFN:], rng.permutation(perm[:EXPERT_FFN])]
        gu = out[p + "mlp.experts.gate_up_proj"].copy()  # [E, 2f, d]: gate rows, then up rows
        dn = out[p + "mlp.experts.down_proj"].copy()  # [E, d, f]
        for e, idx in enumerate(halves):
            gu[e] = np.concatenate([gate[idx], up[idx]])
            dn[e] = down[:, idx]
        out[p + "mlp.experts.gate_up_proj"], out[p + "mlp.experts.down_proj"] = gu, dn
        carried[str(i)] = [0, 1, 2]
    return out, carried


def permute_experts(w: dict[str, np.ndarray], seed: int) -> tuple[dict, dict]:
    """Re-order every layer's experts (router rows along) and permute neurons inside each expert:
    function-preserving, as the MoE computes the same mixture in another storage order."""
    rng = np.random.default_rng(seed)
    out = dict(w)
    orders: dict[str, list[int]] = {}
    n_layers = 1 + max(int(k.split(".")[2]) for k in w if k.startswith("model.layers."))
    for i in range(n_layers):
        p = _layer(i)
        order = rng.permutation(N_EXPERTS)
        while np.all(order == np.arange(N_EXPERTS)):
            order = rng.permutation(N_EXPERTS)
        gu, dn = w[p + "mlp.experts.gate_up_proj"][order], w[p + "mlp.experts.down_proj"][order]
        for e in range(N_EXPERTS):
            nperm = rng.permutation(EXPERT_FFN)
            gu[e] = np.concatenate([gu[e][:EXPERT_FFN][nperm], gu[e][EXPERT_FFN:][nperm]])
            dn[e] = dn[e][:, nperm]
        out[p + "mlp.experts.gate_up_proj"], out[p + "mlp.experts.down_proj"] = gu, dn
        out[p + "mlp.gate.weight"] = w[p + "mlp.gate.weight"][order]
        orders[str(i)] = [int(x) for x in order]  # new expert e is old expert order[e]
    return out, orders


def train_moe(out: Path, only: set[str] | None = None) -> None:
    """Train every MoE checkpoint missing from ``out`` (a zoo checkpoint workspace)."""
    require_torch()
    ws = Workspace(out)
    code, code_val = ws.stream("tok-code", "code"), ws.stream("tok-code", "code", "held_out")
    cfg = moe_config()

    def want(mid: str) -> bool:
        return not ws.has(mid) and (not only or mid in only)

    def finish(mid: str, model, rec: dict, **info) -> None:
        ws.save(mid, weights_of(model), {"config": cfg, "tokenizer": "tok-code", "training": rec, **info})
        print(f"{mid}: {rec}", flush=True)

    for mid, seed in (("base-moe", 30), ("base-moe2", 31)):
        if want(mid):
            model = build_moe(cfg, seed)
            rec = train_loop(model, code, 500, 3e-3, seed, val_tokens=code_val)
            finish(mid, model, rec, kind="base", shape="moe", corpus="code", calibration=False)
    if want("moe-up-a"):
        model = build_moe(cfg, 32)
        w, carried = upcycle(ws.load("base-a"), weights_of(model), 32)
        load_weights(model, w)
        rec = train_loop(model, code, 300, 1e-3, 32, val_tokens=code_val)
        finish(
            "moe-up-a",
            model,
            rec,
            kind="derived",
            parent="base-a",
            corpus="code",
            relationship=R.UPCYCLED,
            experts_from_parent=carried,
            upcycling="base-a's FFN split into halves of 96 neurons: experts 0, 1 one half each, expert 2 "
            "a neuron-shuffled copy of the first half, expert 3 random",
        )
    if want("moe-perm"):
        model = build_moe(cfg, 33)
        w, orders = permute_experts(ws.load("base-moe"), 33)
        load_weights(model, w)
        man, man_val = ws.stream("tok-code", "man"), ws.stream("tok-code", "man", "held_out")
        rec = train_loop(model, man, 150, 3e-4, 33, val_tokens=man_val)
        finish(
            "moe-perm",
            model,
            rec,
            kind="derived",
            parent="base-moe",
            corpus="man",
            relationship=R.EXPERT_LINEAGE,
            expert_order=orders,
        )
    if want("moe-att"):
        model = build_moe(cfg, 34)
        base = ws.load("base-moe")
        fresh = weights_of(model)
        w = {k: (fresh[k] if ".mlp." in k else v) for k, v in base.items()}
        load_weights(model, w)
        params = [p for n, p in model.named_parameters() if ".mlp." in n]
        for p in model.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        rec = train_loop(model, code, 400, 3e-3, 34, params=params, val_tokens=code_val)
        finish(
            "moe-att",
            model,
            rec,
            kind="derived",
            parent="base-moe",
            corpus="code",
            relationship=R.EXPERT_LINEAGE,
            frozen="attention, norms, embeddings and output head (copied from base-moe)",
            trained="experts and router, re-initialised (seed 34)",
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m taoke.zoo.train_moe", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "data"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args(argv)
    torch = require_torch()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    train_moe(Path(args.out), set(args.only) if args.only else None)
    print(f"MoE training done in {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
