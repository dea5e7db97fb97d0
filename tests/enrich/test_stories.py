"""Stories written for these tests (not taken from any corpus), tagged with the real model."""

from __future__ import annotations

from tests.enrich.helpers import by_canonical, codes, focus

IRAQ_TITLE = "Blinken meets Iraqi prime minister as militias warn of escalation"
IRAQ = """U.S. Secretary of State Antony Blinken met Iraqi Prime Minister Mohammed Shia al-Sudani \
in Baghdad on Tuesday, hours after an Iran-backed Iraqi militia warned of escalation.

Blinken told al-Sudani that Washington wanted to keep the conflict from spreading. Kataib \
Hezbollah, one of the most powerful Iraqi armed groups, said it would answer any attack on its \
fighters.

In a televised speech from Beirut, Hezbollah leader Naim Qassem said Lebanon would not be \
dragged into a wider war, while fighting went on in Gaza.

Iraq's government has tried to balance its ties with the United States and Iran. Sudani said \
Iraq would not become a battleground for others, and Iraqi officials said the talks in Baghdad \
would continue."""


def test_middle_east_story_entities(tag):
    r = tag(IRAQ, title=IRAQ_TITLE, id="iraq")
    ents = by_canonical(r)
    assert ents["Antony Blinken"]["label"] == "PERSON"
    assert ents["Antony Blinken"]["country"] == "US"
    assert ents["Antony Blinken"]["count"] >= 2
    assert ents["Antony Blinken"].get("in_title") is True
    sudani = ents["Mohammed Shia al-Sudani"]
    assert sudani["label"] == "PERSON" and sudani["country"] == "IQ"
    assert sudani["count"] >= 3  # full name, "al-Sudani", "Sudani"
    assert ents["Kataib Hezbollah"]["label"] == "ORG"
    assert ents["Kataib Hezbollah"]["country"] == "IQ"
    assert ents["Hezbollah"]["label"] == "ORG" and ents["Hezbollah"]["country"] == "LB"
    assert ents["Naim Qassem"]["label"] == "PERSON"
    assert ents["Baghdad"]["label"] == "GPE" and ents["Baghdad"]["country"] == "IQ"
    # no short mention survives as an entity of its own
    assert "Blinken" not in ents and "al-Sudani" not in ents and "Sudani" not in ents


def test_middle_east_story_countries_and_regions(tag):
    r = tag(IRAQ, title=IRAQ_TITLE, id="iraq")
    assert {"US", "IQ", "IR", "LB", "PS"} <= codes(r)
    assert "IL" not in codes(r)  # Israel is not named in this story
    assert focus(r) == {"IQ"}
    iq = next(c for c in r["countries"] if c["code"] == "IQ")
    assert set(iq["via"]) == {"place", "demonym", "affiliation"}
    assert iq["name"] == "Iraq" and iq["mentions"] >= 5
    regions = {(g["scheme"], g["code"]): g["name"] for g in r["regions"]}
    assert regions[("m49", "145")] == "Western Asia"
    assert regions[("m49", "142")] == "Asia"
    assert regions[("group", "middle-east")] == "Middle East"
    assert r["enrichment"]["status"] == "ok"


def test_israel_when_named(tag):
    more = "\n\nIsrael struck targets in southern Lebanon overnight, the Israeli army said."
    r = tag(IRAQ + more)
    assert "IL" in codes(r)


def test_spans_match_body_exactly(tag):
    stories = [IRAQ, GEORGIA, JORDAN, SPORT, BUSINESS, ATLANTA, CAPS]
    for body in stories:
        r = tag(body, title="Title with Baghdad and Amman")
        for e in r["entities"]:
            assert e["count"] >= len(e["spans"])
            for s, end in e["spans"]:
                assert body[s:end].strip() == body[s:end]
                assert body[s:end], e
            if e["spans"]:
                surfaces = {body[s:end] for s, end in e["spans"]}
                assert e["text"] in surfaces
            else:
                assert e.get("in_title") is True


def test_title_mentions_not_in_spans(tag):
    title = "Lebanon braces for more strikes"
    body = "Residents of Beirut stocked up on fuel. Lebanon has no functioning government."
    r = tag(body, title=title)
    leb = by_canonical(r)["Lebanon"]
    assert leb["in_title"] is True
    assert leb["spans"] == [[body.index("Lebanon has"), body.index("Lebanon has") + 7]]
    assert leb["count"] == 2


