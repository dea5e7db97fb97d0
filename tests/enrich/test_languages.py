"""Articles in other languages, written for these tests: countries, places, status, language."""

from __future__ import annotations

import pytest

from services.enrich import i18n
from tests.enrich.helpers import by_canonical, codes, focus

FR_TITLE = "Macron reçoit le chancelier allemand à Paris"
FR = (
    "Le président Emmanuel Macron a reçu mardi le chancelier Olaf Scholz au palais de "
    "l'Élysée. Les deux dirigeants ont parlé de l'aide à l'Ukraine et des sanctions contre la "
    "Russie. Macron se rendra ensuite à Marseille, puis en Algérie, où le gouvernement "
    "algérien l'attend pour discuter du gaz. La France veut aussi renforcer ses liens avec "
    "l'Allemagne."
)
ES = (
    "La presidenta de México habló el lunes desde Ciudad de México sobre la frontera con "
    "Estados Unidos. Los productores mexicanos temen nuevos aranceles, mientras el gobierno "
    "de Guatemala pidió una reunión regional en Monterrey."
)
DE = (
    "Bundeskanzler Olaf Scholz ist am Montag zu einem Besuch in der Ukraine eingetroffen. In "
    "Kiew sprach er mit dem ukrainischen Präsidenten über weitere Hilfe aus Deutschland. Die "
    "Lage in Russland und die Rolle Polens kamen ebenfalls zur Sprache; in Bayern demonstrierten "
    "am Abend Tausende."
)
PT = (
    "O presidente recebeu em Brasília o primeiro-ministro de Portugal. Os dois falaram sobre o "
    "comércio entre o Brasil e a Europa, e sobre a crise na Venezuela. Empresários brasileiros "
    "de São Paulo acompanharam a visita."
)
RU = (
    "Министр иностранных дел России встретился в Москве с коллегой из Китая. Стороны обсудили "
    "ситуацию на Украине и отношения с США. В Пекине заявили, что китайская сторона готова к "
    "диалогу."
)
AR = (
    "التقى رئيس الوزراء العراقي في بغداد بوزير الخارجية الإيراني، وبحث الجانبان الوضع في سوريا "
    "ولبنان. وقال مسؤولون إن المحادثات مع الولايات المتحدة ستستمر في العراق الأسبوع المقبل."
)
ZH = (
    "中国外交部长周二在北京会见了美国国务卿。双方讨论了乌克兰局势和朝鲜半岛问题。"
    "美方表示愿意与中方保持沟通。"
)
JA = (
    "日本の首相は来週ワシントンを訪問し、米国の大統領と会談する。"
    "中国と北朝鮮の問題について話し合う。"
)


def _spans_exact(r: dict, body: str) -> None:
    for e in r["entities"]:
        for s, en in e["spans"]:
            assert body[s:en].strip() == body[s:en] and body[s:en], e
            # the surface text of the entity is one of its mentions
        if e["spans"]:
            assert e["text"] in {body[s:en] for s, en in e["spans"]}


def test_french_gets_full_ner(tag):
    r = tag(FR, title=FR_TITLE, language="fr")
    assert r["language"] == "fr"
    assert r["enrichment"]["status"] == "ok"
    assert r["enrichment"]["model"] == "fr_core_news_sm"
    ents = by_canonical(r)
    assert ents["Emmanuel Macron"]["label"] == "PERSON"
    assert ents["Emmanuel Macron"]["count"] >= 2  # "Macron" joins the full name
    assert ents["Russia"]["label"] == "GPE" and ents["Russia"]["text"] == "Russie"
    assert ents["Algeria"]["country"] == "DZ"
    assert ents["Marseille"]["country"] == "FR"
    assert {"FR", "DE", "UA", "RU", "DZ"} <= codes(r)
    assert "FR" in focus(r)
    _spans_exact(r, FR)


@pytest.mark.parametrize(
    ("lang", "body", "expected", "top"),
    [
        ("es", ES, {"MX", "US", "GT"}, "MX"),
        ("de", DE, {"UA", "DE", "RU", "PL"}, "UA"),
        ("pt", PT, {"BR", "PT", "VE"}, "BR"),
        ("ru", RU, {"RU", "CN", "UA", "US"}, "RU"),
        ("ar", AR, {"IQ", "SY", "LB", "US"}, "IQ"),  # one passing demonym (Iran) is not enough
        ("zh", ZH, {"CN", "US", "UA", "KP"}, "CN"),
        ("ja", JA, {"JP", "US", "CN", "KP"}, "JP"),
    ],
)
def test_countries_only_languages(tag, lang, body, expected, top):
    r = tag(body, language=lang)
    assert r["language"] == lang
    assert r["enrichment"]["status"] == "countries_only"
    assert r["enrichment"]["model"] is None
    assert codes(r) == expected
    assert top in focus(r)
    assert all(e["label"] in ("GPE", "NORP", "LOC") for e in r["entities"])
    assert r["regions"]  # M49 regions of the countries found
    _spans_exact(r, body)


def test_inflected_and_clitic_forms(tag):
    r = tag(RU, language="ru")
    ents = by_canonical(r)
    assert ents["Russia"]["text"] == "России"  # genitive of Россия
    china = [e for e in r["entities"] if e["text"] == "Китая"]
    assert [(e["canonical"], e["label"]) for e in china] == [("China", "GPE")]  # not Quito (Кито)
    assert "Delhi" not in ents  # "дел" (affairs) is lower-case
    assert ents["Moscow"]["text"] == "Москве"
    ar = by_canonical(tag(AR, language="ar"))
    lebanon = ar["Lebanon"]
    assert AR[lebanon["spans"][0][0] : lebanon["spans"][0][1]] == "لبنان"  # "ولبنان" minus و
    assert ar["Iran"]["label"] == "NORP"  # الإيراني is the adjective


def test_language_detected_when_not_given(tagger):
    for body, lang in ((RU, "ru"), (ZH, "zh"), (AR, "ar"), (ES, "es")):
        r = tagger.tag({"id": "d", "body": body})
        assert r["language"] == lang
        assert r["enrichment"]["status"] == "countries_only"
        assert r["countries"]


def test_unsupported_language(tag):
    r = tag("Habari za asubuhi, rais amesema leo mjini.", language="sw")
    assert r["enrichment"]["status"] == "language_unsupported"
    assert r["language"] == "sw"
    assert r["entities"] == [] and r["countries"] == []


def test_every_supported_language_has_a_table(tagger):
    for lang in i18n.SCRIPTS:
        table = i18n.get_table(lang, tagger.gz.country_names)
        names = len(table.phrases) + len(table.strings)
        assert names > 150, lang  # country names at least


@pytest.mark.parametrize(
    ("lang", "body", "expected"),
    [
        # "Central" (Центральная) is Burkina Faso's "Centre" region in pycountry's tables.
        (
            "ru",
            "В России завершилось голосование. Центральная избирательная комиссия "
            "сообщила о высокой явке на выборах.",
            {"RU"},
        ),
        (
            "fr",
            "La banque centrale a relevé ses taux. Dans le nord et dans l'est du pays, les "
            "agriculteurs de la France rurale protestent.",
            {"FR"},
        ),
        (
            "es",
            "El banco central de Chile subió los tipos. En el norte y el sur del país hubo "
            "protestas en el centro de las ciudades.",
            {"CL"},
        ),
    ],
)
def test_subdivisions_named_by_a_common_word_give_no_country(tag, lang, body, expected):
    assert codes(tag(body, language=lang)) == expected
