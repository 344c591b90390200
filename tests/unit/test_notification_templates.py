"""Notification templates: built-ins, escaping, validation and override order."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcommerce.domain.notifications.errors import MISSING_TEMPLATE_VARIABLES, TEMPLATE_NOT_FOUND, TEMPLATE_RENDER_ERROR
from rcommerce.notifications.templates import Templates, TemplateSource

SPEC_NAMES = {
    "order_confirmation", "order_shipped", "order_cancelled", "refund_processed", "payment_failed", "welcome",
    "password_reset", "abandoned_cart", "low_stock", "subscription_created", "subscription_renewal",
    "subscription_cancelled", "dunning_first", "dunning_retry", "dunning_final",
}  # fmt: skip


def test_every_builtin_declares_its_variables_and_renders() -> None:
    templates = Templates()
    assert set(templates.builtin_names()) >= SPEC_NAMES
    for name in templates.builtin_names():
        source = templates.builtin(name)
        assert source.subject and source.text and source.html
        templates.validate(source)  # every used variable is declared
        rendered = templates.render(name, templates.sample(source))
        assert "\n" not in rendered.subject


def test_order_confirmation_renders_and_html_is_escaped() -> None:
    out = Templates().render(
        "order_confirmation",
        {"customer_name": "<script>x</script>", "order_number": "R-1", "order_total": "$12.34", "item_count": 2,
         "company_name": "ACME", "support_email": "help@acme.test"},
    )  # fmt: skip
    assert out.subject == "Order Confirmed: R-1"
    assert "Hi <script>x</script>," in out.text  # plain text is not escaped
    assert "&lt;script&gt;" in out.html and "<script>" not in out.html
    assert "$12.34" in out.text and "2 item(s)" in out.text


def test_missing_variables_are_listed() -> None:
    templates = Templates()
    with pytest.raises(Exception) as info:
        templates.render("password_reset", {"customer_name": "A", "company_name": "C", "support_email": "s"})
    assert info.value.reason is MISSING_TEMPLATE_VARIABLES  # type: ignore[attr-defined]
    assert info.value.metadata["variables"] == "expires_in,reset_url"  # type: ignore[attr-defined]


def test_syntax_error_reports_part_and_line() -> None:
    bad = TemplateSource("x", "Hi", "line one\n{% if %}\n", "", ())
    with pytest.raises(Exception) as info:
        Templates().validate(bad)
    assert info.value.reason is TEMPLATE_RENDER_ERROR  # type: ignore[attr-defined]
    assert info.value.metadata == {"template": "x", "part": "text", "line": "2"}  # type: ignore[attr-defined]


def test_sandbox_refuses_unsafe_attribute_access() -> None:
    source = TemplateSource("x", "{{ v.__class__.__mro__ }}", "t", "", ("v",))
    with pytest.raises(Exception) as info:
        Templates().render_source(source, {"v": ""})
    assert info.value.reason is TEMPLATE_RENDER_ERROR  # type: ignore[attr-defined]


def test_unknown_template() -> None:
    with pytest.raises(Exception) as info:
        Templates().source("nope")
    assert info.value.reason is TEMPLATE_NOT_FOUND  # type: ignore[attr-defined]


def test_override_order_database_then_directory_then_builtin(tmp_path: Path) -> None:
    (tmp_path / "welcome.subject.j2").write_text("Hello from the directory, {{ customer_name }}")
    templates = Templates(directory=tmp_path, globals={"company_name": "ACME", "support_email": "s@acme.test"})
    variables = {"customer_name": "Ann", "login_url": "l", "shop_url": "s", "help_center_url": "h"}
    from_dir = templates.render("welcome", variables)
    assert from_dir.subject == "Hello from the directory, Ann"
    assert "Welcome to ACME!" in from_dir.text  # the text part falls back to the built-in
    assert templates.source("welcome").origin == "directory"
    override = TemplateSource(
        "welcome", "From the database", "db {{ customer_name }}", "", ("customer_name",), "override"
    )
    assert templates.render("welcome", variables, override=override).text == "db Ann\n"
    assert (
        Templates().render("welcome", {**variables, "company_name": "X", "support_email": "e"}).subject
        == "Welcome to X!"
    )
