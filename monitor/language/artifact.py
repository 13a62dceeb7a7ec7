"""Saving and loading trained models with skops: byte-for-byte reproducible files, and
loading that refuses any type outside an explicit allow-list (never pickle).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import skops.io
from skops.io.exceptions import UntrustedTypesFoundException

from monitor.errors import ModelError

# Types skops does not trust by itself that our model files hold; any other is refused at
# load time. (Pipelines, vectorizers, logistic regression and numpy arrays skops trusts already.)
TRUSTED_TYPES = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedKFold",
    "monitor.language.meaning.SentenceMeaning",
)

# skops names array files and memo entries after Python object ids, which change on every
# run; we renumber them in order of first appearance so the same model gives the same bytes.
_OBJECT_ID = re.compile(r'("__id__": )(\d+)|("file": ")(\d+)(\.\w+")')
_EPOCH = (1980, 1, 1, 0, 0, 0)


def save(models: dict[str, Any], path: Path) -> str:
    """Write models to path; return the SHA-256 of the file (its identity)."""
    raw = zipfile.ZipFile(io.BytesIO(skops.io.dumps(models)))
    mapping: dict[str, str] = {}

    def renumber(match: re.Match[str]) -> str:
        old = match.group(2) or match.group(4)
        new = mapping.setdefault(old, str(len(mapping) + 1))
        if match.group(2):
            return f"{match.group(1)}{new}"
        return f"{match.group(3)}{new}{match.group(5)}"

    schema = _OBJECT_ID.sub(renumber, raw.read("schema.json").decode("utf-8"))
    # skops indents its schema; written compact it is a quarter of the size, which takes
    # 0.3 s off every load (most of it decompressing and parsing whitespace).
    compact = json.dumps(json.loads(schema), separators=(",", ":"), ensure_ascii=False)
    entries = [("schema.json", compact.encode("utf-8"))]
    for name in raw.namelist():
        if name != "schema.json":
            stem, _, suffix = name.partition(".")
            entries.append((f"{mapping[stem]}.{suffix}", raw.read(name)))
    entries[1:] = sorted(entries[1:], key=lambda e: int(e[0].partition(".")[0]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    content = buffer.getvalue()
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest()


def load(path: Path) -> dict[str, Any]:
    """Load a model file, refusing it if it holds any type outside TRUSTED_TYPES."""
    try:
        models = skops.io.load(path, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException:
        found = skops.io.get_untrusted_types(file=path)
        refused = sorted(set(found) - set(TRUSTED_TYPES))
        raise ModelError(f"{path} holds unexpected types: {', '.join(refused)}") from None
    except Exception as exc:  # skops raises many kinds on a damaged file
        raise ModelError(f"cannot load {path}: {exc}") from exc
    if not isinstance(models, dict):
        raise ModelError(f"{path} is not a monitor model file")
    return models


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
