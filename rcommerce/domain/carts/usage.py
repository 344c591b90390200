"""What the carts context tells others about its rows."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.carts.models import CartRow


async def region_usage(session: AsyncSession, region_id: str) -> str | None:
    """A description such as "3 carts" when carts (of any status: converted ones keep their region)
    belong to ``region_id``; None when none do. Registered with the region service so a
    region in use cannot be deleted."""
    count = await session.scalar(select(func.count()).select_from(CartRow).where(CartRow.region_id == region_id))
    return f"{count} cart{'s' if count != 1 else ''}" if count else None
