"""The words that name ketamine, shared by the extractor and the classifier."""

from __future__ import annotations

import re

# Forms and brand names. The look-behind keeps "(S)-ketamine" and "S-ketamine"
# whole, and "norketamine" (a metabolite, not a treatment) out.
KETAMINE_RE = re.compile(
    r"(?<![\w(])(?:\((?:S|R|R,S|RS)\)-?|[SR]-)?(?:es|ar)?ketamines?\b"
    r"|\b(?:spravato|ketalar|ketanest)\b",
    re.IGNORECASE,
)


def mentions_ketamine(text: str) -> bool:
    return KETAMINE_RE.search(text) is not None
