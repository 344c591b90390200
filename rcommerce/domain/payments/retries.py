"""When a sweep may call the gateway again for an operation whose calls failed.

Sweeps that finish payment operations in the background (the checkout reconciler's
captures and voids, the expiry of customer actions) retry a gateway call that failed
with the same idempotency key. After the n-th failed call they wait ``[payments]
gateway_retry_s * 2**(n-1)`` seconds, at most ``gateway_retry_max_s``, counted from the
payment ledger's ``error`` rows of that key: no state of its own. Candidates are read
page by page (:mod:`rcommerce.db.backlog`), so the ones waiting never hide the ones
behind them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, func, select

from rcommerce.db.backlog import backlog_pages
from rcommerce.db.database import Database
from rcommerce.domain.payments.models import PaymentTransactionRow
from rcommerce.jobs.queue import exponential_backoff

__all__ = ["RetryPolicy", "due_operations", "retry_due"]

#: (failed calls, when the last one failed)
Failures = tuple[int, datetime]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``[payments] gateway_retry_s`` and ``gateway_retry_max_s``."""

    #: Seconds after the first failed call; doubling after each further one ...
    base_s: int = 60
    #: ... at most this many seconds.
    cap_s: int = 3600


def retry_due(failures: Failures | None, now: datetime, policy: RetryPolicy) -> bool:
    """Whether an operation with these failed calls may be tried again at ``now``."""
    if failures is None:
        return True  # no failed call: never tried, or the process died before the gateway answered
    count, last = failures
    wait = exponential_backoff(min(count, 31), base_s=policy.base_s, cap_s=policy.cap_s, jitter=0)
    return now >= last + timedelta(seconds=wait)


async def due_operations(
    db: Database,
    candidates: Select[str, Any],
    order: tuple[SQLColumnExpression[Any], SQLColumnExpression[Any]],
    key_of: Callable[[str], str],
    now: datetime,
    policy: RetryPolicy,
    *,
    limit: int,
) -> AsyncGenerator[tuple[str, Any]]:
    """The ``(payment id, second column)`` rows of ``candidates`` whose operation (the
    idempotency key ``key_of(payment id)``) is due, in ``order``; at most ``limit`` of
    them, one per try the sweep makes. No session is open while a row is handled."""
    tries = 0
    async for rows in backlog_pages(db, candidates, order):
        keys = {row[0]: key_of(row[0]) for row in rows}
        failures = await _failures(db, keys)
        for row in rows:
            if retry_due(failures.get(keys[row[0]]), now, policy):
                yield row[0], row[1]
                tries += 1
                if tries >= limit:
                    return


async def _failures(db: Database, keys: Mapping[str, str]) -> dict[str, Failures]:
    """Per idempotency key (of the payment id it maps from), its failed gateway calls."""
    async with db.read() as s:
        return {
            key: (count, last)
            for key, count, last in await s.execute(
                select(PaymentTransactionRow.idempotency_key, func.count(), func.max(PaymentTransactionRow.created_at))
                .where(
                    PaymentTransactionRow.payment_id.in_(list(keys)),
                    PaymentTransactionRow.idempotency_key.in_(list(keys.values())),
                    PaymentTransactionRow.status == "error",
                )
                .group_by(PaymentTransactionRow.idempotency_key)
            )
        }
