"""Mixture-of-experts layouts: which blocks route, how many experts, how many are active, shared experts.

WHY a reader of its own: a MoE release stores its experts in one of four ways, and none of them is a
single tensor role per block that :mod:`taoke.families.roles` can name:

- per expert, Hugging Face: Mixtral (``block_sparse_moe.experts.N.w1/w2/w3``), Qwen-MoE and DeepSeek-V2/V3
  (``mlp.experts.N.gate_proj/up_proj/down_proj``), each expert its own three matrices;
- stacked, Hugging Face (transformers 5): one tensor per projection holding every expert,
  ``mlp.experts.gate_up_proj`` ``[E, 2f, d]`` (gate rows then up rows) and ``mlp.experts.down_proj``
  ``[E, d, f]``, or the older ``[E, d, 2f]`` / ``[E, f, d]`` orientation (told apart by the width d);
- GGUF: llama.cpp's ``blk.N.ffn_gate_exps`` / ``ffn_up_exps`` / ``ffn_down_exps`` (numpy ``[E, f, d]`` and
  ``[E, d, f]``), the router ``ffn_gate_inp`` and shared experts ``ffn_*_shexp``.

Shared experts (Qwen-MoE's ``shared_expert``, DeepSeek's ``shared_experts``) are always active; DeepSeek
keeps its first ``first_k_dense_replace`` blocks dense. Every expert is returned in the Hugging Face
orientation of a dense SwiGLU FFN: gate and up ``[f, d]``, down ``[d, f]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from taoke.errors import CorruptFile

_LAYER = r"(?:^|\.)(?:layers|h|blocks)\.(\d+)\."
_PER_EXPERT = re.compile(
    _LAYER + r"(?:mlp|block_sparse_moe|feed_forward)\.experts\.(\d+)\."
    r"(w1|w2|w3|gate_proj|up_proj|down_proj)\.weight$"
)
_MOE = r"(?:mlp|block_sparse_moe|feed_forward)\."
_STACKED = re.compile(_LAYER + _MOE + r"experts\.(gate_up_proj|gate_proj|up_proj|down_proj)(?:\.weight)?$")
_GGUF = re.compile(r"^blk\.(\d+)\.ffn_(gate_up|gate|up|down)_exps\.weight$")
_PROJS = r"(gate_proj|up_proj|down_proj)\.weight$"
_SHARED = re.compile(_LAYER + _MOE + r"(?:shared_experts?|shared_mlp)\." + _PROJS)
_GGUF_SHARED = re.compile(r"^blk\.(\d+)\.ffn_(gate|up|down)_shexp\.weight$")
_ROUTER = re.compile(_LAYER + r"(?:mlp|block_sparse_moe|feed_forward)\.(?:gate|router)\.weight$")
_GGUF_ROUTER = re.compile(r"^blk\.(\d+)\.ffn_gate_inp\.weight$")
_DENSE = re.compile(_LAYER + r"mlp\.(gate_proj|up_proj|down_proj)\.weight$")
_GGUF_DENSE = re.compile(r"^blk\.(\d+)\.ffn_(gate|up|down)\.weight$")
_PROJ = {"w1": "gate", "w3": "up", "w2": "down", "gate_proj": "gate", "up_proj": "up", "down_proj": "down"}

CONFIG_EXPERTS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
CONFIG_ACTIVE = ("num_experts_per_tok", "moe_top_k", "top_k", "num_selected_experts")
CONFIG_SHARED = ("n_shared_experts", "num_shared_experts")


class ExpertStorage(str, Enum):
    """How a release stores its experts (see the module docstring)."""

    PER_EXPERT = "per-expert"
    STACKED = "stacked"
    GGUF = "gguf"

    __str__ = str.__str__


@dataclass(frozen=True)
class ExpertFFN:
    """One expert (or a dense FFN) as a SwiGLU FFN in Hugging Face orientation."""

    gate: np.ndarray  # [f, d]
    up: np.ndarray  # [f, d]
    down: np.ndarray  # [d, f]

    @property
    def width(self) -> int:
        return int(self.gate.shape[0])

    def response(self, x: np.ndarray) -> np.ndarray:
        """The FFN output ``down(silu(gate x) * up x)`` for input rows ``x`` ``[m, d]`` -> ``[m, d]``."""
        g = x @ self.gate.T
        return ((g / (1.0 + np.exp(-g))) * (x @ self.up.T)) @ self.down.T


@dataclass
class MoELayout:
    """What a MoE release routes: the answer of ``taoke inspect``'s ``experts`` line."""

    n_experts: int
    active: int | None  # experts per token (config / GGUF ``expert_used_count``); None when unstated
    n_shared: int  # always-active shared experts per MoE block
    storage: ExpertStorage
    moe_layers: list[int]
    dense_layers: list[int] = field(default_factory=list)
    expert_ffn: int | None = None
    names: dict[tuple[int, str], Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_experts": self.n_experts,
            "active_per_token": self.active,
            "n_shared": self.n_shared,
            "storage": self.storage.value,
            "moe_layers": self.moe_layers,
            "dense_layers": self.dense_layers,
            "expert_ffn": self.expert_ffn,
        }

    def describe(self) -> str:
        """One line: ``8 experts, 2 active per token, 1 shared; 32 MoE blocks (stacked)``."""
        active = f", {self.active} active per token" if self.active else ""
        dense = f", {len(self.dense_layers)} dense" if self.dense_layers else ""
        return (
            f"{self.n_experts} experts{active}, {self.n_shared} shared; "
            f"{len(self.moe_layers)} MoE blocks{dense} ({self.storage.value})"
        )


