"""Refund reasons (S5) and how gateway data is kept: pure rules."""

from __future__ import annotations

import pytest

from rcommerce.domain.payments.rules import NOTE_MAX, refund_reason
from rcommerce.domain.payments.service import _merged
from rcommerce.plugins.providers import REFUND_REASONS


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", ("requested_by_customer", "")),
        ("   ", ("requested_by_customer", "")),
        ("requested_by_customer", ("requested_by_customer", "")),
        ("duplicate", ("duplicate", "")),
        (" Fraudulent ", ("fraudulent", "")),
        ("other", ("other", "")),
        ("oops", ("other", "oops")),  # S5: sent as other (Stripe: requested_by_customer), kept as the note
        ("Customer changed their mind", ("other", "Customer changed their mind")),
    ],
)
def test_refund_reason(given: str, expected: tuple[str, str]) -> None:
    assert refund_reason(given) == expected


def test_the_documented_reason_set_is_unchanged() -> None:
    assert REFUND_REASONS == ("requested_by_customer", "duplicate", "fraudulent", "other")


def test_a_long_note_is_cut() -> None:
    reason, note = refund_reason("x" * (NOTE_MAX + 20))
    assert reason == "other" and len(note) == NOTE_MAX


def test_gateway_data_is_merged_key_by_key() -> None:
    stored = {"gateway": {"order_id": "O1", "status": "APPROVED"}, "retry_allowed": True}
    merged = _merged(stored, {"capture_id": "C1", "status": "COMPLETED"})
    assert merged == {
        "gateway": {"order_id": "O1", "status": "COMPLETED", "capture_id": "C1"},
        "retry_allowed": True,
    }
    assert stored["gateway"] == {"order_id": "O1", "status": "APPROVED"}, "the stored data is not changed in place"
    assert _merged({}, {"a": 1}) == {"gateway": {"a": 1}}
