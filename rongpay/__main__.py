"""`python -m rongpay` is the `rongpay` command."""

import sys

from rongpay.cli import main

sys.exit(main())
