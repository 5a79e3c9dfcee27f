"""Fingerprints: invariance of the stored invariants, file round trip, bad files, size budget."""

from __future__ import annotations

import numpy as np
import pytest

from taoke.errors import CorruptFile, SourceNotFound
from taoke.weights.fingerprint import M_INV, fingerprint, is_fingerprint_file, load_fingerprint
from taoke.weights.invariants import BlockInvariants, expand_kv, whiten_rows
from tests.helpers.compare import zoo_fp, zoo_path


def test_whitening_is_rotation_invariant_and_removes_geometry():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 48)) @ np.diag(np.linspace(0.1, 3, 48))
    q, _ = np.linalg.qr(rng.standard_normal((48, 48)))
    a, b = whiten_rows(x), whiten_rows(x @ q)
    assert np.allclose(a @ q, b, atol=1e-8)
    g = whiten_rows(x, shrink=0.0)
    assert np.allclose(g @ g.T, np.eye(32), atol=1e-6)


def test_expand_kv_matches_llama_repeat_kv():
    a = np.arange(2 * 2 * 3).reshape(2, 6).astype(float)  # m=2, 2 kv heads of dim 3
    out = expand_kv(a, n_heads=4, n_kv=2, head_dim=3)
    assert out.shape == (2, 12)
    assert np.array_equal(out[:, 0:3], a[:, 0:3]) and np.array_equal(out[:, 3:6], a[:, 0:3])
    assert np.array_equal(out[:, 6:9], a[:, 3:6]) and np.array_equal(out[:, 9:12], a[:, 3:6])


