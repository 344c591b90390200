"""Imports every context's tables so ``metadata`` is complete (for Alembic and tests)."""

from rcommerce.db.base import Base
from rcommerce.domain.admin import models as _admin  # noqa: F401
from rcommerce.domain.catalog import models as _catalog  # noqa: F401
from rcommerce.events import models as _events  # noqa: F401
from rcommerce.events import outbox as _outbox  # noqa: F401
from rcommerce.jobs import models as _jobs  # noqa: F401
from rcommerce.notifications import models as _notifications  # noqa: F401

metadata = Base.metadata
