"""Rules between the API's messages and the stored JSON the rules engine reads
(``rules.py``); weights in conditions are converted to grams at this edge."""

from __future__ import annotations

from typing import Any

from rcommerce import money
from rcommerce.domain.shipping.convert import Problems, title, weight_text
from rcommerce.domain.shipping.models import ShippingRuleRow
from rcommerce.domain.shipping.rules import validate_action, validate_condition
from rcommerce.domain.shipping.units import WEIGHT_UNITS
from rcommerce.gen.v1 import shipping_pb2 as S
from rcommerce.ids import id_prefix
from rcommerce.timestamps import to_timestamp

__all__ = ["rule_message", "rule_values"]

_LISTS = {
    "destination_country": "countries", "destination_state": "states", "product_category": "categories",
    "customer_group": "groups", "shipping_method": "methods", "cart_contains": "skus",
}  # fmt: skip
_MONEY_CONDITIONS = {"order_total"}
_MONEY_ACTIONS = {"surcharge", "require_insurance", "set_handling_fee"}


def _condition_json(cond: S.ShippingRuleCondition, field: str, problems: Problems, depth: int = 0) -> dict[str, Any]:
    kind = cond.WhichOneof("condition")
    if kind is None:
        problems.add(field, "is required: set exactly one condition")
        return {"type": "always"}
    if depth > 8:
        problems.add(field, "nests too deeply (at most 8 levels)")
        return {"type": "always"}
    if kind == "order_total":
        r = cond.order_total
        out: dict[str, Any] = {"type": kind}
        if r.HasField("min"):
            out["min"] = r.min
        if r.HasField("max"):
            out["max"] = r.max
        return out
    if kind == "order_weight":
        w = cond.order_weight
        unit = problems.unit(w.unit, WEIGHT_UNITS, f"{field}.order_weight.unit", "kg")
        out = {"type": kind, "unit": unit}
        low = problems.weight(w.min, unit, f"{field}.order_weight.min")
        high = problems.weight(w.max, unit, f"{field}.order_weight.max")
        if low is not None:
            out["min"] = low
        if high is not None:
            out["max"] = high
        return out
    if kind in _LISTS:
        values = list(getattr(cond, kind).values)
        if kind == "product_category":
            values = [v.removeprefix("categories/") for v in values]
        if kind in ("destination_country", "destination_state", "shipping_method"):
            values = [v.strip() for v in values]
        return {"type": kind, _LISTS[kind]: values}
    if kind == "min_quantity":
        return {"type": kind, "quantity": cond.min_quantity}
    if kind == "always":
        return {"type": kind}
    nested = getattr(cond, kind).conditions
    return {
        "type": kind,
        "conditions": [
            _condition_json(c, f"{field}.{kind}.conditions[{i}]", problems, depth + 1) for i, c in enumerate(nested)
        ],
    }


def _condition_message(data: dict[str, Any]) -> S.ShippingRuleCondition:
    kind = data["type"]
    msg = S.ShippingRuleCondition()
    if kind == "order_total":
        msg.order_total.SetInParent()
        if "min" in data:
            msg.order_total.min = data["min"]
        if "max" in data:
            msg.order_total.max = data["max"]
    elif kind == "order_weight":
        unit = data.get("unit", "kg")
        msg.order_weight.CopyFrom(
            S.WeightRange(min=weight_text(data.get("min"), unit), max=weight_text(data.get("max"), unit), unit=unit)
        )
    elif kind == "product_category":
        msg.product_category.values.extend(f"categories/{c}" if id_prefix(c) else c for c in data.get("categories", []))
    elif kind in _LISTS:
        getattr(msg, kind).values.extend(data.get(_LISTS[kind], []))
    elif kind == "min_quantity":
        msg.min_quantity = data["quantity"]
    elif kind == "always":
        msg.always = True
    else:
        getattr(msg, kind).conditions.extend(_condition_message(c) for c in data.get("conditions", []))
        getattr(msg, kind).SetInParent()
    return msg


def _action_json(action: S.ShippingRuleAction, field: str, problems: Problems) -> dict[str, Any]:
    kind = action.WhichOneof("action")
    if kind is None:
        problems.add(field, "is required: set exactly one action")
        return {"type": "require_signature"}
    if kind in ("free_shipping", "require_signature"):
        return {"type": kind}
    if kind == "discount_percent":
        return {"type": "discount_shipping", "percent": action.discount_percent.strip()}
    if kind in ("hide_methods", "show_only_methods"):
        return {"type": kind, "methods": [m.strip() for m in getattr(action, kind).values]}
    return {"type": kind, "amount": getattr(action, kind)}


def _action_message(data: dict[str, Any]) -> S.ShippingRuleAction:
    kind = data["type"]
    msg = S.ShippingRuleAction()
    if kind in ("free_shipping", "require_signature"):
        setattr(msg, kind, True)
    elif kind == "discount_shipping":
        msg.discount_percent = str(data["percent"])
    elif kind in ("hide_methods", "show_only_methods"):
        getattr(msg, kind).values.extend(data["methods"])
    else:
        setattr(msg, kind, data["amount"])
    return msg


def _uses_money(data: dict[str, Any]) -> bool:
    if data.get("type") in _MONEY_CONDITIONS:
        return True
    return any(_uses_money(c) for c in data.get("conditions", []))


def rule_values(msg: S.ShippingRule, problems: Problems, field: str = "shipping_rule") -> dict[str, Any]:
    condition = _condition_json(msg.condition, f"{field}.condition", problems)
    action = _action_json(msg.action, f"{field}.action", problems)
    if not problems:
        for path, problem in validate_condition(condition, f"{field}.condition"):
            problems.add(path, problem)
        for path, problem in validate_action(action, f"{field}.action"):
            problems.add(path, problem)
    currency = msg.currency_code
    if currency and not money.is_currency(currency):
        problems.add(f"{field}.currency_code", "must be an upper-case ISO 4217 code or empty")
    if not currency and (_uses_money(condition) or action.get("type") in _MONEY_ACTIONS):
        problems.add(f"{field}.currency_code", "is required when the condition or action has an amount")
    return {
        "name": title(msg.display_name, f"{field}.display_name", problems),
        "currency_code": currency,
        "priority": msg.priority,
        "enabled": msg.enabled if msg.HasField("enabled") else True,
        "condition": condition,
        "action": action,
    }


def rule_message(row: ShippingRuleRow) -> S.ShippingRule:
    return S.ShippingRule(
        name=f"shippingRules/{row.id}", id=row.id, display_name=row.name, priority=row.priority, enabled=row.enabled,
        currency_code=row.currency_code, condition=_condition_message(row.condition), action=_action_message(row.action),
        create_time=to_timestamp(row.created_at), update_time=to_timestamp(row.updated_at),
    )  # fmt: skip
