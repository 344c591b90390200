"""The one cart pricing pipeline: unit prices → promotions → tax on the discounted base →
shipping → shipping tax → totals (core-domain §4.1, DECISIONS 5 and 12)."""
