"""Tensor read throughput and peak memory of taoke's readers against a plain sequential read.

Usage: python bench/read.py [--dir DIR] [--repeats N] [--no-gguf] [--out bench/results/read.json]

Creates once (in ``--dir``, default ``$TAOKE_BENCH_DIR`` or ``~/.cache/taoke/bench``) a synthetic model with
the real shapes of TinyLlama-1.1B (22 layers, d=2048, 32 heads / 4 kv heads, ffn 5632, vocab 32000) in
bf16 safetensors (2.2 GB), and a Q8_0 GGUF of the same weights (1.2 GB), each written tensor by tensor so
the generator stays small. Then, in one run, for a cold page cache (dropped before each measurement when
this process may write /proc/sys/vm/drop_caches) and a warm one:

- plain: the file read sequentially in 16 MiB blocks into one reused buffer (the I/O ceiling);
- taoke: ``open_tensor_file`` and ``read()`` of every tensor as float32 (bf16 widened, Q8_0 dequantized);
- taoke-raw: ``read_raw()`` of every tensor in its stored dtype (the reader without conversion).

Each measurement runs in a child process so its peak RSS (``ru_maxrss``) is the reader's alone. Results are
printed as a table and written as JSON with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BLOCK = 16 << 20

# TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T config.json
VOCAB, D, LAYERS, HEADS, KV_HEADS, FFN = 32000, 2048, 22, 32, 4, 5632


def llama_shapes() -> list[tuple[str, tuple[int, ...]]]:
    """HF Llama tensor names and shapes, in the order transformers saves them."""
    kv = D // HEADS * KV_HEADS
    out = [("model.embed_tokens.weight", (VOCAB, D))]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        out += [
            (p + "self_attn.q_proj.weight", (D, D)),
            (p + "self_attn.k_proj.weight", (kv, D)),
            (p + "self_attn.v_proj.weight", (kv, D)),
            (p + "self_attn.o_proj.weight", (D, D)),
            (p + "mlp.gate_proj.weight", (FFN, D)),
            (p + "mlp.up_proj.weight", (FFN, D)),
            (p + "mlp.down_proj.weight", (D, FFN)),
            (p + "input_layernorm.weight", (D,)),
            (p + "post_attention_layernorm.weight", (D,)),
        ]
    return out + [("model.norm.weight", (D,)), ("lm_head.weight", (VOCAB, D))]


def _values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    if len(shape) == 1:
        return (1.0 + 0.05 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)


def _bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bf16 bits with round-to-nearest-even (what torch's .to(torch.bfloat16) does)."""
    u = x.view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def make_safetensors(path: Path) -> None:
    """Header first (offsets are known from shapes), then each tensor generated and written in turn."""
    shapes = llama_shapes()
    header, offset = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt", "note": "synthetic weights, TinyLlama-1.1B shapes"}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(0)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        for _, shape in shapes:
            fh.write(_bf16_bits(_values(rng, shape)).tobytes())
    tmp.rename(path)


def make_gguf(path: Path) -> None:
    """The same weights as Q8_0 (norms in F32) through gguf.GGUFWriter, one tensor in memory at a time."""
    import gguf
    from gguf import GGMLQuantizationType as Q
    from gguf import quants

    shapes = llama_shapes()
    tmp = path.with_suffix(".tmp")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_block_count(LAYERS)
    w.add_embedding_length(D)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_feed_forward_length(FFN)
    w.add_context_length(2048)
    for name, shape in shapes:
        qtype = Q.F32 if len(shape) == 1 else Q.Q8_0
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        nbytes = int(np.prod(shape)) // block * size
        # element shape (numpy order) with a float dtype: the writer reverses it into ggml ne order
        w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    rng = np.random.default_rng(0)
    for _, shape in shapes:
        x = _values(rng, shape)
        w.write_tensor_data(x if len(shape) == 1 else quants.quantize(x, Q.Q8_0))
    w.close()
    tmp.rename(path)


# ------------------------------------------------------------------------------------ child side
def child(mode: str, path: str) -> None:
    """One measurement; prints a JSON line with seconds, bytes and this process's peak RSS."""
    size = os.path.getsize(path)
    largest = 0
    t0 = time.perf_counter()
    if mode == "plain":
        buf = bytearray(BLOCK)
        view = memoryview(buf)
        with open(path, "rb", buffering=0) as fh:
            while fh.readinto(view):
                pass
        n_tensors = 0
    else:
        from taoke.formats import open_tensor_file

        with open_tensor_file(path) as f:
            infos = f.tensors()
            n_tensors = len(infos)
            for info in infos:
                x = f.read(info.name) if mode == "taoke" else f.read_raw(info.name)
                largest = max(largest, x.nbytes)
                del x
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": seconds,
                "bytes": size,
                "peak_rss": peak,
                "tensors": n_tensors,
                "largest_result": largest,
            }
        )
    )


