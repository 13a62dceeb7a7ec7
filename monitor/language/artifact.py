"""The model file: a JSON manifest and plain float64 arrays in one uncompressed zip (an .npz that
numpy can open too). Never pickle: arrays are read with allow_pickle=False, and anything but the
manifest and float64 .npy members is refused.

Written byte for byte the same from the same models: members in a fixed order (the manifest,
then arrays by name), fixed timestamps and permissions, JSON with sorted keys. The file's
SHA-256 is its identity (the model version is its first 12 hex digits).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from monitor.errors import ModelError

MANIFEST = "manifest.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)
# Stored, not deflated: loading reads the arrays straight out of the file's bytes (deflated,
# inflating 19 MB took longer than everything else in loading).
_COMPRESSION = zipfile.ZIP_STORED


def save(manifest: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> str:
    """Write the manifest and arrays to path; return the SHA-256 of the file."""
    entries = [(MANIFEST, (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode("utf-8"))]
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        if array.dtype != np.float64:
            raise ModelError(f"array {name} is {array.dtype}, not float64")
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, version=(1, 0), allow_pickle=False)
        entries.append((f"{name}.npy", buffer.getvalue()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = _COMPRESSION
            info.create_system = 3  # the same bytes from any operating system
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    content = buffer.getvalue()
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest()


def load(path: Path) -> tuple[str, Any, dict[str, np.ndarray]]:
    """The file's SHA-256, its manifest (parsed JSON, not yet checked) and its arrays."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    digest = hashlib.sha256(content).hexdigest()
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            if not members or members[0].filename != MANIFEST:
                raise ModelError(f"{path} is not a monitor model file (no {MANIFEST} first)")
            manifest = json.loads(archive.read(MANIFEST))
            arrays = {}
            for info in members[1:]:
                name = info.filename
                if not name.endswith(".npy") or info.compress_type != _COMPRESSION or name[:-4] in arrays:
                    raise ModelError(f"{path}: unexpected member {name}")
                arrays[name[:-4]] = _read_array(content, archive, info)
    except ModelError:
        raise
    except Exception as exc:  # a damaged zip, manifest or array: say which file
        raise ModelError(f"cannot load {path}: {exc}") from exc
    return digest, manifest, arrays


def _read_array(content: bytes, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """A float64 .npy member, as a read-only view of the file's bytes (no copy)."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version != (1, 0):
            raise ModelError(f"{info.filename}: .npy version {version}")
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        header_size = member.tell()
    if dtype != np.dtype("<f8") or fortran:
        raise ModelError(f"{info.filename}: expected little-endian float64 in C order, found {dtype}")
    count = int(np.prod(shape))
    if header_size + 8 * count != info.file_size:
        raise ModelError(f"{info.filename}: size does not match its header")
    # Where the member's data starts: after its local header (30 bytes, name, extra field).
    local = content[info.header_offset : info.header_offset + 30]
    if local[:4] != b"PK\x03\x04":
        raise ModelError(f"{info.filename}: damaged zip entry")
    name_length = int.from_bytes(local[26:28], "little")
    extra_length = int.from_bytes(local[28:30], "little")
    start = info.header_offset + 30 + name_length + extra_length + header_size
    return np.frombuffer(content, dtype=np.float64, count=count, offset=start).reshape(shape)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
