"""Resource limits applied to every size read from an untrusted header *before* allocating.

Defaults are generous for real releases (a 405B model's safetensors header is ~1 MB; the largest
GGUF vocabularies are ~260k tokens) and small enough that a lying header cannot exhaust memory.
Override with environment variables ``TAOKE_MAX_<FIELD>`` (e.g. ``TAOKE_MAX_HEADER_BYTES``) or by
passing a :class:`Limits` to the API.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int = 100 * 1024 * 1024  # safetensors JSON header / GGUF metadata block
    max_tensors: int = 1_000_000  # tensors in one file
    max_tensor_bytes: int = 64 * 1024**3  # one tensor (a 70B embedding in fp32 is ~4 GB)
    max_tensor_dims: int = 8
    max_metadata_entries: int = 100_000  # GGUF key/value pairs
    max_string_bytes: int = 64 * 1024 * 1024  # one GGUF metadata string / JSON document
    max_array_items: int = 4_000_000  # one GGUF metadata array (vocabularies, merges)
    max_vocab: int = 4_000_000  # tokenizer entries
    max_json_depth: int = 64
    max_pickle_bytes: int = 256 * 1024 * 1024  # data.pkl inside a torch zip
    max_zip_members: int = 1_000_000
    max_text_bytes: int = 16 * 1024 * 1024  # README, LICENSE, *.py read as text
    # the .py code of one release normalised for code lineage, all files together: tokenizing costs
    # ~120 bytes of memory per source byte (a 15 MB file took 1.8 GB) and ~4 s of CPU per MB (60 files
    # of 90 KB took 25 s); the largest modeling file in transformers 5.25 is 196 KB
    max_code_bytes: int = 2 * 1024 * 1024
    # index rows one file's classes and methods are joined with to align them (code lineage, both
    # passes): the largest modeling file of transformers 5.25 (qwen3_omni_moe) needs 5.2M (0.8 s for the
    # whole file); 12,000 boilerplate classes in 2 MB would need hundreds of millions (8 min)
    max_align_rows: int = 12_000_000
    # ... and all the files of one release together
    max_release_align_rows: int = 30_000_000
    max_files: int = 100_000  # files in one release folder


def _from_env(base: Limits) -> Limits:
    updates: dict[str, int] = {}
    for f in fields(base):
        raw = os.environ.get(f"TAOKE_{f.name.upper()}")
        if raw:
            try:
                updates[f.name] = int(raw)
            except ValueError:
                pass
    return replace(base, **updates) if updates else base


DEFAULT_LIMITS = Limits()


def current_limits() -> Limits:
    """The limits in force: defaults overridden by ``TAOKE_MAX_*`` environment variables."""
    return _from_env(DEFAULT_LIMITS)
