"""Channel connectors: each outside party (card issuer, bank) behind one small interface.

The outside parties themselves are simulated in `rongpay.sim` as separate processes.
"""
