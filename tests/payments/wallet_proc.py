"""A separate process paying from one wallet in a loop; prints each payment that succeeded
(`<intent id> succeeded`) or was refused, so a test can race processes or kill one mid-load.

usage: python -m tests.payments.wallet_proc DB_URL MERCHANT CUSTOMER AMOUNT COUNT
"""

from __future__ import annotations

import sys

from rongpay.payments.ops import Change
from rongpay.store import engine as store_engine
from tests.payments.factories import gateway, pay_wallet


def main() -> None:
    url, merchant_id, customer, amount, count = sys.argv[1:6]
    engine = store_engine.create(url)
    gw = gateway(engine)
    for _ in range(int(count)):
        result = pay_wallet(gw, merchant_id, customer, int(amount))
        assert isinstance(result, Change)
        print(result.intent.id, result.intent.status, flush=True)


if __name__ == "__main__":
    main()
