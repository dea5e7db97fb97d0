"""Stored identifiers never change: every stored article id, content hash and near-duplicate
signature was computed by these functions, so fixed inputs must give the same values forever.

A changed key prefix, hash separator or MinHash seed would leave every other test green while
every stored article got a new id and every stored signature stopped matching."""

from __future__ import annotations

from services.ingest import dedup
from shared.ids import article_id, content_hash, normalize_for_hash

TEXT = (
    "The quick brown fox jumps over the lazy dog while the farmer watches from the old red "
    "barn near the river"
)
# dedup.to_bytes(dedup.signature(TEXT)).hex(), as computed by ingest 1.x and stored in
# near_dup_bands.signature: 128 little-endian uint32.
STORED_SIGNATURE = (
    "cac4774c320b8b08f856f0debb872cf60763aa8c78b2e0c13a1330aa36414acb0a919dc49c860f7cc5f8ad56"
    "0505f9ec2b7354d2d1b1f08f030949e19ffd53ebf50bdc0c68bdca2e64f5eec28f4366969089fc1dcc773d04"
    "e83dc02bc3ef55208047e3d1f921e71b3608ceebb35f159553c55a8e10bb99ad48ac87d06aec5e13f6649543"
    "13361f9db8bc5009c905956a586c1062346d7af8727c80260bb69e195009ddffcd77afb6d16693990c9c0637"
    "205b7f58236b21b9f6a596001162bca03494d1bb5220ea99f0ba5746b67a08a72c162f61d3900bb47fd0734c"
    "601aa2254b3906f9a68f55f1ebeadef4f713d28fd60087fc037326b57a0493ee7491e5817d7876fbd95ab760"
    "dba4d1ded498682f21b94afc812e9b3fc3eb245f054e8cdede69713ad8163215ccf4c3e0af6407c4dc587565"
    "bd23e3386be8c9d185252207e6fa660412312421230325cc3dcdef4ce26d822e9db5a2b436a6bea70118dbcd"
    "2ebb045ce58eccf912cd92ff367b261ba037150dec707bfef15032dd928b87189929562b5f46df8d707a8638"
    "a12b7fcd966d88052a261df5d78570f858387c9025ffb36b337a3659729ce6a094967ef0d50a1c3680ed01ab"
    "6b1842b1f36b5a2bd32da129da5f798ddd53c386cf78c6e344dfc61efffa60a906f69025c18a45c791072691"
    "8b7c5e1c1d7fd8a383a7bb210d6bd5dd6cf0550be7c4304b906d1b2b"
)


def test_article_id_from_url_is_pinned() -> None:
    assert article_id("https://example.com/a", None, "x") == "04eb124138012504ac9b90b7b3d7a6f8"
    # The URL alone decides: title and body do not take part.
    assert article_id("https://example.com/a", "T", "y") == "04eb124138012504ac9b90b7b3d7a6f8"


def test_article_id_from_text_is_pinned() -> None:
    assert article_id(None, "Title", "Body text") == "aa0c2c7f514bdddc791c9134d5013926"
    # Normalized: case, NFKC and whitespace do not make a new article.
    assert article_id(None, " TITLE ", "Body\n  text") == "aa0c2c7f514bdddc791c9134d5013926"


def test_content_hash_is_pinned() -> None:
    assert content_hash("Hello World", "Body  text\nhere") == (
        "sha256:9ac9bdb173f33e04be971cb72aadff5e4fde61366724924cec6875b5e43d12f2"
    )
    assert content_hash(None, "Body") == (
        "sha256:05df4d09b44beff0c39cafd4b550c96c73fc6533a10523a213c5dee10be9056d"
    )
    # The separator keeps title and body apart: moving a word across them is new content.
    assert content_hash("Hello", "World body") != content_hash("Hello World", "body")


def test_normalize_for_hash_is_pinned() -> None:
    assert normalize_for_hash("  \uff21BC\u00a0 d ") == "abc d"


def test_signature_of_fixed_text_is_the_stored_one() -> None:
    sig = dedup.signature(TEXT)
    assert sig is not None
    assert dedup.to_bytes(sig).hex() == STORED_SIGNATURE
    assert dedup.band_keys(sig)[0] == "00:b221f55a26b88bba"
    assert dedup.band_keys(sig)[-1] == "31:9a68c5311db54512"


def test_stored_signature_still_matches_a_near_copy() -> None:
    stored = dedup.from_bytes(bytes.fromhex(STORED_SIGNATURE))
    copy = dedup.signature(TEXT.replace("river", "stream"))
    assert copy is not None
    assert dedup.similarity(copy, stored) == 0.859375
    # ... and shares LSH bands with it, so the copy finds the stored article as a candidate.
    assert set(dedup.band_keys(copy)) & set(dedup.band_keys(stored))
