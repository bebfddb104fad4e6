"""A writer process for the concurrency and crash tests.

usage: python -m tests.ledger.writer_proc URL PREFIX BATCHES BATCH_SIZE DEBIT CREDIT AMOUNT
Submits BATCHES batches and prints each acknowledged (committed) transfer id, flushed, right
after its commit returns: whatever it printed must survive a kill -9.
"""

import sys

from rongpay.ledger import service
from rongpay.store import engine as store_engine


def main() -> None:
    url, prefix, batches, size, debit, credit, amount = sys.argv[1:8]
    engine = store_engine.create(url)
    for b in range(int(batches)):
        raws = [
            {
                "id": f"{prefix}-{b}-{i}",
                "debit_account_id": debit,
                "credit_account_id": credit,
                "amount": int(amount),
            }
            for i in range(int(size))
        ]
        (results,) = service.create_transfers(engine, [service.parse_transfers(raws)])
        lines = [f"{r['id']} {res}" for r, res in zip(raws, results, strict=True)]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
