"""Orders: placement from carts, the status machines, payments, fulfilment, returns and edits."""
