"""The shipping rules engine (spec §1.9; every condition works, DECISIONS 21).

Enabled rules run highest ``priority`` first (ties: creation order); every rule whose
condition holds is applied, none stops the others. A condition is checked per option,
because ``shipping_method`` looks at the option's service code; the others look at the
shipment only.

Conditions: ``order_total`` (subtotal within [min, max], inclusive), ``order_weight``
(chargeable grams within [min, max]), ``destination_country``, ``destination_state``,
``product_category`` (any item in one of the categories), ``customer_group``,
``shipping_method`` (service codes), ``cart_contains`` (any item whose SKU, variant id or
product id is listed), ``min_quantity`` (total units >= quantity), ``always``, ``all`` and
``any`` of nested conditions.

Actions on an option: ``free_shipping`` (everything to 0), ``discount_shipping`` (percent
0–100 off the rate, rounded half up; fees stay), ``surcharge`` (+amount to the rate),
``hide_methods`` / ``show_only_methods`` (by service code), ``require_signature`` (a flag
on the option), ``require_insurance`` (insurance fee = amount), ``set_handling_fee``
(handling fee = amount).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from rcommerce.plugins.providers import Address

__all__ = [
    "ACTION_TYPES",
    "CONDITION_TYPES",
    "Option",
    "Rule",
    "RuleContext",
    "RuleItem",
    "apply_rules",
    "condition_holds",
    "validate_action",
    "validate_condition",
]

CONDITION_TYPES = (
    "order_total", "order_weight", "destination_country", "destination_state", "product_category",
    "customer_group", "shipping_method", "cart_contains", "min_quantity", "always", "all", "any",
)  # fmt: skip
ACTION_TYPES = (
    "free_shipping", "discount_shipping", "surcharge", "hide_methods", "show_only_methods",
    "require_signature", "require_insurance", "set_handling_fee",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RuleItem:
    sku: str
    variant_id: str
    product_id: str
    quantity: int
    category_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class RuleContext:
    currency: str
    subtotal: int
    weight_grams: int
    destination: Address
    items: tuple[RuleItem, ...] = ()
    customer_group_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Option:
    """A shipping option being priced: ``total = rate + handling_fee + insurance_fee``."""

    provider: str
    service_code: str
    display_name: str
    rate: int
    currency: str
    handling_fee: int = 0
    insurance_fee: int = 0
    signature_required: bool = False
    min_days: int | None = None
    max_days: int | None = None
    rate_id: str = ""
    applied_rules: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.rate + self.handling_fee + self.insurance_fee


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    condition: Mapping[str, Any]
    action: Mapping[str, Any]
    priority: int = 0
    enabled: bool = True
    #: "" applies to every currency; else only to shipments in this currency.
    currency: str = ""


def _upper_set(values: Any) -> set[str]:
    return {str(v).strip().upper() for v in values or ()}


def _within(value: int, cond: Mapping[str, Any]) -> bool:
    low, high = cond.get("min"), cond.get("max")
    return (low is None or value >= int(low)) and (high is None or value <= int(high))


def condition_holds(cond: Mapping[str, Any], ctx: RuleContext, option: Option) -> bool:
    """Does ``cond`` hold for ``option`` of the shipment ``ctx``?"""
    kind = cond.get("type")
    if kind == "always":
        return True
    if kind == "order_total":
        return _within(ctx.subtotal, cond)
    if kind == "order_weight":
        return _within(ctx.weight_grams, cond)
    if kind == "destination_country":
        return ctx.destination.country.strip().upper() in _upper_set(cond.get("countries"))
    if kind == "destination_state":
        return ctx.destination.region.strip().upper() in _upper_set(cond.get("states"))
    if kind == "product_category":
        wanted = {str(c) for c in cond.get("categories") or ()}
        return any(item.category_ids & wanted for item in ctx.items)
    if kind == "customer_group":
        return bool(ctx.customer_group_ids & {str(g) for g in cond.get("groups") or ()})
    if kind == "shipping_method":
        return option.service_code.upper() in _upper_set(cond.get("methods"))
    if kind == "cart_contains":
        wanted = _upper_set(cond.get("skus"))
        return any({i.sku.upper(), i.variant_id.upper(), i.product_id.upper()} & wanted for i in ctx.items)
    if kind == "min_quantity":
        return sum(i.quantity for i in ctx.items) >= int(cond.get("quantity", 0))
    if kind == "all":
        return all(condition_holds(c, ctx, option) for c in cond.get("conditions") or ())
    if kind == "any":
        return any(condition_holds(c, ctx, option) for c in cond.get("conditions") or ())
    return False


def _percent_off(amount: int, percent: Decimal) -> int:
    off = (Decimal(amount) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return amount - int(off)


def _apply(action: Mapping[str, Any], option: Option, rule_id: str) -> Option | None:
    """The option after ``action``, or None when the action hides it."""
    kind = action.get("type")
    methods = _upper_set(action.get("methods"))
    code = option.service_code.upper()
    if kind == "hide_methods" and code in methods:
        return None
    if kind == "show_only_methods" and code not in methods:
        return None
    changes: dict[str, Any] = {}
    if kind == "free_shipping":
        changes = {"rate": 0, "handling_fee": 0, "insurance_fee": 0}
    elif kind == "discount_shipping":
        changes = {"rate": _percent_off(option.rate, Decimal(str(action.get("percent", "0"))))}
    elif kind == "surcharge":
        changes = {"rate": option.rate + int(action.get("amount", 0))}
    elif kind == "require_signature":
        changes = {"signature_required": True}
    elif kind == "require_insurance":
        changes = {"insurance_fee": int(action.get("amount", 0))}
    elif kind == "set_handling_fee":
        changes = {"handling_fee": int(action.get("amount", 0))}
    return dataclasses.replace(option, **changes, applied_rules=(*option.applied_rules, rule_id))


def apply_rules(rules: Sequence[Rule], ctx: RuleContext, options: Sequence[Option]) -> list[Option]:
    """Every enabled rule, highest priority first, on every option it matches."""
    current = list(options)
    ordered = sorted(
        (r for r in rules if r.enabled and (not r.currency or r.currency == ctx.currency)), key=lambda r: -r.priority
    )
    for rule in ordered:
        after: list[Option] = []
        for option in current:
            if condition_holds(rule.condition, ctx, option):
                changed = _apply(rule.action, option, rule.id)
                if changed is not None:
                    after.append(changed)
            else:
                after.append(option)
        current = after
    return current


# -- validation of stored JSON (admin input) ----------------------------------------------------


def _list_of_str(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v.strip() for v in value)


def _nonneg_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def validate_condition(cond: Any, path: str = "condition", depth: int = 0) -> list[tuple[str, str]]:
    """(field, problem) pairs for a condition tree; empty when valid."""
    if not isinstance(cond, Mapping) or cond.get("type") not in CONDITION_TYPES:
        return [(path, f"must be one of {', '.join(CONDITION_TYPES)}")]
    if depth > 8:
        return [(path, "nests too deeply (at most 8 levels)")]
    kind = cond["type"]
    problems: list[tuple[str, str]] = []
    if kind in ("order_total", "order_weight"):
        low: Any = cond.get("min")
        high: Any = cond.get("max")
        for bound, value in (("min", low), ("max", high)):
            if value is not None and not _nonneg_int(value):
                problems.append((f"{path}.{bound}", "must be a non-negative integer"))
        if low is None and high is None:
            problems.append((path, "needs min, max or both"))
        elif _nonneg_int(low) and _nonneg_int(high) and low > high:
            problems.append((f"{path}.max", "must not be below min"))
    key: str | None = {"destination_country": "countries", "destination_state": "states", "product_category": "categories",
           "customer_group": "groups", "shipping_method": "methods", "cart_contains": "skus"}.get(kind)  # fmt: skip
    if key is not None and not _list_of_str(cond.get(key)):
        problems.append((f"{path}.{key}", "must list at least one value"))
    if kind == "min_quantity" and not (_nonneg_int(cond.get("quantity")) and cond["quantity"] >= 1):
        problems.append((f"{path}.quantity", "must be at least 1"))
    if kind in ("all", "any"):
        nested = cond.get("conditions")
        if not isinstance(nested, list) or not nested:
            problems.append((f"{path}.conditions", "must list at least one condition"))
        else:
            for i, child in enumerate(nested):
                problems += validate_condition(child, f"{path}.conditions[{i}]", depth + 1)
    return problems


def validate_action(action: Any, path: str = "action") -> list[tuple[str, str]]:
    if not isinstance(action, Mapping) or action.get("type") not in ACTION_TYPES:
        return [(path, f"must be one of {', '.join(ACTION_TYPES)}")]
    kind = action["type"]
    if kind == "discount_shipping":
        try:
            percent = Decimal(str(action.get("percent", "")))
        except InvalidOperation:
            return [(f"{path}.percent", "must be a number from 0 to 100")]
        if not percent.is_finite() or not 0 <= percent <= 100:
            return [(f"{path}.percent", "must be a number from 0 to 100")]
    if kind in ("surcharge", "require_insurance", "set_handling_fee") and not _nonneg_int(action.get("amount")):
        return [(f"{path}.amount", "must be a non-negative amount in minor units")]
    if kind in ("hide_methods", "show_only_methods") and not _list_of_str(action.get("methods")):
        return [(f"{path}.methods", "must list at least one service code")]
    return []
