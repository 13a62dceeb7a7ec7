"""What a sentence means, as a dense vector the claim models read beside their word features.

TF-IDF knows only the words it was trained on: "the infusions stopped working after a month"
and "relapse within 30 days" share none. A static embedding model (models/meaning: 256-dimensional
token vectors distilled with model2vec from the all-MiniLM-L6-v2 sentence encoder, see the README
there) gives sentences that say the same thing in other words nearby vectors, at the cost of a
table look-up per token: no neural network runs at prediction time.

The table is read here with the tokenizer and numpy alone, computing what model2vec's
`StaticModel.encode` computes, step for step and in the same array shapes (so the same bits):
importing model2vec costs 0.3 s (joblib, tqdm, asyncio), more than the rest of prediction.
tests/test_meaning.py compares the two when model2vec is installed.
"""

from __future__ import annotations

import functools
import json
import struct
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monitor.errors import ModelError

MEANING_DIR = "meaning"
TABLE_FILE = "model.safetensors"
# model2vec encodes in batches of this many sentences; kept so every array has its shapes.
BATCH = 1024
_DTYPES = {"F16": "<f2", "F32": "<f4"}


class MeaningTable:
    """A token table and its tokenizer: sentences in, unit-length vectors out."""

    def __init__(self, tokenizer: object, table: np.ndarray, max_length: int | None, normalize: bool) -> None:
        self.tokenizer = tokenizer
        self.table = table
        self.dim = int(table.shape[1])
        self.max_length = max_length
        self.normalize = normalize
        unk = tokenizer.model.unk_token  # type: ignore[attr-defined]
        self._unk_id = tokenizer.token_to_id(unk) if unk else None  # type: ignore[attr-defined]
        tokenizer.no_padding()  # type: ignore[attr-defined]
        if max_length is None:
            tokenizer.no_truncation()  # type: ignore[attr-defined]
        else:
            tokenizer.enable_truncation(max_length)  # type: ignore[attr-defined]

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        """One vector per sentence, in the table's precision (float16 for the shipped one)."""
        if not sentences:
            return np.zeros((0, self.dim), dtype=self.table.dtype)
        # model2vec cuts a sentence to max_length times the median token length, in characters,
        # before tokenizing (a cheap guard against huge inputs). The median is at least 1, so
        # only a sentence longer than max_length characters can be cut: the vocabulary (50 ms
        # to read) is consulted only then.
        if self.max_length is not None and max(map(len, sentences)) > self.max_length:
            cut = self.max_length * self._median_token_length()
            sentences = [sentence[:cut] for sentence in sentences]
        batches = [self._encode_batch(sentences[i : i + BATCH]) for i in range(0, len(sentences), BATCH)]
        return np.concatenate(batches, axis=0)

    @functools.cache  # noqa: B019 (one table per process, kept for the process's life anyway)
    def _median_token_length(self) -> int:
        vocab = self.tokenizer.get_vocab()  # type: ignore[attr-defined]
        return int(np.median([len(token) for token in vocab]))

    def _encode_batch(self, sentences: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch_fast(list(sentences), add_special_tokens=False)  # type: ignore[attr-defined]
        ids = [[i for i in e.ids if i != self._unk_id] for e in encodings]
        out = np.zeros((len(ids), self.dim), dtype=self.table.dtype)
        # Sentences of the same token count are averaged together, as one (n, tokens, dim) mean.
        by_length: dict[int, list[int]] = defaultdict(list)
        for row, token_ids in enumerate(ids):
            if token_ids:
                by_length[len(token_ids)].append(row)
        for rows in by_length.values():
            matrix = np.array([ids[row] for row in rows], dtype=np.int64)
            out[rows] = self.table[matrix].mean(axis=1)
        if not self.normalize:
            return out
        wide = out.astype(np.float32)
        norm = np.linalg.norm(wide, axis=1, keepdims=True) + 1e-32
        return (wide / norm).astype(out.dtype)


def encode(texts: Sequence[str]) -> np.ndarray:
    """Unit-length vectors (float32), one row per text."""
    table = load_table(meaning_dir())
    if not texts:
        return np.zeros((0, table.dim), dtype=np.float32)
    return np.asarray(table.encode(list(texts)), dtype=np.float32)


def without_marks(text: str) -> str:
    """The text without the word features' markers ("__implicit__"): not words the encoder knows."""
    return " ".join(word for word in text.split() if not (word.startswith("__") and word.endswith("__")))


def meaning_dir() -> Path:
    """The shipped table, whichever models directory the classifier comes from: a model trained
    elsewhere ($MONITOR_MODELS, `models_dir`) still reads the same vectors."""
    from monitor.config import shipped_models_dir

    return shipped_models_dir() / MEANING_DIR


@functools.lru_cache(maxsize=2)
def load_table(folder: Path) -> MeaningTable:
    """The vector table in folder, read once per process."""
    if not (folder / TABLE_FILE).is_file():
        raise ModelError(f"no sentence vectors in {folder}")
    try:
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        table = _read_table(folder / TABLE_FILE)
        return MeaningTable(
            tokenizer, table, config.get("max_length", 512), bool(config.get("normalize", True))
        )
    except Exception as exc:  # a missing or damaged table: say which, not a traceback
        raise ModelError(f"cannot load the sentence vectors in {folder}: {exc}") from exc


def _read_table(path: Path) -> np.ndarray:
    """The one tensor ("embeddings") of a safetensors file, memory-mapped: the format is an
    8-byte header length, a JSON header, then the raw little-endian array."""
    size = path.stat().st_size
    with path.open("rb") as file:
        (header_length,) = struct.unpack("<Q", file.read(8))
        if header_length > min(size - 8, 1 << 20):
            raise ValueError("not a safetensors file")
        header = json.loads(file.read(header_length))
    header.pop("__metadata__", None)
    if set(header) != {"embeddings"}:
        raise ValueError(f"expected one tensor 'embeddings', found {sorted(header)}")
    entry = header["embeddings"]
    dtype = np.dtype(_DTYPES[entry["dtype"]])
    rows, dim = entry["shape"]
    start, end = entry["data_offsets"]
    offset = 8 + header_length + start
    if end - start != rows * dim * dtype.itemsize or offset + rows * dim * dtype.itemsize > size:
        raise ValueError("the table's size does not match its header")
    # A plain ndarray view of the mapping (np.memmap's subclass would follow it into every result).
    return np.asarray(np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(rows, dim)))
