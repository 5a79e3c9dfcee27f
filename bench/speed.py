"""Speed of ``taoke fingerprint`` / ``taoke compare`` on real 7B shapes (synthetic bf16 weights), on this CPU.

Measures, in one run on the same files (issue 21):

1. for a Llama-2-7B shape (d=4096, 32 heads, ffn 11008, vocab 32000) and a Qwen2.5-7B-style
   wide-vocabulary shape (d=3584, 28 heads / 4 kv, ffn 18944, vocab 152064, q/k/v biases): the
   fingerprint time against a plain sequential read of the same file, cold (the file's pages dropped
   with ``posix_fadvise(DONTNEED)`` before each: no root needed, only these files) and warm; the cold
   read is also timed dropping each chunk behind it, as the fingerprint does (the disk's own rate,
   without the cost of a growing page cache), and the ratio against it reported beside the plain one;
2. the peak resident memory of each fingerprinting child process, next to the largest stored tensor;
3. where the time goes: thread-seconds reading, widening and multiplying (``StreamTimes``);
4. the same for a baseline revision of taoke (``--baseline REV``, default: none), run from a
   ``git archive`` of that revision in the same run: the before/after ratio.

``--layers N`` writes N of the 32 (Llama) / 28 (Qwen) layers: the full size is ``--layers 32``
(13.5 GB for Llama: the disk must hold one such file; each file is deleted after its rows unless
``--keep``). Weights are synthetic (timing does not depend on values). Prints a table and writes
``bench/results/speed.json``; record the load average printed with it, and compare only ratios
within one run on a shared machine.

    python bench/speed.py --layers 2 --shapes llama --baseline 5f7eae4     # a quick subset
    python bench/speed.py --layers 32                                       # the full 7B shapes
    python bench/speed.py --layers 32 --devices cpu,cpu-bf16                # exact and bf16 products
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHAPES = {
    # name: d, heads, kv heads, ffn, vocab, layers of the real model, qkv bias, model_type
    "llama": (4096, 32, 32, 11008, 32000, 32, False, "llama"),
    "qwen": (3584, 28, 4, 18944, 152064, 28, True, "qwen2"),
}
D, HEADS, KV, FFN, VOCAB = SHAPES["llama"][:5]


def model_shapes(kind: str, n_layers: int) -> dict[str, tuple[int, ...]]:
    d, heads, kv, ffn, vocab, _, bias, _ = SHAPES[kind]
    hd = d // heads
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (vocab, d)}
    for i in range(n_layers):
        p = f"model.layers.{i}."
        shapes[p + "input_layernorm.weight"] = (d,)
        shapes[p + "self_attn.q_proj.weight"] = (heads * hd, d)
        shapes[p + "self_attn.k_proj.weight"] = (kv * hd, d)
        shapes[p + "self_attn.v_proj.weight"] = (kv * hd, d)
        if bias:
            shapes[p + "self_attn.q_proj.bias"] = (heads * hd,)
            shapes[p + "self_attn.k_proj.bias"] = (kv * hd,)
            shapes[p + "self_attn.v_proj.bias"] = (kv * hd,)
        shapes[p + "self_attn.o_proj.weight"] = (d, heads * hd)
        shapes[p + "post_attention_layernorm.weight"] = (d,)
        shapes[p + "mlp.gate_proj.weight"] = (ffn, d)
        shapes[p + "mlp.up_proj.weight"] = (ffn, d)
        shapes[p + "mlp.down_proj.weight"] = (d, ffn)
    shapes["model.norm.weight"] = (d,)
    shapes["lm_head.weight"] = (vocab, d)
    return shapes


def llama_shapes(n_layers: int) -> dict[str, tuple[int, ...]]:
    return model_shapes("llama", n_layers)


def write_synthetic(folder: Path, n_layers: int, kind: str = "llama") -> Path:
    """Stream a bf16 safetensors file tensor by tensor from one 64 MB random pool (never the whole model
    in memory; real random bytes, not a sparse file, so a cold read really reads the disk)."""
    folder.mkdir(parents=True, exist_ok=True)
    shapes = model_shapes(kind, n_layers)
    header: dict[str, dict] = {}
    off = 0
    for name, shp in shapes.items():
        n = int(np.prod(shp)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shp), "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    path = folder / "model.safetensors"
    rng = np.random.default_rng(0)
    pool = (0.02 * rng.standard_normal(32 << 20, dtype=np.float32)).view(np.uint32) >> 16
    pool = pool.astype(np.uint16)
    with open(path, "wb") as fh:
        fh.write(len(hb).to_bytes(8, "little") + hb)
        for i, shp in enumerate(shapes.values()):
            n = int(np.prod(shp))
            if len(shp) == 1:
                fh.write(
                    (1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32))
                    .view(np.uint32)
                    .__rshift__(16)
                    .astype(np.uint16)
                    .tobytes()
                )
                continue
            start = (i * 7919) % pool.size
            while n > 0:
                take = min(n, pool.size - start)
                fh.write(pool[start : start + take].tobytes())
                n -= take
                start = 0
    d, heads, kv, ffn, vocab, _, _, mtype = SHAPES[kind]
    cfg = {
        "architectures": ["Qwen2ForCausalLM" if mtype == "qwen2" else "LlamaForCausalLM"],
        "model_type": mtype,
        "hidden_size": d,
        "num_hidden_layers": n_layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
    }
    (folder / "config.json").write_text(json.dumps(cfg))
    return path


def evict(path: Path) -> None:
    """Drop one file's pages from the page cache (posix_fadvise DONTNEED; no root, no other files)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def sequential_read(path: Path, chunk: int = 64 << 20, drop_behind: bool = False) -> float:
    """Seconds to read the file in order; ``drop_behind``: each chunk's pages dropped once read (what
    the fingerprint does on a cold file), so the disk's rate is measured without the page cache's
    cost of growing (on this VM, the larger part of a plain cold read's system time)."""
    t = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = bytearray(chunk)
        view = memoryview(buf)
        off = 0
        while n := os.preadv(fd, [view], off):
            if drop_behind:
                os.posix_fadvise(fd, off, n, os.POSIX_FADV_DONTNEED)
            off += n
    finally:
        os.close(fd)
    return time.perf_counter() - t