GEORGIA = """Thousands of protesters gathered outside parliament in Tbilisi on Sunday as Georgia's \
ruling party pushed ahead with a law that critics say mirrors Russian legislation.

Georgian President Salome Zourabichvili said the country's path to the European Union was at \
risk. Officials in Brussels warned that Georgia could lose its status as a candidate. In \
Batumi, on the Black Sea coast, smaller rallies were held."""

ATLANTA = """ATLANTA -- Georgia lawmakers approved a budget on Thursday that adds money for \
schools in Atlanta, Savannah and Augusta.

The bill now goes to Gov. Brian Kemp. Legislators in Alabama and Tennessee are weighing \
similar measures, and Georgia's teachers union said the raise was overdue."""


def test_georgia_the_country(tag):
    r = tag(GEORGIA)
    assert "GE" in codes(r)
    assert "US" not in codes(r)
    assert focus(r) == {"GE"}
    assert by_canonical(r)["Georgia"]["country"] == "GE"
    names = {g["name"] for g in r["regions"]}
    assert "Caucasus" in names and "Western Asia" in names


def test_georgia_the_us_state(tag):
    r = tag(ATLANTA)
    assert "US" in codes(r)
    assert "GE" not in codes(r)
    assert by_canonical(r)["Georgia"]["country"] == "US"


JORDAN = """Jordan said on Monday it had intercepted drones crossing its airspace, and King \
Abdullah II called for restraint in a meeting with the Egyptian foreign minister in Amman.

Jordan hosts more than 600,000 registered Syrian refugees, and officials in Amman said aid \
cuts had left the kingdom struggling."""


def test_jordan_the_country(tag):
    r = tag(JORDAN)
    ents = by_canonical(r)
    assert ents["Jordan"]["label"] == "GPE"
    assert ents["Jordan"]["country"] == "JO"
    assert ents["Jordan"]["count"] == 2
    assert "JO" in focus(r)
    # a single passing demonym ("the Egyptian foreign minister") does not tag a country ...
    assert "EG" not in codes(r) and "SY" not in codes(r)
    # ... two do
    r2 = tag(JORDAN + " Egyptian and Jordanian officials later met Egyptian aid groups.")
    eg = next(c for c in r2["countries"] if c["code"] == "EG")
    assert eg["via"] == ["demonym"] and eg["mentions"] >= 2 and not eg["focus"]


SPORT = """Michael Jordan's former team, the Chicago Bulls, lost 102-98 to the Boston Celtics on \
Friday. Jordan, who watched from a courtside seat, applauded Jayson Tatum after the game.

Tatum scored 34 points. "We knew Chicago would come out hard," Celtics coach Joe Mazzulla said."""


def test_sports_story_person_not_country(tag):
    r = tag(SPORT)
    ents = by_canonical(r)
    assert ents["Michael Jordan"]["label"] == "PERSON"
    assert ents["Michael Jordan"]["count"] == 2  # "Jordan" attaches to the full name
    assert "JO" not in codes(r)
    assert ents["Jayson Tatum"]["label"] == "PERSON" and ents["Jayson Tatum"]["count"] == 2
    assert codes(r) == {"US"}


BUSINESS = """Toyota Motor and Honda shares fell in Tokyo on Wednesday after the Bank of Japan \
signalled another rate increase, while Samsung Electronics rose in Seoul.

Analysts at Goldman Sachs said a stronger yen would cut Toyota's profit. Reuters reported that \
Toyota was considering new investment in Mexico."""


def test_business_story(tag):
    r = tag(BUSINESS, source="reuters.com")
    ents = by_canonical(r)
    assert ents["Toyota"]["label"] == "ORG" and ents["Toyota"]["country"] == "JP"
    assert ents["Toyota"]["count"] == 3
    assert ents["Bank of Japan"]["label"] == "ORG"
    assert ents["Reuters"]["label"] == "ORG"
    assert "JP" in focus(r)
    assert {"JP", "KR", "MX"} <= codes(r)
    jp = next(c for c in r["countries"] if c["code"] == "JP")
    assert "place" in jp["via"] and "affiliation" in jp["via"]


def test_us_aliases_are_one_entity(tag):
    body = (
        "The US and Canada agreed on tariffs. U.S. officials said the United States would "
        "review the deal, and America's allies welcomed it."
    )
    r = tag(body)
    us = [e for e in r["entities"] if e["canonical"] == "United States"]
    assert len(us) == 1
    assert us[0]["count"] == 4 and len(us[0]["spans"]) == 4
    assert {body[s:e] for s, e in us[0]["spans"]} == {"US", "U.S.", "United States", "America"}


CAPS = """BAGHDAD - IRAQI FORCES RETAKE TOWN FROM ISLAMIC STATE

Iraqi troops said on Friday they had recaptured the town after heavy fighting."""


