"""A word-level tokenizer over the shapes world's vocabulary, loadable offline by `AutoTokenizer`."""

from __future__ import annotations

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from .grammar import VOCABULARY

PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 16  # BOS + the longest caption (12 words) + EOS, with room to spare


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Builds the tokenizer; ids 0-3 are PAD, UNK, BOS, EOS, then the vocabulary in sorted order."""
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
