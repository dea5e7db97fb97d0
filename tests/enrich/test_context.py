"""Ambiguous names, name shapes, teams and one label per name: stories written for these tests."""

from __future__ import annotations

import pytest

from tests.enrich.helpers import by_canonical, codes, focus

AMAZON_FOREST = (
    "Fires in the Amazon destroyed thousands of hectares of rainforest this year, officials in "
    "Brasilia said. Deforestation in the Amazon basin rose for a third year, and indigenous "
    "groups in Para state asked the government for help."
)
AMAZON_COMPANY = (
    "Amazon said on Thursday it would hire 100,000 warehouse workers in the United States. "
    "The Seattle-based retailer's shares rose 2 percent after Amazon reported strong online sales."
)
APPLE_FRUIT = (
    "Farmers in Kent said the apple harvest was the worst in a decade. Apple growers blamed a "
    "late frost, and the price of Apple juice concentrate rose."
)
JAVA_LANGUAGE = (
    "Developers who write Java code will need to update their libraries. The new Java release "
    "adds pattern matching, and Python and Rust users are watching closely."
)
JAVA_ISLAND = (
    "A strong earthquake struck off the coast of Java on Monday, Indonesia's meteorological "
    "agency said. Buildings shook in Jakarta and across West Java."
)
FLINT_TOOL = (
    "Archaeologists found a flint blade and several Flint tools at the cave site in Dordogne. "
    "The Flint scrapers are about 40,000 years old, researchers in France said."
)
FLINT_CITY = (
    "Residents of Flint, Michigan, still do not trust their tap water years after the lead "
    "crisis. The city of Flint replaced thousands of pipes, Michigan officials said."
)
RELIANCE_WORD = (
    "Reliance on overtime has grown at the hospital, the union said. Reliance on agency staff "
    "costs the service millions, nurses told the BBC."
)
RELIANCE_COMPANY = (
    "Reliance Industries, controlled by billionaire Mukesh Ambani, said its profit rose. "
    "Reliance shares rose 3 percent in Mumbai."
)
JORDAN_PERSON = (
    "Michael Jordan scored 40 points as the Bulls beat the Knicks. Jordan said after the game "
    "in Chicago that his knee felt fine."
)
JORDAN_COUNTRY = (
    "Jordan's King Abdullah met the Egyptian president in Amman. Jordan has taken in more than "
    "a million refugees from Syria."
)
GEORGIA_STATE = (
    "Voters in rural south Georgia lined up early on Tuesday. In Atlanta, Georgia's secretary "
    "of state said turnout was high across the state."
)
GEORGIA_COUNTRY = (
    "Protesters gathered in Tbilisi as Georgia's parliament debated the law. Georgia hopes to "
    "join the European Union, its prime minister said."
)
CHAD_PERSON = (
    "Chad Smith, the drummer, said the band would tour in Ohio. Chad told reporters in "
    "Columbus that the new album was finished."
)
CHAD_COUNTRY = (
    "Chad's army said it had repelled an attack near Lake Chad. N'Djamena has accused rebels "
    "based in Libya of the raid."
)
TURKEY_BIRD = (
    "Families across Iowa are buying a turkey for Thanksgiving. Turkey prices rose 10 percent "
    "this year, farmers in Des Moines said."
)
TURKEY_COUNTRY = (
    "Turkey's central bank raised rates again. Turkey has struggled with inflation, economists "
    "in Istanbul said."
)
NICE_WORD = (
    "Nice weather is expected this weekend in Denver. It was a Nice day for the parade, "
    "organizers in Colorado said."
)
NICE_CITY = (
    "A truck attack in Nice killed 86 people on Bastille Day. The mayor of Nice said the city "
    "would build a memorial on the Promenade des Anglais."
)
IRISHMAN = (
    "Martin Scorsese's film The Irishman will stream on Netflix. The Irishman stars Robert De "
    "Niro and was shot in New York."
)
TWITTER = (
    "Musk bought Twitter for $44 billion. Twitter said on Friday that it would lay off staff "
    "in San Francisco."
)
NULLS = (
    "The field was set to None in the database. NULL values were returned by the query, "
    "engineers at the Denver office said."
)
PLACES_AS_PERSONS = (
    "The island of Redonda, part of Antigua and Barbuda, has become a wildlife haven. Farmers "
    "in Mato Grosso expect a record soybean crop, and the Arecibo Observatory in Puerto Rico "
    "is being rebuilt."
)
CRICKET = (
    "Surrey beat Kent by five wickets at The Oval on Tuesday, while Essex, Derbyshire and "
    "Surrey all closed in on victory in the county championship. Essex 532-8 declared. In "
    "the one-day series England beat Scotland by 40 runs."
)
GIVEN_NAMES = (
    "Midfielder Danius Gleveckas scored twice as the home side won 3-1. Gleveckas said the "
    "coach, Joost van der Westhuizen, had changed the team at half-time."
)