def _child_fingerprint(folder: str, out: str, device: str = "cpu") -> None:
    """Run in a fresh process (peak RSS is the process's): fingerprint ``folder``, print JSON."""
    os.environ["TAOKE_NO_CACHE"] = "1"
    from taoke.weights import fingerprint

    try:
        from taoke.weights.stream import StreamTimes

        times = StreamTimes()
    except ImportError:  # a baseline revision without the block pass
        times = None
    t = time.perf_counter()
    kw = {"device": device} if device != "cpu" else {}
    fp = fingerprint(folder, times=times, **kw) if times is not None else fingerprint(folder)
    dt = time.perf_counter() - t
    fp.save(out)
    res = {"seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if times is not None:
        res.update({k: v for k, v in times.to_dict().items() if k.endswith("_s")})
    print(json.dumps(res))


def _baseline_src(rev: str, work: Path) -> Path:
    """``src/`` of taoke at ``rev`` (``git archive``), for the before/after ratio in the same run."""
    dest = work / f"baseline-{rev}"
    if not (dest / "src" / "taoke").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        repo = Path(__file__).resolve().parents[1]
        tar = subprocess.run(["git", "-C", str(repo), "archive", rev, "src"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=tar.stdout, check=True)
    return dest / "src"


def _child(folder: Path, out: Path, src: Path | None, timeout: float, device: str = "cpu") -> dict:
    here = str(Path(__file__).parent)
    cmd = [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {here!r}); import speed; "
        f"speed._child_fingerprint({str(folder)!r}, {str(out)!r}, {device!r})",
    ]
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "child failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(
    kind: str, layers: int, work: Path, baseline: Path | None, keep: bool, timeout: float, device: str = "cpu"
) -> dict:
    """Cold and warm, new (and baseline) fingerprint vs sequential read of one synthetic model;
    ``device``: where the products run (``cpu-bf16``: bf16 products, issue 21)."""
    folder = work / f"{kind}-{layers}l"
    path = folder / "model.safetensors"
    if not path.exists():
        print(f"writing {kind} ({layers} layers) to {folder} ...", flush=True)
        write_synthetic(folder, layers, kind)
    size = path.stat().st_size
    largest = max(int(np.prod(s)) * 2 for s in model_shapes(kind, layers).values())
    row: dict = {
        "shape": kind,
        "layers": layers,
        "device": device,
        "bytes": size,
        "largest_tensor_mb": largest / 2**20,
    }
    row["load_average_start"] = os.getloadavg()[0]
    evict(path)
    row["cold_read_plain_s"] = sequential_read(path)
    evict(path)
    row["cold_read_drop_behind_s"] = sequential_read(path, drop_behind=True)
    # cold_ratio is the issue's: against a plain read (cat, dd), which pays for the page cache it
    # grows; the fingerprint drops pages behind it, so the ratio against a read that does the same
    # (the disk's own rate) is reported beside it
    row["cold_read_s"] = row["cold_read_plain_s"]
    evict(path)
    new = _child(folder, work / f"fp-{kind}.npz", None, timeout, device)
    row["cold_fp_s"] = new["seconds"]
    row["cold_ratio"] = row["cold_read_s"] / new["seconds"]
    row["cold_ratio_drop_behind"] = row["cold_read_drop_behind_s"] / new["seconds"]
    if baseline is not None:
        evict(path)
        old = _child(folder, work / f"fp-{kind}-old.npz", baseline, timeout)
        row["cold_fp_baseline_s"] = old["seconds"]
    sequential_read(path)  # warm from here on
    row["warm_read_s"] = min(sequential_read(path), sequential_read(path))
    new = _child(folder, work / f"fp-{kind}.npz", None, timeout, device)
    row["warm_fp_s"] = new["seconds"]
    row["warm_ratio"] = row["warm_read_s"] / new["seconds"]
    row["peak_rss_mb"] = new["peak_rss_mb"]
    for part in ("read_s", "widen_s", "multiply_s"):
        row[f"thread_{part}"] = new.get(part)
    if baseline is not None:
        old = _child(folder, work / f"fp-{kind}-old.npz", baseline, timeout)
        row["warm_fp_baseline_s"] = old["seconds"]
        row["peak_rss_baseline_mb"] = old["peak_rss_mb"]
        row["speedup_warm"] = old["seconds"] / new["seconds"]
        row["speedup_cold"] = row["cold_fp_baseline_s"] / row["cold_fp_s"]
    row["load_average_end"] = os.getloadavg()[0]
    if not keep:
        shutil.rmtree(folder)
    return row


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


