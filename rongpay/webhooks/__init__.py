"""Webhooks: events written in the same transaction as the change (outbox), signed and delivered.

Producers call `rongpay.webhooks.outbox.emit(conn, ...)` inside their transaction; the
dispatcher (`rongpay.webhooks.dispatcher.Dispatcher`) delivers. Merchants' receivers use
`rongpay.webhooks.verify(body, header, secret)`.
"""

from rongpay.webhooks.receiver import InvalidPayload, SignatureError, verify

__all__ = ["InvalidPayload", "SignatureError", "verify"]