def test_all_caps_headline_is_truecased(tag):
    r = tag(CAPS)
    ents = by_canonical(r)
    assert ents["Baghdad"]["country"] == "IQ"
    assert ents["Islamic State"]["label"] == "ORG"
    assert focus(r) == {"IQ"}


def test_us_local_story_with_state_abbreviation(tag):
    body = (
        "LOUISVILLE, Ky. - Police in Louisville said Tuesday that a man was arrested after a "
        "chase that ended in Jeffersontown. Officers from Lexington, Ky., assisted."
    )
    r = tag(body)
    assert codes(r) == {"US"}


def test_source_country_prior(tag):
    body = "Police in Athens said a man was arrested after a chase. The mayor praised officers."
    assert codes(tag(body)) == {"GR"}
    assert codes(tag(body, source_country="US")) == {"US"}
    body_ga = "Police in Athens, Ga., said a man was arrested after a chase."
    assert codes(tag(body_ga)) == {"US"}


def test_regions_named_in_text_and_acronyms(tag):
    body = (
        "Jihadist violence is spreading across the Sahel, the Economic Community of West "
        "African States (ECOWAS) warned on Monday after attacks in Mali and Niger. ECOWAS "
        "leaders will meet in Abuja."
    )
    r = tag(body)
    sahel = [g for g in r["regions"] if g["code"] == "sahel"]
    assert sahel and sahel[0]["scheme"] == "group"
    assert {"ML", "NE", "NG"} <= codes(r)
    ecowas = by_canonical(r)["Economic Community of West African States"]
    assert ecowas["label"] == "ORG" and ecowas["count"] == 3


def test_person_short_mention_before_and_after(tag):
    body = (
        "Kenyan runner Faith Kipyegon won the 1,500 metres in Eugene, Oregon. Kipyegon, "
        "who holds the world record, said the race was hard. Kipyegon will run again in "
        "Nairobi next month."
    )
    r = tag(body)
    fk = by_canonical(r)["Faith Kipyegon"]
    assert fk["label"] == "PERSON" and fk["count"] == 3
    assert {"KE", "US"} <= codes(r)


def test_names_keep_their_spelling_and_titles_are_not_organizations(tagger):
    body = (
        "Nigeria's William Troost-Ekong scored before Secretary of State Antony Blinken "
        "spoke. Ships kept away from the Red Sea."
    )
    out = tagger.tag({"id": "t", "body": body})
    names = {e["canonical"]: e for e in out["entities"]}
    assert "William Troost-Ekong" in names
    assert "State" not in names
    assert "SD" not in {c["code"] for c in out["countries"]}  # the sea, not the Sudanese state


def test_two_known_cities_joined_by_and_are_two_places(tagger):
    body = (
        "The army helped with rescue efforts around Karachi and Hyderabad after floods in "
        "Pakistan. Bosnia and Herzegovina sent aid."
    )
    out = tagger.tag({"id": "k", "body": body})
    names = {e["canonical"]: e["label"] for e in out["entities"]}
    assert names.get("Karachi") == "GPE" and names.get("Hyderabad") == "GPE"
    assert "Karachi and Hyderabad" not in names
    assert names.get("Bosnia and Herzegovina") == "GPE"
    assert {"PK", "BA"} <= {c["code"] for c in out["countries"]}


def test_first_name_the_model_leaves_out_joins_the_surname(tagger):
    """en_core_web_sm tags only "Haller" in "Sebastien Haller scored ..."."""
    body = (
        "Ivory Coast beat Nigeria 2-1 in the final in Abidjan on Sunday.\n\n"
        "Sebastien Haller scored the winning goal nine minutes from time. Haller, who "
        "recovered from cancer last year, was mobbed by his teammates."
    )
    out = tagger.tag({"id": "h", "body": body})
    people = {e["canonical"]: e for e in out["entities"] if e["label"] == "PERSON"}
    assert "Sebastien Haller" in people, people
    assert people["Sebastien Haller"]["count"] == 2  # the later "Haller" joins it
    assert "Haller" not in people


def test_words_before_a_surname_that_are_not_first_names(tagger):
    """Roles, sentence openers and days are never taken as first names."""
    for opener in ("Striker", "Instead", "Monday", "Finally", "Coach", "Meanwhile"):
        body = f"The match was tense. {opener} Haller scored the winning goal in Abidjan."
        out = tagger.tag({"id": "x", "body": body})
        names = {e["canonical"] for e in out["entities"]}
        assert not any(n.startswith(opener) and "Haller" in n for n in names), (opener, names)