# ----------------------------------------------------------------------------------- parent side
def drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
        return True
    except OSError:
        return False


def run_child(mode: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(path: Path, repeats: int) -> dict:
    """Every mode ``repeats`` times per cache state, modes interleaved so that a change in machine load
    hits all of them; ratios are taken within a repeat (taoke against the plain read just before it)
    and the median is reported, rates are the best of the repeats."""
    runs: dict[str, list[dict]] = {}
    states = ["cold", "warm"] if drop_caches() else ["warm"]
    for state in states:
        for _ in range(repeats):
            for mode in ("plain", "taoke", "taoke-raw"):
                if state == "cold":
                    drop_caches()
                else:
                    run_child("plain", path)  # make sure the whole file is in the page cache
                r = run_child(mode, path)
                r["rate_gbs"] = r["bytes"] / r["seconds"] / 1e9
                runs.setdefault(f"{state}/{mode}", []).append(r)
    results: dict[str, dict] = {}
    for key, rs in runs.items():
        state = key.split("/")[0]
        best = dict(max(rs, key=lambda r: r["rate_gbs"]))
        best["peak_rss_max"] = max(r["peak_rss"] for r in rs)
        best["rates_gbs"] = [round(r["rate_gbs"], 3) for r in rs]
        plains = runs[f"{state}/plain"]
        pairs = zip(rs, plains, strict=True)
        best["ratio_median"] = float(np.median([r["rate_gbs"] / p["rate_gbs"] for r, p in pairs]))
        results[key] = best
    return results


def machine() -> dict:
    mem = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "ram_gb": round(mem / 1e9, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "load_avg_at_start": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(os.environ.get("TAOKE_BENCH_DIR", Path.home() / ".cache" / "taoke" / "bench"))
    ap.add_argument("--dir", type=Path, default=default_dir)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-gguf", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "read.json")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    files = {"safetensors-bf16": args.dir / "tinyllama-shapes-bf16.safetensors"}
    if not args.no_gguf:
        files["gguf-q8_0"] = args.dir / "tinyllama-shapes-q8_0.gguf"
    for kind, path in files.items():
        if not path.exists():
            print(f"creating {path} ...", flush=True)
            (make_safetensors if kind.startswith("safetensors") else make_gguf)(path)
    report = {"machine": machine(), "model": "synthetic weights, TinyLlama-1.1B shapes", "files": {}}
    rows = []
    for kind, path in files.items():
        res = measure(path, args.repeats)
        entry: dict = {"path": str(path), "size_bytes": path.stat().st_size, "runs": res}
        for state in ("cold", "warm"):
            if f"{state}/plain" not in res:
                continue
            plain = res[f"{state}/plain"]["rate_gbs"]
            for mode in ("taoke", "taoke-raw"):
                r = res[f"{state}/{mode}"]
                budget = 300e6 + r["largest_result"]
                entry[f"{state}/{mode}/ratio"] = r["ratio_median"]
                entry[f"{state}/{mode}/rss_within_budget"] = r["peak_rss_max"] <= budget
                rows.append(
                    (
                        kind,
                        state,
                        mode,
                        plain,
                        r["rate_gbs"],
                        r["ratio_median"],
                        r["peak_rss_max"] / 1e6,
                        budget / 1e6,
                    )
                )
        report["files"][kind] = entry
    m = report["machine"]
    print(
        f"\nmachine: {m['cpu']}, {m['cpu_count']} CPUs, {m['ram_gb']} GB RAM, Python {m['python']}, "
        f"numpy {m['numpy']}, load average at start {m['load_avg_at_start'][0]:.1f}"
    )
    print(
        "rates: best of the repeats; ratio: median over repeats of taoke / the plain read beside it; "
        "budget: 300 MB + the largest tensor taoke returned"
    )
    head = (
        f"{'file':18} {'cache':5} {'reader':10} {'plain GB/s':>10} {'taoke GB/s':>10} {'ratio':>6} "
        f"{'peak RSS MB':>11} {'budget MB':>9}"
    )
    print(head)
    print("-" * len(head))
    for kind, state, mode, plain, rate, ratio, rss, budget in rows:
        print(
            f"{kind:18} {state:5} {mode:10} {plain:10.2f} {rate:10.2f} {ratio:6.2f} {rss:11.0f} {budget:9.0f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
