"""Inventory: stock locations, levels per variant per location, the movement ledger,
reservations and low-stock alerts (DECISIONS 11)."""
