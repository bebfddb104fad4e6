"""A TestClient on create_app for each engine (db_url fixture from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rongpay.api import create_app

from .apihelp import ADMIN_KEY, AUTH, TestClient


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(db_url, admin_key=ADMIN_KEY), headers=AUTH) as c:
        yield c


@pytest.fixture
def anon(db_url: str) -> Iterator[TestClient]:
    """A client that sends no credentials."""
    with TestClient(create_app(db_url, admin_key=ADMIN_KEY)) as c:
        yield c
