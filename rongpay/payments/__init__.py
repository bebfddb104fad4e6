"""The payment gateway: merchants, keys, payment intents, refunds, disputes, fees, channels.

Every money movement is a ledger transfer (DESIGN.md `payments/`).
"""
