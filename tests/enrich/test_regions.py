"""Regions API (services/enrich/regions.py): M49 and named groups, country codes."""

from __future__ import annotations

import pytest

from services.enrich.regions import all_regions, countries_for_region, regions_for_country


def test_regions_api():
    me = countries_for_region("Middle East")
    assert {"IQ", "LB", "IL", "PS"} <= me
    assert countries_for_region("middle-east") == me == countries_for_region("MIDDLE EAST")
    assert countries_for_region("145") == countries_for_region("Western Asia")
    assert "IQ" in countries_for_region("145") and "EG" not in countries_for_region("145")
    assert countries_for_region("Levant") == {"IL", "JO", "LB", "PS", "SY"}
    assert {"ML", "NE", "TD"} <= countries_for_region("Sahel")
    assert countries_for_region("Horn of Africa") >= {"SO", "ET", "ER", "DJ"}
    assert "KE" in countries_for_region("202")  # Sub-Saharan Africa includes its intermediates
    assert len(countries_for_region("European Union")) == 27
    with pytest.raises(KeyError, match="unknown region"):
        countries_for_region("Atlantis")
    iq = regions_for_country("IQ")
    assert {"code": "145", "name": "Western Asia", "scheme": "m49"}.items() <= iq[1].items()
    assert {"middle-east", "gulf"} & {g["code"] for g in iq if g["scheme"] == "group"}
    assert all_regions() and all("countries" in g for g in all_regions())


def test_every_m49_country_is_a_real_code():
    import pycountry

    for g in all_regions():
        for c in g["countries"]:
            assert c == "XK" or pycountry.countries.get(alpha_2=c) is not None, (g["name"], c)
