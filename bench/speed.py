"""Speed of ``taoke fingerprint`` / ``taoke compare`` on Llama-2-7B shapes (synthetic weights), on this CPU.

Measures, in one run on the same files:

1. fingerprinting throughput as a ratio to a plain sequential read of the same safetensors file, both
   cold (the file's pages dropped from the cache with posix_fadvise before each) and warm, on a >= 1 GB
   model with real Llama-2-7B tensor shapes (d=4096, 32 heads, ffn 11008, vocab 32000; 2 layers);
2. the peak resident memory of a fingerprinting child process, next to the largest tensor (float32);
3. the size of a full 32-layer Llama-2-7B-shaped fingerprint and the time to compare two of them
   (the fingerprints are computed by the real code path from lazily generated tensors).

Weights are synthetic (timing does not depend on values). Prints a table and writes
``bench/results/speed.json``.

    python bench/speed.py [--layers 2] [--workdir /tmp/taoke-speed] [--skip-7b]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

D, HEADS, KV, FFN, VOCAB = 4096, 32, 32, 11008, 32000


def llama_shapes(n_layers: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (VOCAB, D)}
    for i in range(n_layers):
        p = f"model.layers.{i}."
        shapes.update(
            {
                p + "input_layernorm.weight": (D,),
                p + "self_attn.q_proj.weight": (D, D),
                p + "self_attn.k_proj.weight": (KV * D // HEADS, D),
                p + "self_attn.v_proj.weight": (KV * D // HEADS, D),
                p + "self_attn.o_proj.weight": (D, D),
                p + "post_attention_layernorm.weight": (D,),
                p + "mlp.gate_proj.weight": (FFN, D),
                p + "mlp.up_proj.weight": (FFN, D),
                p + "mlp.down_proj.weight": (D, FFN),
            }
        )
    shapes["model.norm.weight"] = (D,)
    shapes["lm_head.weight"] = (VOCAB, D)
    return shapes


def write_synthetic(folder: Path, n_layers: int) -> Path:
    """Stream a float16 safetensors file tensor by tensor (never the whole model in memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    shapes = llama_shapes(n_layers)
    header: dict[str, dict] = {}
    off = 0
    for name, shp in shapes.items():
        n = int(np.prod(shp)) * 2  # float16 bytes
        header[name] = {"dtype": "F16", "shape": list(shp), "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    path = folder / "model.safetensors"
    rng = np.random.default_rng(0)
    with open(path, "wb") as fh:
        fh.write(len(hb).to_bytes(8, "little") + hb)
        for shp in shapes.values():
            if len(shp) == 1:
                arr = (1.0 + 0.1 * rng.standard_normal(shp)).astype(np.float16)
            else:
                arr = (0.02 * rng.standard_normal(shp, dtype=np.float32)).astype(np.float16)
            fh.write(arr.tobytes())
            del arr
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": D,
        "num_hidden_layers": n_layers,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV,
        "intermediate_size": FFN,
        "vocab_size": VOCAB,
        "rms_norm_eps": 1e-5,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
    }
    (folder / "config.json").write_text(json.dumps(cfg))
    return path


def evict(path: Path) -> None:
    """Drop one file's pages from the page cache (posix_fadvise DONTNEED; no root, no other files)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def sequential_read(path: Path, chunk: int = 64 << 20) -> float:
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(chunk)
        view = memoryview(buf)
        while fh.readinto(view):
            pass
    return time.perf_counter() - t


def _child_fingerprint(folder: str, out: str) -> None:
    from taoke.model import load
    from taoke.weights import fingerprint

    t = time.perf_counter()
    model = load(folder)
    spent = [0.0]
    inner = model.canonical

    def timed(key: str) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return inner(key)
        finally:
            spent[0] += time.perf_counter() - t0

    model.canonical = timed  # type: ignore[method-assign]
    fp = fingerprint(model)
    dt = time.perf_counter() - t
    fp.save(out)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": dt,
                "peak_rss_mb": peak_kb / 1024,
                "read_decode_s": spent[0],
                "invariants_s": dt - spent[0],
            }
        )
    )


class LazyLlama7B:
    """A Llama-2-7B-shaped model view whose tensors are views into one random pool (no disk, no copies)."""

    name = "synthetic-llama-2-7b"

    def __init__(self, seed: int) -> None:
        from taoke.weights.fingerprint import BLOCK_ROLES

        rng = np.random.default_rng(seed)
        self.pool = 0.02 * rng.standard_normal(FFN * D + 4096, dtype=np.float32)
        self.hparams = {"n_heads": HEADS, "n_kv_heads": KV, "d_model": D, "ffn_dim": FFN, "vocab_size": VOCAB}
        self.keys = ["token_embd.weight"]
        for i in range(32):
            self.keys += [f"blk.{i}.{r}.weight" for r in BLOCK_ROLES]
        self.keys += ["output_norm.weight", "output.weight"]
        self.tokenizer_files: list[str] = []

    def canonical_keys(self) -> list[str]:
        return self.keys

    def canonical(self, key: str) -> np.ndarray:
        role = key.split(".")[-2]
        if role.endswith("norm"):
            return np.ones(D, np.float32)
        shape = {
            "token_embd": (VOCAB, D),
            "output": (VOCAB, D),
            "ffn_gate": (FFN, D),
            "ffn_up": (FFN, D),
            "ffn_down": (D, FFN),
        }.get(role, (D, D))
        n = shape[0] * shape[1]
        if n <= self.pool.size:
            off = hash(key) % (self.pool.size - n + 1)
            return self.pool[off : off + n].reshape(shape)
        reps = -(-n // self.pool.size)
        return np.tile(self.pool, reps)[:n].reshape(shape)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=2, help="layers of the on-disk model (2 -> 1.33 GB)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--skip-7b", action="store_true", help="skip the 32-layer fingerprint/compare timing")
    ap.add_argument("--output", default="bench/results/speed.json")
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="taoke-speed-"))
    folder = work / "llama2-7b-shaped"
    path = folder / "model.safetensors"
    if not path.exists():
        print(f"writing synthetic model to {folder} ...", flush=True)
        write_synthetic(folder, args.layers)
    size = path.stat().st_size
    print("timing sequential read and fingerprint (cold, then warm page cache) ...", flush=True)
    out_fp = work / "fp.npz"
    here = str(Path(__file__).parent)
    cmd = [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {here!r}); import speed; "
        f"speed._child_fingerprint({str(folder)!r}, {str(out_fp)!r})",
    ]

    def child() -> dict:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    evict(path)
    t_cold_read = sequential_read(path)
    evict(path)
    cold = child()
    t_read1 = sequential_read(path)  # the child's pass left the file cached: warm from here on
    info = child()
    t_read2 = sequential_read(path)
    t_read = (t_read1 + t_read2) / 2
    largest = VOCAB * D * 4 / 2**20  # the embedding, as float32, is the largest tensor read
    report = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },
        "model_bytes": size,
        "layers": args.layers,
        "cold_sequential_read_s": t_cold_read,
        "cold_sequential_read_gb_s": size / t_cold_read / 1e9,
        "cold_fingerprint_s": cold["seconds"],
        "cold_throughput_ratio": t_cold_read / cold["seconds"],
        "sequential_read_s": t_read,
        "sequential_read_gb_s": size / t_read / 1e9,
        "fingerprint_s": info["seconds"],
        "fingerprint_gb_s": size / info["seconds"] / 1e9,
        "throughput_ratio": t_read / info["seconds"],
        "fingerprint_read_decode_s": info["read_decode_s"],
        "fingerprint_invariants_s": info["invariants_s"],
        "fingerprint_peak_rss_mb": info["peak_rss_mb"],
        "largest_tensor_f32_mb": largest,
        "fingerprint_file_bytes_2_layers": out_fp.stat().st_size,
    }
    previous = json.loads(Path(args.output).read_text()) if Path(args.output).exists() else {}
    if args.skip_7b:  # keep the 32-layer figures of an earlier full run
        report.update({k: v for k, v in previous.items() if "7b" in k})
    else:
        from taoke.jobs import compare as compare_job
        from taoke.weights import compare, fingerprint, load_fingerprint

        print("fingerprinting two 32-layer Llama-2-7B-shaped models ...", flush=True)
        fps = []
        for seed in (1, 2):
            t = time.perf_counter()
            fp = fingerprint(LazyLlama7B(seed))
            report[f"fingerprint_7b_compute_s_{seed}"] = time.perf_counter() - t
            p = work / f"fp7b-{seed}.npz"
            fp.save(p)
            fps.append(p)
        report["fingerprint_7b_file_mb"] = fps[0].stat().st_size / 1e6
        t = time.perf_counter()
        a, b = load_fingerprint(fps[0]), load_fingerprint(fps[1])
        report["load_two_7b_fingerprints_s"] = time.perf_counter() - t
        times = []
        for _ in range(3):
            t = time.perf_counter()
            compare(a, b)
            times.append(time.perf_counter() - t)
        report["compare_two_7b_fingerprints_s"] = min(times)
        t = time.perf_counter()
        compare_job(str(fps[0]), str(fps[1]))
        report["compare_two_7b_fingerprint_files_s"] = time.perf_counter() - t
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    w = max(len(k) for k in report)
    for k, v in report.items():
        print(f"{k:<{w}}  {v if not isinstance(v, float) else round(v, 4)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
