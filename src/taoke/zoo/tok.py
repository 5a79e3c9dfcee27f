"""Byte-level BPE tokenizers for the zoo, trained with ``tokenizers`` on the zoo's real corpora.

Each family of zoo models owns a tokenizer trained on its own text (as real labs do), so the tokenizer
analyzer sees real merges, and vocabulary extension can be done the way real extensions are made:
appending a donor tokenizer's merges (and the tokens they create) after the base vocabulary.
"""

from __future__ import annotations

import json

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SPECIAL = "<|endoftext|>"


def train_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    """Train a GPT-2-style byte-level BPE tokenizer; id 0 is the end-of-text token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[SPECIAL],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def _merges(model: dict) -> list[tuple[str, str]]:
    out = []
    for m in model["merges"]:
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        out.append((a, b))
    return out


def extend_tokenizer(base_json: str, donor_json: str, n_new: int) -> tuple[str, list[str]]:
    """Append up to ``n_new`` of the donor's merges (in the donor's priority order) to the base.

    A donor merge is taken when its result is new and both parts already exist in the growing vocabulary,
    so every appended token is reachable. Returns the extended tokenizer JSON and the new token strings.
    """
    base = json.loads(base_json)
    donor = json.loads(donor_json)
    vocab: dict[str, int] = dict(base["model"]["vocab"])
    merges = _merges(base["model"])
    new_tokens: list[str] = []
    for a, b in _merges(donor["model"]):
        if len(new_tokens) >= n_new:
            break
        tok = a + b
        if tok in vocab or a not in vocab or b not in vocab:
            continue
        vocab[tok] = len(vocab)
        merges.append((a, b))
        new_tokens.append(tok)
    base["model"]["vocab"] = vocab
    base["model"]["merges"] = [[a, b] for a, b in merges]
    return json.dumps(base, ensure_ascii=False), new_tokens
