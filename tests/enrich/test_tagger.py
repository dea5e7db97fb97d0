"""Contract of the tagger (services/enrich/tagger.py): output shape, statuses, provenance."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.enrich import tagger as tagger_mod

ROOT = Path(__file__).resolve().parents[2]

FRENCH = """Le président de la République a réuni ses ministres à l'Élysée mardi pour discuter \
de la réforme des retraites, alors que les syndicats appellent à une nouvelle grève nationale \
jeudi dans toute la France."""

GERMAN = """Die Bundesregierung hat am Mittwoch in Berlin einen neuen Haushaltsentwurf \
vorgelegt. Der Finanzminister sagte, die Schuldenbremse werde eingehalten."""


def test_output_shape_and_provenance(tagger):
    r = tagger.tag(
        {"id": "a1", "body": "Emmanuel Macron met Olaf Scholz in Paris.", "language": "en"}
    )
    assert set(r) >= {"id", "entities", "countries", "regions", "language", "enrichment"}
    assert r["id"] == "a1" and r["language"] == "en"
    enr = r["enrichment"]
    assert enr["status"] == "ok"
    assert enr["tagger"] == tagger_mod.TAGGER_NAME == "newswire-enrich"
    assert enr["tagger_version"] == tagger_mod.TAGGER_VERSION
    assert enr["model"] == "en_core_web_sm" and enr["model_version"] == "3.8.0"
    assert enr["gazetteer_hash"].startswith("sha256:") and len(enr["gazetteer_hash"]) == 71
    assert tagger.provenance == {k: v for k, v in enr.items() if k != "status"}
    for e in r["entities"]:
        assert set(e) >= {"text", "canonical", "label", "count", "spans", "country", "source"}
        assert e["source"] in ("gazetteer", "model")
    for c in r["countries"]:
        assert set(c) >= {"code", "name", "mentions", "via", "focus"}
        assert set(c["via"]) <= {"place", "demonym", "affiliation"}
    for g in r["regions"]:
        assert set(g) >= {"code", "name", "scheme"} and g["scheme"] in ("m49", "group")


def test_status_says_what_was_done_per_language(tagger):
    out = tagger.tag_many(
        [
            {"id": "fr", "body": FRENCH},  # detected; full NER
            {"id": "de", "body": GERMAN, "language": "de"},  # declared; names only
            {"id": "sw", "body": "Rais amesema leo mjini.", "language": "sw"},  # unsupported
            {"id": "en", "body": "Joe Biden spoke in Ohio on Monday.", "language": None},
        ]
    )
    assert [r["id"] for r in out] == ["fr", "de", "sw", "en"]
    statuses = ("ok", "countries_only", "language_unsupported", "ok")
    for r, lang, status in zip(out, ("fr", "de", "sw", "en"), statuses, strict=True):
        assert r["enrichment"]["status"] == status
        assert r["language"] == lang
        assert r["enrichment"]["gazetteer_hash"].startswith("sha256:")
    assert {c["code"] for c in out[0]["countries"]} == {"FR"}
    assert {c["code"] for c in out[1]["countries"]} == {"DE"}  # Berlin
    assert out[2]["entities"] == [] and out[2]["countries"] == [] and out[2]["regions"] == []
    assert out[3]["enrichment"]["status"] == "ok" and out[3]["language"] == "en"
    assert "US" in {c["code"] for c in out[3]["countries"]}


def test_language_tags_are_normalized_and_long_bodies_work(tagger):
    r = tagger.tag(
        {"id": "x", "body": "Angela Merkel visited Warsaw. " * 12000, "language": "en-GB"}
    )
    assert r["language"] == "en" and r["enrichment"]["status"] == "ok"
    merkel = next(e for e in r["entities"] if e["canonical"] == "Angela Merkel")
    assert merkel["count"] > 1000


def test_empty_article(tagger):
    r = tagger.tag({"id": "e", "body": "  \n\n ", "title": None})
    assert r["enrichment"]["status"] == "empty"
    assert r["entities"] == []


def test_tag_equals_tag_many(tagger):
    arts = [
        {
            "id": str(i),
            "body": f"Officials in Nairobi and Kampala met on day {i}.",
            "language": "en",
        }
        for i in range(5)
    ]
    many = tagger.tag_many(arts, batch_size=2)
    assert [tagger.tag(a) for a in arts] == many


def test_get_tagger_is_singleton(tagger):
    assert tagger_mod.get_tagger() is tagger


def test_model_not_loaded_at_import():
    code = (
        "import sys; import services.enrich.tagger, services.enrich.regions; "
        "print('spacy' in sys.modules, services.enrich.tagger._TAGGER is None)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True"]


@pytest.mark.parametrize(
    "body",
    ["Emmanuel Macron visited Berlin.", "Markets rose in Tokyo.", "Putin met Xi in Beijing."],
)
def test_short_english_text_is_tagged_not_called_foreign(tagger, body):
    out = tagger.tag({"id": "s", "body": body})
    assert out["enrichment"]["status"] == "ok"
    assert out["countries"], out


def test_short_foreign_text_is_still_recognized(tagger):
    out = tagger.tag({"id": "f", "body": "Le président Emmanuel Macron a visité Berlin mardi."})
    assert out["language"] == "fr" and out["enrichment"]["status"] == "ok"
    assert out["enrichment"]["model"] == "fr_core_news_sm"