def compare_7b(work: Path) -> dict:
    """Fingerprint two in-memory 32-layer Llama-2-7B shapes and time comparing them (files and memory)."""
    from taoke.jobs import compare as compare_job
    from taoke.weights import compare, fingerprint, load_fingerprint

    out: dict = {}
    fps = []
    for seed in (1, 2):
        t = time.perf_counter()
        fp = fingerprint(LazyLlama7B(seed))
        out[f"fingerprint_7b_in_memory_s_{seed}"] = time.perf_counter() - t
        p = work / f"fp7b-{seed}.npz"
        fp.save(p)
        fps.append(p)
    out["fingerprint_7b_file_mb"] = fps[0].stat().st_size / 1e6
    a, b = load_fingerprint(fps[0]), load_fingerprint(fps[1])
    times = []
    for _ in range(3):
        t = time.perf_counter()
        compare(a, b)
        times.append(time.perf_counter() - t)
    out["compare_two_7b_fingerprints_s"] = sorted(times)[1]  # median of 3
    times = []
    for _ in range(5):  # the whole job: both files read and checked, then compared
        t = time.perf_counter()
        compare_job(str(fps[0]), str(fps[1]))
        times.append(time.perf_counter() - t)
    out["compare_two_7b_fingerprint_files_s"] = sorted(times)[2]  # median of 5
    out["compare_two_7b_fingerprint_files_s_max"] = max(times)
    return out


