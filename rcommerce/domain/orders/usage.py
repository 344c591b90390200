"""What the orders context tells others about its rows."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.orders.models import OrderRow


async def region_usage(session: AsyncSession, region_id: str) -> str | None:
    """A description such as "2 orders" when orders were placed in ``region_id``, else None. Orders keep their
    region for good, so such a region can never be deleted."""
    count = await session.scalar(select(func.count()).select_from(OrderRow).where(OrderRow.region_id == region_id))
    return f"{count} order{'s' if count != 1 else ''}" if count else None
