"""The ``example-flat`` tax provider: one rate for every line."""

from __future__ import annotations

from decimal import Decimal

from rcommerce.plugins.providers import LineTax, TaxComponent, TaxRequest, TaxResult

__all__ = ["FlatTax"]


class FlatTax:
    """Tax = amount x ``rate_bps`` / 10 000, rounded half up, per line, in minor units.

    For gross prices (``prices_include_tax``) the tax is the part of the amount that is
    tax: amount x rate / (10 000 + rate).
    """

    code = "example-flat"
    display_name = "Example flat rate"

    def __init__(self, *, rate_bps: int, currency: str) -> None:
        self.rate_bps = rate_bps
        self.currency = currency

    async def calculate(self, request: TaxRequest) -> TaxResult:
        if request.currency != self.currency:
            raise ValueError(
                f"example-flat is configured for {self.currency}, not {request.currency}; "
                f"set [plugins.example] currency"
            )
        divisor = 10_000 + self.rate_bps if request.prices_include_tax else 10_000
        rate = Decimal(self.rate_bps) / 10_000
        lines = []
        for line in request.lines:
            tax = (2 * line.amount * self.rate_bps + divisor) // (2 * divisor)
            taxable = line.amount - tax if request.prices_include_tax else line.amount
            component = TaxComponent(name=self.display_name, rate=rate, amount=tax)
            lines.append(LineTax(line_id=line.line_id, taxable_amount=taxable, components=(component,)))
        return TaxResult(lines=tuple(lines))
