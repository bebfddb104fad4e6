"""Compliance: know your customer, sanctions screening, AML monitoring, cases and reports.

- `kyc`, `documents`: tiers and limits (`check_limit`), ID / passport MRZ / IBAN checks.
- `sanctions`, `names`, `screening`, `screening_service`: lists, name forms, the index,
  `screen_party` / `screen_cross_border` for onboarding and payments.
- `events`, `aml_params`, `aml_scenarios`, `aml_graph`, `aml_engine`, `aml_eval`: transaction
  monitoring (`Monitor.observe` live, `scan_lines` in batch) and its evaluation.
- `store`, `cases`, `complaints`, `reports`: the database side (alerts -> cases, four eyes,
  STR / LVTR / complaints reports with JSON Schemas in `schemas/`).
- `reference`, `data/`: countries, FATF lists, static CNY rates, the sample sanctions list.

Layer: imports only `rongpay.money` and `rongpay.store` (see DESIGN.md).
"""
