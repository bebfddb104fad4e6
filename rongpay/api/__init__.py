"""The HTTP JSON API under /v1 (FastAPI); see rongpay.api.app.create_app."""

from rongpay.api.app import create_app

__all__ = ["create_app"]
