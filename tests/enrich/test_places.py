"""Place resolution: population and importance priors, "City, Province" pairs, the story's home
country, lists of countries, territories. Stories written for these tests."""

from __future__ import annotations

import pytest

from tests.enrich.helpers import by_canonical, codes


@pytest.mark.parametrize(
    ("body", "name", "country"),
    [
        # a big city beats a small country's province of the same name (Jamaican parishes)
        (
            "Thousands of fans lined the streets of Manchester on Sunday to greet the team. The "
            "city council closed roads for the parade.",
            "Manchester",
            "GB",
        ),
        (
            "The council in Portland approved next year's budget on Tuesday, the mayor said.",
            "Portland",
            "US",
        ),
        # a name written without its accents is the place's own name, not an alternate one
        (
            "Hotels in Cancun were fully booked for spring break, tourism officials said.",
            "Cancun",
            "MX",
        ),
    ],
)
def test_famous_city_beats_small_namesake(tag, body, name, country):
    r = tag(body)
    assert by_canonical(r)[name]["country"] == country, r["entities"]
    assert codes(r) == {country}


def test_city_province_pair_and_counties_abroad(tag):
    ontario = tag(
        "A fire destroyed a barn near Woodstock, Ontario, on Sunday. The Oxford County fire chief "
        "said nobody was hurt."
    )
    ents = by_canonical(ontario)
    assert ents["Woodstock"]["country"] == "CA"
    assert ents["Oxford County"]["country"] is None  # a county name known to us only in Maine
    assert codes(ontario) == {"CA"}
    maine = tag(
        "A fire destroyed a barn near Rumford, Maine, on Sunday. The Oxford County fire chief "
        "said nobody was hurt."
    )
    assert by_canonical(maine)["Oxford County"]["country"] == "US"
    assert codes(maine) == {"US"}
    # the province written the way Canadian papers abbreviate it
    assert (
        by_canonical(tag("Police in Brandon, Man., arrested two men."))["Brandon"]["country"]
        == "CA"
    )


def test_canadian_spelling_is_not_american_local_news(tag):
    r = tag(
        "The county council approved $2 million for the new recreation centre in Belleville, "
        "and the neighbourhood association welcomed the decision."
    )
    assert "US" not in codes(r), r["countries"]


def test_ambiguous_name_takes_the_home_country_sense_without_cues(tag):
    body = (
        "Georgia's newest utility regulator could face $20,000 in fines for ethics violations, "
        "the commission said on Monday."
    )
    r = tag(body, source_country="US")
    assert codes(r) == {"US"}, r["countries"]
    assert by_canonical(r)["Georgia"]["country"] == "US"
    # with no home country and no cue, the country keeps its usual sense
    assert codes(tag(body)) == {"GE"}


def test_a_country_in_a_list_is_not_inside_the_next_one(tag):
    r = tag("Polio cases were reported in Ghana, Niger, Nigeria and Togo this year.")
    assert by_canonical(r)["Niger"]["country"] == "NE"
    assert codes(r) == {"GH", "NE", "NG", "TG"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("Mayotte is a French department in the Indian Ocean.", "YT"),
        ("Officials in the British Virgin Islands said the storm had passed.", "VG"),
        ("A dengue outbreak spread across Guadeloupe and Martinique last month.", "GP"),
    ],
)
def test_territories_with_their_own_code(tag, body, code):
    assert code in codes(tag(body))


def test_a_dateline_name_is_a_place_not_a_person(tag):
    r = tag(
        "JOLIET — Joliet's building inspector says the sprinkler system of the casino was "
        "disconnected when a fire destroyed the building.",
        title="Sprinklers were off before fire",
    )
    assert by_canonical(r)["Joliet"]["label"] == "GPE", r["entities"]
    assert codes(r) == {"US"}
