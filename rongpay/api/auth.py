"""Who is calling: the admin key, or a merchant's secret key (test or live mode).

Being written: for now only the admin key is accepted.
"""

from __future__ import annotations

from rongpay.api.deps import require_admin

require_caller = require_admin
