"""Signals of the inventory app. Receivers run inside the writing transaction; anything that talks
to the outside world (live push, alerts) should defer itself with transaction.on_commit."""
from django.dispatch import Signal

# Sent by services.move_stock for every ledger movement: sender=Stock, stock=..., movement=...
stock_changed = Signal()
