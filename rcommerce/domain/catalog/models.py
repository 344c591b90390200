from rcommerce.db.base import Base  # placeholder until the catalog tables land
