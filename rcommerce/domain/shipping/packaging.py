"""Volumetric weight and packaging (spec §1.6, §1.10).

Volumetric weight is ``ceil(L × W × H / factor)`` in whole units of the preset:
``standard_international`` 5000 (cm → kg), ``standard_domestic_us`` 139 (in → lb),
``usps`` 166 (in → lb). A 50 × 40 × 30 cm box weighs 12 kg volumetric; a 12 in cube
13 lb (1728 / 139 = 12.43, rounded up). The chargeable weight is the larger of actual
and volumetric, compared in the same unit (the first implementation compared a kg
figure with an unconverted actual weight; we convert).

Packing is greedy first fit: units (quantities expanded, unlike the first
implementation) are taken in order; each pass fills one parcel while the weight stays
within the limit; a unit heavier than the limit ships alone. A parcel measures
(longest L + 15 mm, widest W + 15 mm, stacked heights + 15 mm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from rcommerce.domain.shipping.units import CM_PER_UNIT, to_grams, to_mm

__all__ = [
    "PACKAGES",
    "PADDING_MM",
    "VOLUMETRIC_PRESETS",
    "PackUnit",
    "PackageType",
    "PackedParcel",
    "VolumetricPreset",
    "can_fit",
    "chargeable_grams",
    "find_best_flat_rate",
    "girth_mm",
    "is_oversized",
    "pack",
    "volumetric_grams",
    "volumetric_units",
]

#: The spec's 1.5 cm padding around packed items.
PADDING_MM = 15


@dataclass(frozen=True, slots=True)
class VolumetricPreset:
    name: str
    factor: int
    #: Unit of the dimensions divided by ``factor``: "cm" or "in".
    length_unit: str
    #: Unit of the result: "kg" or "lb".
    weight_unit: str


VOLUMETRIC_PRESETS: dict[str, VolumetricPreset] = {
    "standard_international": VolumetricPreset("standard_international", 5000, "cm", "kg"),
    "standard_domestic_us": VolumetricPreset("standard_domestic_us", 139, "in", "lb"),
    "usps": VolumetricPreset("usps", 166, "in", "lb"),
}


def volumetric_units(length_mm: int, width_mm: int, height_mm: int, preset: VolumetricPreset) -> int | None:
    """Whole units (kg or lb) of volumetric weight, rounded up; None when a dimension is missing."""
    if not (length_mm and width_mm and height_mm):
        return None
    per_unit_cm = CM_PER_UNIT[preset.length_unit]
    dims = [Decimal(d) / 10 / per_unit_cm for d in (length_mm, width_mm, height_mm)]
    volume = dims[0] * dims[1] * dims[2]
    return int((volume / preset.factor).to_integral_value(rounding=ROUND_CEILING))


def volumetric_grams(length_mm: int, width_mm: int, height_mm: int, preset: VolumetricPreset) -> int | None:
    units = volumetric_units(length_mm, width_mm, height_mm, preset)
    return None if units is None else to_grams(Decimal(units), preset.weight_unit)


def chargeable_grams(
    actual_grams: int, length_mm: int, width_mm: int, height_mm: int, preset: VolumetricPreset | None
) -> int:
    """max(actual, volumetric), both in grams."""
    if preset is None:
        return actual_grams
    volumetric = volumetric_grams(length_mm, width_mm, height_mm, preset)
    return actual_grams if volumetric is None else max(actual_grams, volumetric)


def girth_mm(width_mm: int, height_mm: int) -> int:
    """Girth as carriers measure it: 2 × (W + H) (spec §1.6)."""
    return 2 * (width_mm + height_mm)


def is_oversized(width_mm: int, height_mm: int, max_girth_mm: int) -> bool:
    """True when the girth exceeds ``max_girth_mm`` (strictly)."""
    return girth_mm(width_mm, height_mm) > max_girth_mm


@dataclass(frozen=True, slots=True)
class PackUnit:
    """One physical unit to pack."""

    weight_grams: int
    length_mm: int = 0
    width_mm: int = 0
    height_mm: int = 0


@dataclass(frozen=True, slots=True)
class PackedParcel:
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int
    units: int


def _parcel(units: Sequence[PackUnit]) -> PackedParcel:
    return PackedParcel(
        weight_grams=sum(u.weight_grams for u in units),
        length_mm=max(u.length_mm for u in units) + PADDING_MM,
        width_mm=max(u.width_mm for u in units) + PADDING_MM,
        height_mm=sum(u.height_mm for u in units) + PADDING_MM,
        units=len(units),
    )


def pack(units: Sequence[PackUnit], max_weight_grams: int) -> list[PackedParcel]:
    """Greedy first-fit packing into parcels of at most ``max_weight_grams``."""
    remaining = list(units)
    parcels: list[PackedParcel] = []
    while remaining:
        current: list[PackUnit] = []
        weight = 0
        rest: list[PackUnit] = []
        for unit in remaining:
            if weight + unit.weight_grams <= max_weight_grams:
                current.append(unit)
                weight += unit.weight_grams
            else:
                rest.append(unit)
        if not current:
            # Nothing fits: the spec forces the last remaining unit into a parcel of its own.
            current, rest = [rest[-1]], rest[:-1]
        parcels.append(_parcel(current))
        remaining = rest
    return parcels


@dataclass(frozen=True, slots=True)
class PackageType:
    """A carrier's predefined package (spec §1.10)."""

    code: str
    carrier: str
    length: Decimal
    width: Decimal
    height: Decimal
    unit: str  # "in" or "cm"
    max_weight: Decimal
    weight_unit: str  # "lb" or "kg"
    #: USD cents, for flat-rate boxes.
    flat_rate: int | None = None

    @property
    def max_weight_grams(self) -> int:
        return to_grams(self.max_weight, self.weight_unit)

    @property
    def volume_cm3(self) -> Decimal:
        cm = CM_PER_UNIT[self.unit]
        return self.length * cm * self.width * cm * self.height * cm