COLUMNS = [
    ("shape", "shape", "{}"),
    ("layers", "layers", "{}"),
    ("products", "device", "{}"),
    ("GB", "bytes", "{:.2f}"),
    ("cold read s", "cold_read_s", "{:.1f}"),
    ("cold read s, drop-behind", "cold_read_drop_behind_s", "{:.1f}"),
    ("cold fp s", "cold_fp_s", "{:.1f}"),
    ("cold ratio", "cold_ratio", "{:.2f}x"),
    ("cold ratio, drop-behind read", "cold_ratio_drop_behind", "{:.2f}x"),
    ("warm read s", "warm_read_s", "{:.2f}"),
    ("warm fp s", "warm_fp_s", "{:.1f}"),
    ("warm ratio", "warm_ratio", "{:.2f}x"),
    ("RSS MB", "peak_rss_mb", "{:.0f}"),
    ("read/widen/mult thread-s", None, ""),
    ("before: cold/warm fp s, RSS", None, ""),
    ("speedup cold/warm", None, ""),
    ("load", "load_average_end", "{:.1f}"),
]


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(c[0] for c in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = []
        for _, key, fmt in COLUMNS:
            if key == "bytes":
                cells.append(fmt.format(r[key] / 1e9))
            elif key is not None:
                cells.append(fmt.format(r[key]) if r.get(key) is not None else "-")
        rw = "/".join(
            f"{r.get(k) or 0:.1f}" for k in ("thread_read_s", "thread_widen_s", "thread_multiply_s")
        )
        before = (
            f"{r['cold_fp_baseline_s']:.1f} / {r['warm_fp_baseline_s']:.1f}, {r['peak_rss_baseline_mb']:.0f}"
            if "warm_fp_baseline_s" in r
            else "-"
        )
        speed = f"{r['speedup_cold']:.1f}x / {r['speedup_warm']:.1f}x" if "speedup_warm" in r else "-"
        at = next(i for i, c in enumerate(COLUMNS) if c[1] is None)  # the three computed columns
        cells[at:at] = [rw, before, speed]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=2, help="layers written (32: the full Llama-2-7B size)")
    ap.add_argument("--shapes", default="llama,qwen", help="comma-separated: llama, qwen")
    ap.add_argument("--baseline", default=None, help="a git revision to time in the same run (before/after)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the synthetic model files")
    ap.add_argument("--compare-7b", action="store_true", help="also time comparing two 7B fingerprints")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per fingerprinting child")
    ap.add_argument("--output", default="bench/results/speed.json")
    ap.add_argument(
        "--devices",
        default="cpu",
        help="comma-separated --device values, each timed on the same files (cpu, cpu-bf16, cuda)",
    )
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="taoke-speed-"))
    baseline = _baseline_src(args.baseline, work) if args.baseline else None
    rows = []
    for kind in filter(None, args.shapes.split(",")):  # --shapes "" --compare-7b: the comparison alone
        layers = min(args.layers, SHAPES[kind][5])
        devices = args.devices.split(",")
        for i, dev in enumerate(devices):
            last = i == len(devices) - 1
            # the baseline (a revision without --device) is timed with the first device's row only
            base = baseline if i == 0 else None
            rows.append(measure(kind, layers, work, base, args.keep or not last, args.timeout, dev))
    report: dict = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },
        "cold": "page cache dropped per file with posix_fadvise(DONTNEED) before each cold run",
        "baseline": args.baseline,
        "rows": rows,
    }
    if args.compare_7b:
        report.update(compare_7b(work))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(table(rows))
    for k, v in report.items():
        if k not in ("rows", "machine"):
            print(f"{k}: {v}")
    print(f"load average: {report['machine']['load_average']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
