"""Zone matching (spec §1.8, DECISIONS 21)."""

from __future__ import annotations

from rcommerce.domain.shipping.zones import ZoneSpec, find_zone, postal_in_range
from rcommerce.plugins.providers import Address

US = ZoneSpec("shz_us", "Domestic", ("US",))
CA = ZoneSpec("shz_ca", "Canada", ("CA",))
EU = ZoneSpec("shz_eu", "Europe", ("GB", "DE", "FR", "IT", "ES", "NL", "BE"))
WORLD = ZoneSpec("shz_world", "International", ("*",))


def test_presets_first_match_in_order() -> None:
    zones = [US, CA, EU, WORLD]
    assert find_zone(zones, Address(country="us")) is US
    assert find_zone(zones, Address(country="CA")) is CA
    assert find_zone(zones, Address(country="DE")) is EU
    assert find_zone(zones, Address(country="JP")) is WORLD
    # Configured order decides: the catch-all first takes everything.
    assert find_zone([WORLD, US], Address(country="US")) is WORLD
    assert find_zone([US, CA], Address(country="JP")) is None


def test_exclusions_and_states() -> None:
    rest_of_world = ZoneSpec("z", "Rest", ("*",), exclude_countries=("US",))
    assert not rest_of_world.contains(Address(country="US"))
    assert rest_of_world.contains(Address(country="MX"))
    west = ZoneSpec("z", "West", ("US",), states=("CA", "or", "WA"))
    assert west.contains(Address(country="US", region="ca")) and west.contains(Address(country="US", region="OR"))
    assert not west.contains(Address(country="US", region="NY")) and not west.contains(Address(country="US"))


def test_postal_codes_patterns_and_ranges() -> None:
    nyc = ZoneSpec("z", "NYC", ("US",), postal_codes=("10001", "112*"), postal_ranges=(("10000", "10299"),))
    assert nyc.contains(Address(country="US", postal_code="10001"))
    assert nyc.contains(Address(country="US", postal_code="11215"))
    assert nyc.contains(Address(country="US", postal_code="10282-1234"))  # ZIP+4 compares as 10282
    assert not nyc.contains(Address(country="US", postal_code="10300"))
    assert not nyc.contains(Address(country="US"))
    # Ranges count even without exact codes (the first implementation ignored them).
    only_range = ZoneSpec("z", "Range", ("US",), postal_ranges=(("90000", "96199"),))
    assert only_range.contains(Address(country="US", postal_code="94102"))
    london = ZoneSpec("z", "London", ("GB",), postal_codes=("SW1*", "EC1A 1BB"))
    assert london.contains(Address(country="GB", postal_code="sw1a 1aa"))
    assert london.contains(Address(country="GB", postal_code="EC1A1BB"))
    assert not london.contains(Address(country="GB", postal_code="N1 9GU"))


def test_ranges_compare_numerically_when_both_ends_are_numbers() -> None:
    # As text "9999" > "20000"; as numbers 1000 <= 9999 <= 20000.
    assert postal_in_range("9999", "1000", "20000")
    assert not postal_in_range("999", "1000", "20000")
    assert postal_in_range("01234", "1000", "2000")  # leading zero is a number too
    # Alphanumeric ends compare as upper-case text.
    assert postal_in_range("m5v 2t6", "M5A", "M5Z")
    assert not postal_in_range("N1A", "M5A", "M5Z")
