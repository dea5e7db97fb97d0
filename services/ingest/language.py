"""Language of a text, from the text; a declared language (``<html lang>``, a feed's
``<language>``) is only a hint (a leaf module).

py3langid (its model ships in the wheel) with normalized probabilities: the declared
language stands unless the text says otherwise with confidence; a text too short to
tell keeps the declared one (or none, and the enrich stage decides).
"""

from __future__ import annotations

import re
import threading
from typing import Any

_WORDS = re.compile(r"[^\W\d_]{2,}")
SAMPLE_CHARS = 3000
MIN_WORDS = 8
SURE = 0.90  # probability above which the text overrules the declared language
_lock = threading.Lock()
_identifier: Any = None


def _langid() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            # Heavy (unpickles the model, ~0.5 s): loaded on first use.
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
    return _identifier


def normalize(code: str | None) -> str | None:
    """``en-US`` / ``EN_gb`` / `` en `` -> ``en``; None for nothing usable."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return base if base.isalpha() and 2 <= len(base) <= 3 else None


def detect(text: str, declared: str | None = None) -> str | None:
    """The language of ``text`` (ISO 639-1), the declared one as a hint only."""
    hint = normalize(declared)
    sample = text[:SAMPLE_CHARS]
    words = _WORDS.findall(sample)
    # Scripts written without spaces (Chinese, Japanese, Thai) give few "words".
    dense = sum(1 for c in sample if ord(c) > 0x2E80)
    if len(words) < MIN_WORDS and dense < 20:
        return hint
    lang, prob = _langid().classify(sample)
    if hint is None or lang == hint:
        return str(lang) if prob >= 0.5 or hint == lang else hint
    return str(lang) if prob >= SURE else hint
