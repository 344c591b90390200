"""The rules engine (spec §1.9): every condition and action, priority order, validation."""

from __future__ import annotations

from typing import Any

import pytest

from rcommerce.domain.shipping.rules import (
    Option,
    Rule,
    RuleContext,
    RuleItem,
    apply_rules,
    condition_holds,
    validate_action,
    validate_condition,
)
from rcommerce.plugins.providers import Address

CTX = RuleContext(
    currency="USD", subtotal=12000, weight_grams=25000, destination=Address(country="US", region="NY"),
    items=(RuleItem("TEE-1", "var_1", "prod_1", 2, frozenset({"cat_shirts"})), RuleItem("MUG-1", "var_2", "prod_2", 1)),
    customer_group_ids=frozenset({"cgrp_vip"}),
)  # fmt: skip
GROUND = Option("builtin", "ground", "Ground", 1000, "USD")
EXPRESS = Option("builtin", "express", "Express", 3000, "USD")
OVERNIGHT = Option("builtin", "overnight", "Overnight", 5000, "USD")


def rule(condition: dict[str, Any], action: dict[str, Any], priority: int = 0, **kw: Any) -> Rule:
    return Rule(
        id=f"shru_{priority}_{action['type']}", name="r", condition=condition, action=action, priority=priority, **kw
    )


CONDITIONS: list[tuple[dict[str, Any], bool]] = [
    ({"type": "always"}, True),
    ({"type": "order_total", "min": 12000}, True),  # inclusive
    ({"type": "order_total", "min": 12001}, False),
    ({"type": "order_total", "max": 12000}, True),
    ({"type": "order_total", "min": 5000, "max": 9999}, False),
    ({"type": "order_weight", "min": 20000}, True),  # works (was always 0 in the first implementation)
    ({"type": "order_weight", "max": 24999}, False),
    ({"type": "destination_country", "countries": ["us", "CA"]}, True),
    ({"type": "destination_country", "countries": ["DE"]}, False),
    ({"type": "destination_state", "states": ["ny"]}, True),
    ({"type": "destination_state", "states": ["CA"]}, False),
    ({"type": "product_category", "categories": ["cat_shirts"]}, True),
    ({"type": "product_category", "categories": ["cat_shoes"]}, False),
    ({"type": "customer_group", "groups": ["cgrp_vip"]}, True),
    ({"type": "customer_group", "groups": ["cgrp_b2b"]}, False),
    ({"type": "shipping_method", "methods": ["GROUND"]}, True),
    ({"type": "shipping_method", "methods": ["express"]}, False),
    ({"type": "cart_contains", "skus": ["mug-1"]}, True),
    ({"type": "cart_contains", "skus": ["prod_1"]}, True),
    ({"type": "cart_contains", "skus": ["HAT-1"]}, False),
    ({"type": "min_quantity", "quantity": 3}, True),
    ({"type": "min_quantity", "quantity": 4}, False),
    ({"type": "all", "conditions": [{"type": "always"}, {"type": "min_quantity", "quantity": 3}]}, True),
    ({"type": "all", "conditions": [{"type": "always"}, {"type": "min_quantity", "quantity": 4}]}, False),
    (
        {
            "type": "any",
            "conditions": [
                {"type": "min_quantity", "quantity": 4},
                {"type": "destination_state", "states": ["NY"]},
            ],
        },
        True,
    ),
    ({"type": "any", "conditions": [{"type": "min_quantity", "quantity": 4}]}, False),
]


@pytest.mark.parametrize(("condition", "holds"), CONDITIONS, ids=[f"{c['type']}-{h}" for c, h in CONDITIONS])
def test_every_condition(condition: dict[str, Any], holds: bool) -> None:
    assert condition_holds(condition, CTX, GROUND) is holds


def test_every_action() -> None:
    with_fees = Option("builtin", "ground", "Ground", 1000, "USD", handling_fee=200, insurance_fee=100)
    always = {"type": "always"}

    def one(action: dict[str, Any], option: Option = with_fees) -> list[Option]:
        return apply_rules([rule(always, action)], CTX, [option])

    assert one({"type": "free_shipping"})[0].total == 0
    # Percent 0-100 off the rate, half up; fees stay (the first implementation dropped them).
    assert one({"type": "discount_shipping", "percent": "10"})[0].total == 900 + 300
    assert (
        one({"type": "discount_shipping", "percent": "12.5"}, Option("b", "g", "G", 999, "USD"))[0].rate == 874
    )  # 999 - 124.875 -> 125
    assert one({"type": "surcharge", "amount": 250})[0].total == 1550
    assert one({"type": "require_insurance", "amount": 500})[0].insurance_fee == 500
    assert one({"type": "set_handling_fee", "amount": 50})[0].total == 1150
    signed = one({"type": "require_signature"})[0]
    assert signed.signature_required and signed.total == 1300
    assert one({"type": "hide_methods", "methods": ["GROUND"]}) == []
    assert one({"type": "show_only_methods", "methods": ["express"]}) == []
    assert one({"type": "show_only_methods", "methods": ["ground"]})[0].rate == 1000


