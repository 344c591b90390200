"""Tax: zones, categories and rates, the calculator, VAT id checks and tax transactions."""
