"""Fingerprint blobs stored in a registry: errors name their owner."""

from __future__ import annotations


def test_a_bad_fingerprint_blob_is_reported_against_its_owner_not_a_scratch_file():
    """Issue 16: the scratch file a blob is checked through must not be the file an error names."""
    import pytest

    from taoke.errors import CorruptFile
    from taoke.registry.store import fingerprint_from_bytes

    with pytest.raises(CorruptFile) as err:
        fingerprint_from_bytes(b"PK\x03\x04 not a zip", "registry.db#model-7")
    assert str(err.value).startswith("registry.db#model-7: ") and "taoke-fp-" not in str(err.value)
