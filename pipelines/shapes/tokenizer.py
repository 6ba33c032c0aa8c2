"""A word-level tokenizer over the shapes world's vocabulary, loadable offline by `AutoTokenizer`."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from .grammar import VOCABULARY

PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 16  # BOS + the longest caption (12 words) + EOS, with room to spare


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Builds the tokenizer; ids 0-3 are PAD, UNK, BOS, EOS, then `grammar.VOCABULARY` in order (new words last)."""
    vocab = {token: i for i, token in enumerate([PAD, UNK, BOS, EOS, *VOCABULARY])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        model_max_length=MAX_LENGTH,
    )


@functools.lru_cache(maxsize=32)
def folder_vocabulary(folder: str) -> frozenset[str]:
    """The words a saved shapes model's tokenizer knows (a pipeline folder's tokenizer/, or a CLIP folder's own
    tokenizer.json): a model released before a word joined the grammar reads it as [UNK], so the studio warns."""
    for path in (Path(folder) / "tokenizer" / "tokenizer.json", Path(folder) / "tokenizer.json"):
        if path.is_file():
            vocab = json.loads(path.read_text())["model"]["vocab"]
            return frozenset(vocab) - {PAD, UNK, BOS, EOS}
    return frozenset(VOCABULARY)  # a folder without a word-level tokenizer: the grammar's words are the best guess


def token_ids(tokenizer, captions: list[str]):
    """The captions' token ids, padded to MAX_LENGTH: what a text encoder of the family reads (a torch tensor)."""
    return tokenizer(captions, padding="max_length", max_length=MAX_LENGTH, return_tensors="pt").input_ids
