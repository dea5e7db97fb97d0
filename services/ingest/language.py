"""Language of a text, from the text; a declared language (``<html lang>``, a feed's
``<language>``, a record's field) is only a hint (a leaf module).

py3langid (its model ships in the wheel) with normalized probabilities: the declared
language stands unless the text says otherwise with confidence; a text too short to
tell keeps it. Undeclared text is left to the enrich stage, which runs the same
detector (py3langid costs ~5-20 ms a call: once per article is enough).
"""

from __future__ import annotations

import re
import threading
from typing import Any

_WORDS = re.compile(r"[^\W\d_]{2,}")
SAMPLE_CHARS = 3000
MIN_WORDS = 8
SURE = 0.90  # probability above which the text overrules the declared language
# The most frequent English words: a quarter of the words of any English prose.
_EN_COMMON = frozenset(
    "the of and to a in is that for it on was with as he by at from his be this are "
    "have an not but they had has were which their or its been one will would who "
    "said more her after she about also there when up we two first new than other "
    "into over last year years could some only people them what if all can most "
    "out so no time him you said".split()
)
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
    """The language of ``text`` (ISO 639-1), the declared one as a hint only.

    Nothing declared: None, and the enrich stage identifies the text (the same
    detector; no second pass here). Declared: kept unless the text is plainly English
    prose (a word-list check, no model) or the model is sure of another language.
    """
    hint = normalize(declared)
    if hint is None:
        return None
    sample = text[:SAMPLE_CHARS]
    words = _WORDS.findall(sample)
    if len(words) >= 20:
        common = sum(1 for w in words[:300] if w.lower() in _EN_COMMON)
        if common >= 0.2 * min(len(words), 300):
            return "en"  # plainly English prose, whatever the page says
    # Scripts written without spaces (Chinese, Japanese, Thai) give few "words".
    dense = sum(1 for c in sample if ord(c) > 0x2E80)
    if len(words) < MIN_WORDS and dense < 20:
        return hint
    lang, prob = _langid().classify(sample)
    return str(lang) if lang == hint or prob >= SURE else hint