def test_highest_priority_first_and_every_match_applies() -> None:
    rules = [
        rule({"type": "always"}, {"type": "surcharge", "amount": 500}, priority=1),
        rule({"type": "always"}, {"type": "free_shipping"}, priority=100),
    ]
    # Free first (priority 100), then the surcharge: 5.00.
    assert [o.total for o in apply_rules(rules, CTX, [GROUND])] == [500]
    reversed_priorities = [
        rule({"type": "always"}, {"type": "surcharge", "amount": 500}, priority=100),
        rule({"type": "always"}, {"type": "free_shipping"}, priority=1),
    ]
    assert [o.total for o in apply_rules(reversed_priorities, CTX, [GROUND])] == [0]
    applied = apply_rules(rules, CTX, [GROUND])[0].applied_rules
    assert applied == ("shru_100_free_shipping", "shru_1_surcharge")


def test_presets_free_threshold_and_hide_express_for_heavy() -> None:
    free_threshold = rule(
        {"type": "order_total", "min": 10000}, {"type": "free_shipping"}, priority=100, currency="USD"
    )
    hide_heavy = rule(
        {"type": "order_weight", "min": 20000}, {"type": "hide_methods", "methods": ["express", "overnight"]}
    )
    out = apply_rules([free_threshold, hide_heavy], CTX, [GROUND, EXPRESS, OVERNIGHT])
    assert [(o.service_code, o.total) for o in out] == [("ground", 0)]
    light = RuleContext(currency="USD", subtotal=9999, weight_grams=1000, destination=CTX.destination)
    assert [o.total for o in apply_rules([free_threshold, hide_heavy], light, [GROUND, EXPRESS])] == [1000, 3000]


def test_shipping_method_condition_is_per_option() -> None:
    express_surcharge = rule({"type": "shipping_method", "methods": ["express"]}, {"type": "surcharge", "amount": 1000})
    assert [o.total for o in apply_rules([express_surcharge], CTX, [GROUND, EXPRESS])] == [1000, 4000]


def test_disabled_and_other_currency_rules_do_not_apply() -> None:
    free = {"type": "free_shipping"}
    rules = [rule({"type": "always"}, free, enabled=False), rule({"type": "always"}, free, currency="EUR")]
    assert [o.total for o in apply_rules(rules, CTX, [GROUND])] == [1000]


def test_validation() -> None:
    assert validate_condition({"type": "all", "conditions": [{"type": "order_total", "min": 100}]}) == []
    assert validate_condition({"type": "nope"})[0][0] == "condition"
    assert validate_condition({"type": "order_total"}) == [("condition", "needs min, max or both")]
    assert validate_condition({"type": "order_total", "min": 10, "max": 5}) == [
        ("condition.max", "must not be below min")
    ]
    assert validate_condition({"type": "order_weight", "min": -1})[0][0] == "condition.min"
    assert validate_condition({"type": "destination_country", "countries": []})[0][0] == "condition.countries"
    assert validate_condition({"type": "min_quantity", "quantity": 0})[0][0] == "condition.quantity"
    assert validate_condition({"type": "any", "conditions": []})[0][0] == "condition.conditions"
    assert validate_condition({"type": "any", "conditions": [{"type": "x"}]})[0][0] == "condition.conditions[0]"
    assert validate_action({"type": "discount_shipping", "percent": "100"}) == []
    assert validate_action({"type": "discount_shipping", "percent": "101"})[0][0] == "action.percent"
    assert validate_action({"type": "discount_shipping", "percent": "ten"})[0][0] == "action.percent"
    assert validate_action({"type": "surcharge", "amount": -5})[0][0] == "action.amount"
    assert validate_action({"type": "hide_methods", "methods": []})[0][0] == "action.methods"
    assert validate_action({"type": "teleport"})[0][0] == "action"
