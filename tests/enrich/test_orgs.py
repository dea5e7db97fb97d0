"""Organizations: sides in the tables and result lines of sports copy. Stories written for these
tests."""

from __future__ import annotations

import pytest

from tests.enrich.helpers import by_canonical

RESULTS = (
    "SOCCER - SCOTTISH LEAGUE RESULTS\n\n"
    "Results of Scottish league matches on Saturday:\n\n"
    "Arbroath 2 Forfar 1\n\n"
    "Queen's Park 0 Elgin City 3\n\n"
    "Postponed: Peterhead v Montrose, Brechin v Stranraer\n\n"
    "Standings (tabulate under played, won, drawn, lost, goals for, against, points):\n\n"
    "Arbroath 5 4 1 0 11 3 13\n\n"
    "Elgin City 5 3 1 1 9 6 10\n"
)
STANDINGS = (
    "BASEBALL - MAJOR LEAGUE STANDINGS AFTER SUNDAY'S GAMES\n\n"
    "DENVER 71 60 .542 -\n\n"
    "PORTLAND 66 65 .504 5\n\n"
    "SACRAMENTO 60 70 .462 10 1/2\n\n"
    "MONDAY'S SCHEDULE\n\n"
    "PORTLAND AT SACRAMENTO\n\n"
    "DENVER AT RENO\n"
)


@pytest.mark.parametrize(
    "side", ["Arbroath", "Forfar", "Queen's Park", "Elgin City", "Peterhead", "Montrose", "Brechin"]
)
def test_sides_in_result_lines_tables_and_fixtures_are_teams(tag, side):
    ents = {e["text"]: e for e in tag(RESULTS)["entities"]}
    assert ents[side]["label"] == "ORG", ents.get(side)
    assert ents[side]["kind"] == "team"


@pytest.mark.parametrize("side", ["DENVER", "PORTLAND", "SACRAMENTO", "RENO"])
def test_standings_rows_and_schedule_lines_are_teams(tag, side):
    ents = {e["text"]: e for e in tag(STANDINGS)["entities"]}
    assert ents[side]["label"] == "ORG" and ents[side]["kind"] == "team", ents.get(side)


def test_a_weather_table_keeps_its_cities_as_places(tag):
    r = tag(
        "Temperatures across the country on Tuesday (high, low, humidity):\n\n"
        "Denver 71 64 52\n\nBoston 68 55 40\n\nChicago 70 60 45\n\n"
        "Forecasters expect rain in Denver and Boston later this week."
    )
    ents = by_canonical(r)
    for city in ("Denver", "Boston", "Chicago"):
        assert ents[city]["label"] == "GPE", ents.get(city)
    assert "US" in {c["code"] for c in r["countries"]}, r["countries"]


def test_a_poll_table_by_state_keeps_its_states_as_places(tag):
    r = tag(
        "Senate race: a new poll of likely voters, by state (Democrat, Republican, undecided), "
        "shows the league of swing states narrowing.\n\nOhio 48 45 7\n\nArizona 47 46 7\n"
    )
    ents = by_canonical(r)
    for state in ("Ohio", "Arizona"):
        assert ents[state]["label"] == "GPE", ents.get(state)


def test_national_sides_golfers_and_datelines_are_not_teams(tag):
    r = tag("England 2 Scotland 1\n\nWales 0 Ireland 0\n")
    assert {e["label"] for e in r["entities"]} == {"GPE"}, r["entities"]
    golf = by_canonical(
        tag("Leading scores after the second round of the Masters:\n\nTiger Woods 66 70 136\n")
    )
    assert golf.get("Tiger Woods", {}).get("label") in (None, "PERSON"), golf
    r = tag("DENVER 1996-08-30\n\nDenver police said two men were arrested on Friday.")
    assert all(e["label"] == "GPE" for e in r["entities"] if e["text"].lower() == "denver")


def test_an_abbreviation_that_is_also_a_sports_statistic(tag):
    baseball = tag(
        "Sosa hit a two-run homer in the seventh inning as the Cubs beat the Mets 7-3. Grace had "
        "three hits and an RBI, and the pitcher struck out nine."
    )
    assert "RBI" not in {e["text"] for e in baseball["entities"]}
    assert "IN" not in {c["code"] for c in baseball["countries"]}
    bank = by_canonical(
        tag("The RBI raised its repo rate to curb inflation, the bank's governor said in Mumbai.")
    )
    assert bank["Reserve Bank of India"]["country"] == "IN"
