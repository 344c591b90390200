"""Volumetric weight (spec §1.6) and packaging (spec §1.10)."""

from __future__ import annotations

from rcommerce.domain.shipping.packaging import (
    PACKAGES,
    VOLUMETRIC_PRESETS,
    PackUnit,
    can_fit,
    chargeable_grams,
    find_best_flat_rate,
    girth_mm,
    is_oversized,
    pack,
    volumetric_grams,
    volumetric_units,
)

INTL = VOLUMETRIC_PRESETS["standard_international"]
US = VOLUMETRIC_PRESETS["standard_domestic_us"]
USPS = VOLUMETRIC_PRESETS["usps"]
INCH = 25.4


def test_presets() -> None:
    assert (INTL.factor, INTL.length_unit, INTL.weight_unit) == (5000, "cm", "kg")
    assert (US.factor, US.length_unit, US.weight_unit) == (139, "in", "lb")
    assert (USPS.factor, USPS.length_unit, USPS.weight_unit) == (166, "in", "lb")


def test_volumetric_rounds_up_to_whole_units() -> None:
    assert volumetric_units(500, 400, 300, INTL) == 12  # 60000 cm3 / 5000
    assert volumetric_units(300, 200, 150, INTL) == 2  # 9000 / 5000 = 1.8 -> 2
    assert volumetric_units(305, 305, 305, US) == 13  # 12 in cube: 1728 / 139 = 12.43 -> 13 (305 mm ~ 12.008 in)
    assert volumetric_units(304, 304, 304, USPS) == 11  # 1714 / 166 = 10.3 -> 11
    assert volumetric_units(300, 0, 150, INTL) is None  # a missing dimension: no volumetric weight
    assert volumetric_grams(500, 400, 300, INTL) == 12000
    assert volumetric_grams(305, 305, 305, US) == 5897  # 13 lb


def test_chargeable_is_the_larger_in_the_same_unit() -> None:
    assert chargeable_grams(1000, 300, 200, 150, INTL) == 2000
    assert chargeable_grams(3000, 300, 200, 150, INTL) == 3000
    # The first implementation compared 13 (lb) with an unconverted actual weight; 5 kg < 13 lb.
    assert chargeable_grams(5000, 305, 305, 305, US) == 5897
    assert chargeable_grams(1000, 300, 200, 150, None) == 1000
    assert chargeable_grams(1000, 0, 0, 0, INTL) == 1000


def test_pack_greedy_first_fit_with_padding() -> None:
    units = [PackUnit(4000, 300, 200, 100), PackUnit(3000, 250, 250, 50), PackUnit(2500, 100, 100, 100)]
    parcels = pack(units, 7000)
    # Pass 1: 4000 + 3000 = 7000 fits (<=), 2500 does not; pass 2: the rest.
    assert [(p.weight_grams, p.units) for p in parcels] == [(7000, 2), (2500, 1)]
    # Dimensions: max L + 15 mm, max W + 15 mm, stacked heights + 15 mm (1.5 cm padding).
    assert (parcels[0].length_mm, parcels[0].width_mm, parcels[0].height_mm) == (315, 265, 165)
    assert (parcels[1].length_mm, parcels[1].width_mm, parcels[1].height_mm) == (115, 115, 115)


def test_pack_forces_a_unit_heavier_than_the_limit_alone() -> None:
    parcels = pack([PackUnit(1000), PackUnit(50000)], 30000)
    assert [p.weight_grams for p in parcels] == [1000, 50000]


def test_registry_and_fit() -> None:
    codes = {p.code: p for p in PACKAGES}
    assert len(codes) == 12
    medium = codes["usps_medium_flat_rate_box"]
    assert (medium.carrier, medium.flat_rate, medium.max_weight_grams) == ("USPS", 1600, 31751)  # 70 lb
    assert codes["dhl_small_box"].max_weight_grams == 5000 and codes["fedex_small_box"].flat_rate is None
    # Single orientation: 10 x 7 x 5 in fits 11 x 8 x 6; turned 7 x 10 x 5 does not.
    assert can_fit(medium, round(10 * INCH), round(7 * INCH), round(5 * INCH))
    assert not can_fit(medium, round(7 * INCH), round(10 * INCH), round(5 * INCH))


def test_best_flat_rate() -> None:
    envelope_item = [PackUnit(300, round(11 * INCH), round(8 * INCH), round(0.5 * INCH))]
    best = find_best_flat_rate(envelope_item)
    assert best is not None and (best.code, best.flat_rate) == ("usps_flat_rate_envelope", 800)
    boxy = [
        PackUnit(2000, round(10 * INCH), round(7 * INCH), round(3 * INCH)),
        PackUnit(1000, round(9 * INCH), round(6 * INCH), round(2 * INCH)),
    ]
    best = find_best_flat_rate(boxy, "usps")
    assert best is not None and (best.code, best.flat_rate) == ("usps_medium_flat_rate_box", 1600)
    wide = [PackUnit(2000, round(12 * INCH), round(11 * INCH), round(4 * INCH))]
    best = find_best_flat_rate(wide)
    assert best is not None and best.code == "usps_large_flat_rate_box"
    assert find_best_flat_rate([PackUnit(32000, 100, 100, 100)]) is None  # over 70 lb
    assert find_best_flat_rate(envelope_item, "FedEx") is None  # no flat-rate FedEx packages
    assert find_best_flat_rate([]) is None


def test_girth() -> None:
    # 2 x (W + H): 40 x 30 cm is 140 cm; oversized only above the limit.
    assert girth_mm(400, 300) == 1400
    assert not is_oversized(400, 300, 1400) and is_oversized(400, 301, 1400)