STORIES = [v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str)]


@pytest.mark.parametrize(
    ("body", "absent", "present"),
    [
        (AMAZON_FOREST, {"US"}, {"BR"}),
        (AMAZON_COMPANY, set(), {"US"}),
        (APPLE_FRUIT, {"US"}, set()),
        (JAVA_LANGUAGE, {"ID"}, set()),
        (JAVA_ISLAND, set(), {"ID"}),
        (FLINT_TOOL, {"US"}, {"FR"}),
        (FLINT_CITY, set(), {"US"}),
        (RELIANCE_WORD, {"IN"}, set()),
        (RELIANCE_COMPANY, set(), {"IN"}),
        (JORDAN_PERSON, {"JO"}, {"US"}),
        (JORDAN_COUNTRY, set(), {"JO"}),
        (GEORGIA_STATE, {"GE"}, {"US"}),
        (GEORGIA_COUNTRY, {"US"}, {"GE"}),
        (CHAD_PERSON, {"TD"}, {"US"}),
        (CHAD_COUNTRY, set(), {"TD"}),
        (TURKEY_BIRD, {"TR"}, {"US"}),
        (TURKEY_COUNTRY, set(), {"TR"}),
        (NICE_WORD, {"FR"}, {"US"}),
        (NICE_CITY, set(), {"FR"}),
        (IRISHMAN, {"IE"}, {"US"}),
    ],
)
def test_ambiguous_names_follow_their_story(tag, body, absent, present):
    r = tag(body)
    assert not (codes(r) & absent), r["countries"]
    assert present <= focus(r), r["countries"]


def test_ambiguous_labels(tag):
    assert by_canonical(tag(AMAZON_FOREST))["Amazon"]["label"] == "LOC"
    assert by_canonical(tag(AMAZON_COMPANY))["Amazon"]["label"] == "ORG"
    assert "Apple" not in by_canonical(tag(APPLE_FRUIT))
    java = by_canonical(tag(JAVA_LANGUAGE)).get("Java")
    assert java is None or java["label"] not in ("GPE", "LOC") and java["country"] is None
    assert "Flint" not in by_canonical(tag(FLINT_TOOL))
    assert by_canonical(tag(FLINT_CITY))["Flint"]["country"] == "US"
    assert not any(e["text"] == "Reliance" for e in tag(RELIANCE_WORD)["entities"])
    assert by_canonical(tag(TWITTER))["Twitter"]["label"] == "ORG"
    assert "Irishman" not in {e["text"] for e in tag(IRISHMAN)["entities"]}


def test_none_and_null_are_never_organizations(tag):
    texts = {e["text"] for e in tag(NULLS)["entities"]}
    assert not texts & {"None", "NULL"}


def test_places_are_not_persons(tag):
    ents = {e["text"]: e for e in tag(PLACES_AS_PERSONS)["entities"]}
    assert ents["Redonda"]["label"] in ("GPE", "LOC")
    assert ents["Mato Grosso"]["label"] in ("GPE", "LOC")
    assert ents["Mato Grosso"]["country"] == "BR"
    assert ents["Arecibo Observatory"]["label"] == "FAC"
    assert not any(e["label"] == "PERSON" for e in ents.values())


def test_place_names_as_teams_in_sports_copy(tag):
    ents = {e["text"]: e for e in tag(CRICKET)["entities"]}
    for side in ("Surrey", "Kent", "Essex", "Derbyshire"):
        assert ents[side]["label"] == "ORG" and ents[side]["kind"] == "team", side
    # national sides stay the country
    assert ents["England"]["label"] == "GPE" and ents["Scotland"]["label"] == "GPE"


def test_given_name_and_surname_make_a_person(tag):
    ents = by_canonical(tag(GIVEN_NAMES))
    assert ents["Danius Gleveckas"]["label"] == "PERSON"
    assert ents["Danius Gleveckas"]["count"] == 2  # the surname alone joins it
    assert ents["Joost van der Westhuizen"]["label"] == "PERSON"


@pytest.mark.parametrize("body", STORIES)
def test_one_label_per_name_and_exact_spans(tag, body):
    r = tag(body)
    labels: dict[str, set[str]] = {}
    for e in r["entities"]:
        for s, t in e["spans"]:
            assert body[s:t].strip() and body[s:t] == body[s:t].strip()
            labels.setdefault(body[s:t], set()).add(e["label"])
    assert all(len(v) == 1 for v in labels.values()), labels
