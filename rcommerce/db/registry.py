"""Imports every context's tables so ``metadata`` is complete (for Alembic and tests)."""

from rcommerce.db.base import Base
from rcommerce.domain.admin import models as _admin  # noqa: F401
from rcommerce.domain.carts import models as _carts  # noqa: F401
from rcommerce.domain.catalog import models as _catalog  # noqa: F401
from rcommerce.domain.checkout import models as _checkout  # noqa: F401
from rcommerce.domain.customers import models as _customers  # noqa: F401
from rcommerce.domain.fulfillment import models as _fulfillment  # noqa: F401
from rcommerce.domain.inventory import models as _inventory  # noqa: F401
from rcommerce.domain.orders import models as _orders  # noqa: F401
from rcommerce.domain.payments import models as _payments  # noqa: F401
from rcommerce.domain.price_lists import models as _price_lists  # noqa: F401
from rcommerce.domain.promotions import models as _promotions  # noqa: F401
from rcommerce.domain.regions import models as _regions  # noqa: F401
from rcommerce.domain.shipping import models as _shipping  # noqa: F401
from rcommerce.domain.tax import models as _tax  # noqa: F401
from rcommerce.events import models as _events  # noqa: F401
from rcommerce.events import outbox as _outbox  # noqa: F401
from rcommerce.jobs import models as _jobs  # noqa: F401
from rcommerce.notifications import models as _notifications  # noqa: F401

metadata = Base.metadata
