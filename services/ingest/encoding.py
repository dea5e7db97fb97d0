"""Bytes -> text: BOMs, declarations that may lie, legacy encodings without one (a leaf).

Order for any text: a BOM; else the declared charset(s) when the bytes decode under
them (a single-byte label loses to bytes that are valid multi-byte UTF-8); else
UTF-8; else windows-1252 when every non-ASCII character reads as Western European
text; else charset-normalizer. Every path ends in text or a clear ``ValueError``.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG: pages labelled Latin-1 or ASCII are decoded as windows-1252.
CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "x-sjis": "shift_jis",
    "utf-16": "utf-16",
    "unicode": "utf-16",
}
_SINGLE_BYTE = {"cp1252", "iso8859-15", "latin-9", "iso-8859-15", "cp1250", "iso-8859-2"}
_XML_DECL = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_\-.:]+)["']""")
_WORD = re.compile(r"[^\W\d_]+")

# Non-ASCII characters of Western European text in windows-1252 (letters with
# diacritics, typographic quotes and dashes, currency): the most common legacy encoding.
_WESTERN = frozenset(
    [chr(c) for c in range(0xC0, 0x100) if c not in (0xD7, 0xF7)]
    + list("€‘’‚“”„–—…«»°")
    + list("£©®™•·½¼¾§¿¡º")
    + list("ª ŒœŠšŽžŸ")
)


def bom_encoding(data: bytes) -> str | None:
    for bom, name in BOMS:
        if data.startswith(bom):
            return name
    return None


def strip_bom(data: bytes) -> tuple[bytes, str | None]:
    name = bom_encoding(data)
    if name is None:
        return data, None
    for bom, n in BOMS:
        if n == name:
            return data[len(bom) :], name
    return data, None  # pragma: no cover


def codec_name(label: str | None) -> str | None:
    """A Python codec for a charset label, or None for an unknown one."""
    if not label:
        return None
    name = CHARSET_ALIASES.get(label.strip().strip("\"'").lower(), label.strip().lower())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def xml_declared(data: bytes) -> str | None:
    """The ``encoding`` of an XML declaration (ASCII-compatible documents)."""
    m = _XML_DECL.match(data[:200].lstrip())
    return m.group(1).decode("ascii") if m else None


def plausible_cp1252(data: bytes) -> str | None:
    """The windows-1252 reading when it looks like Western European text.

    Every non-ASCII character must be a Western one, and words made only of them
    must be rare: KOI8-R Russian, windows-1255 Hebrew or TIS-620 Thai also decode to
    accented Latin letters, but in words with no ASCII letter at all.
    """
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii:
        return text
    good = sum(1 for c in non_ascii if c in _WESTERN)
    if good < 0.98 * len(non_ascii):
        return None
    accented = [w for w in _WORD.findall(text) if any(ord(c) > 127 for c in w)]
    foreign = [w for w in accented if len(w) >= 3 and all(ord(c) > 127 for c in w)]
    if accented and len(foreign) > 0.2 * len(accented):
        return None
    return text


def _is_multibyte_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return any(b > 127 for b in data)


def decode_bytes(data: bytes, origin: str = "input", declared: tuple[str | None, ...] = ()) -> str:
    """Text of ``data``: BOM, declared labels, UTF-8, Western windows-1252, detection."""
    body, bom = strip_bom(data)
    if bom is not None:
        return body.decode(bom, errors="replace")
    for label in declared:
        codec = codec_name(label)
        if codec is None:
            continue
        if codec in _SINGLE_BYTE and _is_multibyte_utf8(data):
            return data.decode("utf-8")  # a Latin-1 label on UTF-8 bytes: the label lies
        if codec.startswith(("utf-16", "utf-32")) and not bom:
            continue  # a UTF-16 label on bytes read as ASCII-compatible: it lies
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue  # a label that lies: fall back to detection
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    western = plausible_cp1252(data)
    if western is not None:
        return western
    best = from_bytes(data).best()
    if best is None:
        raise ValueError(f"{origin}: cannot determine the text encoding")
    return str(best)


def xml_encoding(data: bytes) -> str | None:
    """The encoding an XML document announces by its first bytes (BOM or none, RFC 7303)."""
    bom = bom_encoding(data)
    if bom is not None:
        return bom
    head = data[:4]
    if head == b"<\x00?\x00" or head[:2] == b"<\x00":
        return "utf-16-le"
    if head == b"\x00<\x00?" or head[:2] == b"\x00<":
        return "utf-16-be"
    return None


def xml_text(data: bytes, charset: str | None = None, origin: str = "XML") -> str:
    """An XML document's text: BOM / UTF-16 without BOM, declaration, HTTP charset,
    UTF-8, then detection (legacy encodings served without any declaration)."""
    wide = xml_encoding(data)
    if wide is not None:
        body, _ = strip_bom(data)
        return body.decode(wide, errors="replace")
    return decode_bytes(data, origin, declared=(xml_declared(data), charset))


_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def xml_to_utf8(data: bytes, charset: str | None = None, origin: str = "XML") -> bytes:
    """The document re-encoded as UTF-8 with a matching declaration, for parsers that
    trust declarations (a UTF-16 or legacy document reads the same either way)."""
    text = xml_text(data, charset, origin)
    text = _DECL_TEXT.sub("", text, count=1).lstrip("\ufeff")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + text.encode("utf-8", "surrogatepass")
