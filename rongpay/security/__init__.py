"""Security primitives: signatures, the card vault, card data checks (DESIGN.md `security/`)."""