def _first_int(config: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    for k in keys:
        v = config.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            return v
    return None


def _gguf_int(model: Any, suffix: str) -> int | None:
    arch = getattr(model, "gguf_metadata", {}).get("general.architecture") or model.gguf_field(
        "general.architecture"
    )
    if not arch:
        return None
    v = model.gguf_field(f"{arch}.{suffix}")
    return int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else None


def moe_layout(model: Any) -> MoELayout | None:
    """The MoE layout of a :class:`taoke.model.Model`, or None for a dense model (no expert tensors)."""
    # a dense model answers None before any table is built: the tables of a dense 850,000-tensor
    # release (a key and a string per FFN tensor) were its largest transient under inspect (issue 16)
    if not any(_PER_EXPERT.search(n) or _STACKED.search(n) or _GGUF.match(n) for n in model.tensor_infos):
        return None
    names: dict[tuple[int, str], Any] = {}
    experts: dict[int, set[int]] = {}
    storage: ExpertStorage | None = None
    shared_layers: set[int] = set()
    dense: set[int] = set()
    for name in model.tensor_infos:
        if m := _PER_EXPERT.search(name):
            li, e, proj = int(m.group(1)), int(m.group(2)), _PROJ[m.group(3)]
            names[(li, f"{proj}:{e}")] = name
            experts.setdefault(li, set()).add(e)
            storage = ExpertStorage.PER_EXPERT
        elif (m := _STACKED.search(name)) or (m := _GGUF.match(name)):
            li, proj = int(m.group(1)), m.group(2)
            proj = "gate_up" if proj == "gate_up_proj" else _PROJ.get(proj, proj)
            names[(li, proj)] = name
            shape = model.tensor_infos[name].shape
            if len(shape) != 3:
                raise CorruptFile(f"{name}: stacked experts need 3 dimensions, found {list(shape)}", None)
            experts.setdefault(li, set()).update(range(int(shape[0])))
            storage = ExpertStorage.GGUF if name.startswith("blk.") else ExpertStorage.STACKED
        elif (m := _SHARED.search(name)) or (m := _GGUF_SHARED.match(name)):
            li = int(m.group(1))
            names[(li, "shared:" + _PROJ.get(m.group(2), m.group(2)))] = name
            shared_layers.add(li)
        elif (m := _ROUTER.search(name)) or (m := _GGUF_ROUTER.match(name)):
            if len(model.tensor_infos[name].shape) == 2:
                names[(int(m.group(1)), "router")] = name
        elif (m := _DENSE.search(name)) or (m := _GGUF_DENSE.match(name)):
            dense.add(int(m.group(1)))
            names[(int(m.group(1)), "dense:" + _PROJ.get(m.group(2), m.group(2)))] = name
    if storage is None:
        return None
    config = getattr(model, "config", None) or {}
    n_experts = max(len(v) for v in experts.values())
    n_conf = _first_int(config, CONFIG_EXPERTS) or _gguf_int(model, "expert_count")
    if n_conf is not None and n_conf != n_experts:
        model.warnings.append(f"config says {n_conf} experts, tensors hold {n_experts}")
    active = _first_int(config, CONFIG_ACTIVE) or _gguf_int(model, "expert_used_count")
    n_shared = 0
    if shared_layers:
        n_shared = _first_int(config, CONFIG_SHARED) or _gguf_int(model, "expert_shared_count") or 1
    layout = MoELayout(
        n_experts=n_experts,
        active=active,
        n_shared=n_shared,
        storage=storage,
        moe_layers=sorted(experts),
        dense_layers=sorted(dense - set(experts)),
        names=names,
    )
    first = layout.moe_layers[0]
    try:
        layout.expert_ffn = experts_of(model, layout, first, only=[0])[0].width
    except (KeyError, ValueError):
        layout.expert_ffn = None
    return layout


def _d_model(model: Any) -> int | None:
    hp = getattr(model, "hparams", None)
    return getattr(hp, "d_model", None)


def _orient(w: np.ndarray, d: int | None, rows_are_d: bool) -> np.ndarray:
    """A 2-D projection in HF orientation: ``[f, d]`` for gate/up (rows_are_d False), ``[d, f]`` for down."""
    if d is None or w.shape[0] == w.shape[1]:
        return w
    if rows_are_d:
        return w if w.shape[0] == d else w.T
    return w if w.shape[1] == d else w.T


def experts_of(model: Any, layout: MoELayout, layer: int, only: list[int] | None = None) -> list[ExpertFFN]:
    """The routed experts of one MoE block, in storage order (``only``: just these indices)."""
    d = _d_model(model)
    idx = list(range(layout.n_experts)) if only is None else only
    names = layout.names
    out: list[ExpertFFN] = []
    if layout.storage is ExpertStorage.PER_EXPERT:
        for e in idx:
            g, u, dn = (model.read(names[(layer, f"{p}:{e}")]) for p in ("gate", "up", "down"))
            out.append(ExpertFFN(_orient(g, d, False), _orient(u, d, False), _orient(dn, d, True)))
        return out
    if (layer, "gate_up") in names:
        gu = model.read(names[(layer, "gate_up")])
        if d is not None and gu.shape[1] == d and gu.shape[2] != d:
            gu = np.swapaxes(gu, 1, 2)
        half = gu.shape[1] // 2
        gates, ups = gu[:, :half], gu[:, half:]
    else:
        gates, ups = model.read(names[(layer, "gate")]), model.read(names[(layer, "up")])
        if d is not None and gates.shape[1] == d and gates.shape[2] != d:
            gates, ups = np.swapaxes(gates, 1, 2), np.swapaxes(ups, 1, 2)
    downs = model.read(names[(layer, "down")])
    if d is not None and downs.shape[2] == d and downs.shape[1] != d:
        downs = np.swapaxes(downs, 1, 2)
    if not (gates.shape[0] == ups.shape[0] == downs.shape[0]) or gates.shape[1] != downs.shape[2]:
        raise ValueError(f"block {layer}: expert tensors disagree on their shapes")
    return [ExpertFFN(gates[e], ups[e], downs[e]) for e in idx]


def shared_of(model: Any, layout: MoELayout, layer: int) -> ExpertFFN | None:
    """The shared expert(s) of one MoE block as one FFN (DeepSeek concatenates its shared experts)."""
    names = layout.names
    if (layer, "shared:gate") not in names:
        return None
    d = _d_model(model)
    g, u, dn = (model.read(names[(layer, f"shared:{p}")]) for p in ("gate", "up", "down"))
    return ExpertFFN(_orient(g, d, False), _orient(u, d, False), _orient(dn, d, True))


def dense_ffn(model: Any, layer: int) -> ExpertFFN | None:
    """The dense FFN of a block (a dense model, or DeepSeek's first dense blocks), None when absent."""
    keys = set(model.canonical_keys())
    parts = [f"blk.{layer}.ffn_{p}.weight" for p in ("gate", "up", "down")]
    if not all(k in keys for k in parts):
        return None
    g, u, dn = (model.canonical(k) for k in parts)
    return ExpertFFN(g, u, dn)