def _pkg(
    code: str, carrier: str, dims: tuple[str, str, str], unit: str, max_wt: str, wunit: str, flat: int | None = None
) -> PackageType:
    return PackageType(
        code, carrier, Decimal(dims[0]), Decimal(dims[1]), Decimal(dims[2]), unit, Decimal(max_wt), wunit, flat
    )


PACKAGES: tuple[PackageType, ...] = (
    _pkg("usps_flat_rate_envelope", "USPS", ("12", "9", "1"), "in", "70", "lb", 800),
    _pkg("usps_medium_flat_rate_box", "USPS", ("11", "8", "6"), "in", "70", "lb", 1600),
    _pkg("usps_large_flat_rate_box", "USPS", ("12", "12", "6"), "in", "70", "lb", 2100),
    _pkg("ups_express_box_small", "UPS", ("13", "11", "2"), "in", "30", "lb"),
    _pkg("ups_express_box_medium", "UPS", ("16", "11", "3"), "in", "30", "lb"),
    _pkg("ups_express_box_large", "UPS", ("18", "13", "3"), "in", "30", "lb"),
    _pkg("fedex_small_box", "FedEx", ("12", "10", "6"), "in", "20", "lb"),
    _pkg("fedex_medium_box", "FedEx", ("14", "12", "6"), "in", "20", "lb"),
    _pkg("fedex_large_box", "FedEx", ("16", "14", "6"), "in", "20", "lb"),
    _pkg("dhl_express_envelope", "DHL", ("32", "24", "1"), "cm", "1", "kg"),
    _pkg("dhl_small_box", "DHL", ("40", "30", "20"), "cm", "5", "kg"),
    _pkg("dhl_medium_box", "DHL", ("50", "40", "30"), "cm", "10", "kg"),
)


def can_fit(package: PackageType, length_mm: int, width_mm: int, height_mm: int) -> bool:
    """Single orientation, as the spec: l <= L and w <= W and h <= H."""
    limits = [to_mm(d, package.unit) for d in (package.length, package.width, package.height)]
    return length_mm <= limits[0] and width_mm <= limits[1] and height_mm <= limits[2]


def find_best_flat_rate(units: Sequence[PackUnit], carrier: str = "") -> PackageType | None:
    """The cheapest flat-rate package holding every unit (stacked: max L, max W, Σ H)."""
    if not units:
        return None
    weight = sum(u.weight_grams for u in units)
    length = max(u.length_mm for u in units)
    width = max(u.width_mm for u in units)
    height = sum(u.height_mm for u in units)
    candidates = [
        p for p in PACKAGES if p.flat_rate is not None and (not carrier or p.carrier.lower() == carrier.lower())
    ]
    fitting = [p for p in candidates if weight <= p.max_weight_grams and can_fit(p, length, width, height)]
    return min(fitting, key=lambda p: p.flat_rate or 0, default=None)
