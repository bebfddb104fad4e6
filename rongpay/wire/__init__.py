"""Wire formats spoken with outside parties (ISO 8583 to card issuers)."""