def test_block_invariants_survive_every_function_preserving_transform():
    """Residual rotation, norm-gain folding, head/neuron permutation and the allowed rescalings."""
    rng = np.random.default_rng(1)
    d, h, kv, hd, f = 16, 4, 2, 4, 24
    w = {
        "attn_q": rng.standard_normal((h * hd, d)),
        "attn_k": rng.standard_normal((kv * hd, d)),
        "attn_v": rng.standard_normal((kv * hd, d)),
        "attn_output": rng.standard_normal((d, h * hd)),
        "ffn_gate": rng.standard_normal((f, d)),
        "ffn_up": rng.standard_normal((f, d)),
        "ffn_down": rng.standard_normal((d, f)),
    }
    ga, gf = rng.uniform(0.5, 2, d), rng.uniform(0.5, 2, d)
    x = whiten_rows(rng.standard_normal((12, d)))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))

    def run(weights, g1, g2, probes):
        b = BlockInvariants({"x": probes}, h, kv, hd)
        b.set_gain("attn", g1)
        b.set_gain("ffn", g2)
        for role, arr in weights.items():
            b.add(role, arr)
        return b.finish("x")

    base = run(w, ga, gf, x)
    # fold gains, rotate the residual, permute neurons, rescale up/down and q/k per kv group
    perm = rng.permutation(f)
    s = rng.uniform(0.5, 2, f)
    half = rng.uniform(0.5, 2, (kv, hd // 2))
    cfull = np.concatenate([half, half], axis=1)  # the two halves of a rotary pair share one scale
    kscale = cfull.reshape(-1)
    qscale = np.repeat(cfull, h // kv, axis=0).reshape(-1)
    t = {
        "attn_q": (w["attn_q"] * ga) @ q * qscale[:, None],
        "attn_k": (w["attn_k"] * ga) @ q / kscale[:, None],
        "attn_v": (w["attn_v"] * ga) @ q,
        "attn_output": q.T @ w["attn_output"],
        "ffn_gate": ((w["ffn_gate"] * gf) @ q)[perm],
        "ffn_up": ((w["ffn_up"] * gf) @ q)[perm] * s[:, None],
        "ffn_down": (q.T @ w["ffn_down"])[:, perm] / s[None, :],
    }
    moved = run(t, np.ones(d), np.ones(d), x @ q)
    for comp in ("qk", "ov", "ffn", "gate"):
        assert np.allclose(base[comp], moved[comp], rtol=1e-4, atol=1e-4), comp


def test_zoo_fingerprint_roundtrip(tmp_path):
    fp = zoo_fp("base-a")
    path = fp.save(tmp_path / "a.npz")
    assert is_fingerprint_file(path)
    back = load_fingerprint(path)
    assert back.name == fp.name and back.layers == fp.layers and back.anchors == fp.anchors
    for comp in fp.inv:
        assert np.allclose(back.inv[comp], fp.inv[comp])
        assert np.allclose(back.rinv[comp], fp.rinv[comp])
    assert set(back.raw) == set(fp.raw)
    assert path.stat().st_size < 2_000_000


def test_fingerprint_reads_gguf_and_renamed_layouts():
    a = zoo_fp("base-a")
    for mid in ("a-gguf-q8_0", "a-yi", "a-baichuan"):
        fp = zoo_fp(mid)
        assert fp.layers == a.layers
        assert set(fp.inv) == set(a.inv) == {"qk", "ov", "ffn", "gate"}
        assert fp.anchors[:64] == a.anchors[:64]  # same tokens chosen whatever the container


def test_bad_fingerprint_files(tmp_path):
    with pytest.raises(SourceNotFound):
        load_fingerprint(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CorruptFile):
        load_fingerprint(junk)
    np.savez(tmp_path / "other.npz", meta=np.frombuffer(b'{"format": "else"}', dtype=np.uint8))
    with pytest.raises(CorruptFile):
        load_fingerprint(tmp_path / "other.npz")


def _with_member(src, out, name: str, data: bytes) -> None:
    import zipfile

    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            zo.writestr(info.filename, data if info.filename == name else zi.read(info))


@pytest.mark.parametrize(
    "header",
    [
        {"descr": "|V0", "fortran_order": False, "shape": (10**18,)},  # 0-byte items: passes a size check
        {"descr": "<U3", "fortran_order": False, "shape": (4,)},
        {"descr": "<f4", "fortran_order": False, "shape": (1 << 40,)},  # claims 4 TiB in a few bytes
    ],
)
def test_fingerprint_members_that_are_not_numbers_or_lie_about_size(tmp_path, header):
    """Refused as CorruptFile before anything is allocated (a zero-byte dtype with a 10^18 shape was a
    MemoryError for 3.5 EiB when ``embed`` was widened)."""
    import io

    good = zoo_fp("base-a").save(tmp_path / "fp.npz")
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, header)
    _with_member(good, tmp_path / "bad.npz", "embed.npy", head.getvalue() + b"\0" * 12)
    with pytest.raises(CorruptFile, match="embed.npy"):
        load_fingerprint(tmp_path / "bad.npz")


def test_fingerprint_file_round_trip_keeps_every_part(tmp_path):
    """The file reader (members read once, in pieces) gives back exactly what was saved."""
    fp = zoo_fp("a-gguf-q4_1")
    back = load_fingerprint(fp.save(tmp_path / "fp.npz"))
    assert back.anchors == fp.anchors and back.layers == fp.layers and back.name == fp.name
    assert np.array_equal(back.anchor_ids, fp.anchor_ids) and back.anchor_ids.flags.writeable
    assert np.array_equal(back.vocab_hashes, fp.vocab_hashes)
    assert np.array_equal(back.embed, fp.embed.astype(np.float16).astype(np.float32))
    for part in ("inv", "rinv", "binv"):
        a, b = getattr(fp, part), getattr(back, part)
        assert set(a) == set(b)
        for k in a:
            assert np.array_equal(b[k], a[k].astype(np.float16).astype(np.float32), equal_nan=True)
    assert set(back.quant) == set(fp.quant) and back.quant
    for k, q in fp.quant.items():
        assert np.array_equal(back.quant[k].data, q.data) and back.quant[k].qtype == q.qtype
    for k in fp.raw:
        assert np.array_equal(back.raw[k], fp.raw[k])


def test_fingerprint_size_budget_at_7b_width(tmp_path):
    """At d=4096 the anchor embedding block is capped (256 rows) so the file stays a few MB."""

    class Wide:
        name = "wide"
        hparams = {"n_heads": 32, "n_kv_heads": 8, "d_model": 4096, "ffn_dim": 256}
        tokenizer_files: list[str] = []

        def __init__(self):
            rng = np.random.default_rng(0)
            self.t = {
                "token_embd.weight": rng.standard_normal((2000, 4096)).astype(np.float32),
                "blk.0.attn_norm.weight": np.ones(4096, np.float32),
                "blk.0.attn_q.weight": rng.standard_normal((4096, 4096)).astype(np.float32) * 0.02,
                "blk.0.attn_k.weight": rng.standard_normal((1024, 4096)).astype(np.float32) * 0.02,
            }

        def canonical_keys(self):
            return list(self.t)

        def canonical(self, key):
            return self.t[key]

    fp = fingerprint(Wide())
    assert fp.embed.shape == (256, 4096)
    assert fp.inv["qk"].shape == (1, M_INV, M_INV)
    assert fp.neurons is None or fp.neurons.shape[2] >= 8
    assert fp.nbytes() < 2_500_000
    assert fp.save(tmp_path / "wide.npz").stat().st_size < 2_500_000


def test_zoo_path_helper_is_a_real_folder():
    from pathlib import Path

    assert Path(zoo_path("base-a")).exists()


def test_tiny_tensors_named_like_blocks_are_not_layers(tmp_path):
    """Issue 16: a release that adds thousands of tiny tensors named like blocks (``model.layers.N.*``)
    made every named block an empty layer of the fingerprint, found by a list scan per block and role
    (quadratic: 250,000 names did not finish in 200 s). A block is a layer only when one of its tensors
    has the model's width, so the fingerprint is the base's."""
    import shutil

    from safetensors.numpy import save_file

    rel = tmp_path / "rel"
    shutil.copytree(zoo_path("base-a"), rel)
    roles = ("self_attn.q_proj", "self_attn.k_proj", "mlp.up_proj", "input_layernorm")
    extra = {
        f"model.layers.{1000 + i // 4}.{roles[i % 4]}.weight": np.zeros(1, np.float16) for i in range(20_000)
    }
    save_file(extra, str(rel / "extra.safetensors"))
    fp, base = fingerprint(str(rel)), zoo_fp("base-a")
    assert fp.layers == base.layers == [0, 1, 2, 3]
    for comp in base.inv:
        assert np.array_equal(fp.inv[comp], base.inv[comp]), comp


def test_fingerprint_of_a_layer_missing_a_component_reads_back(tmp_path):
    """Issue 16 (found by the e2e campaign: ``scan`` of a release whose layer 0 FFN tensor is renamed
    failed with "unreadable fingerprint: non-finite values"): the writer marks an absent component with
    a NaN matrix, so the reader must accept exactly that mark (whole matrices) and nothing else."""
    import shutil

    from safetensors.numpy import load_file, save_file

    rel = tmp_path / "rel"
    shutil.copytree(zoo_path("base-a"), rel)
    (st,) = rel.glob("*.safetensors")
    t = load_file(str(st))
    t = {k.replace("mlp.up_proj", "mlp.up[/]proj") if ".0." in k else k: v for k, v in t.items()}
    save_file(t, str(st))
    fp = fingerprint(str(rel))
    assert np.isnan(fp.inv["ffn"][0]).all() and np.isfinite(fp.inv["ffn"][1:]).all()
    back = load_fingerprint(fp.save(tmp_path / "fp.npz"))
    assert np.array_equal(np.isnan(back.inv["ffn"]), np.isnan(fp.inv["ffn"]))
    # a NaN that is not a whole layer's matrix, or an inf, is still corrupt
    import zipfile

    for bad in (np.inf, "partial"):
        arrs = dict(np.load(tmp_path / "fp.npz"))
        key = next(k for k in arrs if k.endswith("ffn") and k.startswith("inv"))
        a = arrs[key].copy()
        if bad == "partial":
            a[1, 0, 0] = np.nan
        else:
            a[1, 0, 0] = bad
        arrs[key] = a
        out = tmp_path / "bad.npz"
        np.savez(out, **arrs)
        assert zipfile.is_zipfile(out)
        with pytest.raises(CorruptFile):
            load_fingerprint(out)
