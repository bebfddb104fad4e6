"""The double-entry ledger: accounts, immutable transfers, two-phase and linked batches.

Modelled on TigerBeetle: the client names every id (so a retry is idempotent), a batch returns
one result per transfer, linked chains commit whole or not at all. This package knows nothing
of payments.
"""
