"""rongpay: payments fused with finance. See DESIGN.md for the layers."""

__version__ = "0.1.0"
