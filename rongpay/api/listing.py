"""List endpoints' shared conventions: `limit`, `starting_after`, `ending_before`, and the
`{"object": "list", "url", "data", "has_more"}` envelope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Query
from starlette.responses import Response

from rongpay.api import render
from rongpay.api.errors import ApiError, parameter_invalid
from rongpay.store.paging import DEFAULT_LIMIT, MAX_LIMIT, CursorMissing, Page


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"objects per page, 1 to {MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
    starting_after: Annotated[
        str | None, Query(max_length=255, description="id of the last object of the previous page")
    ] = None,
    ending_before: Annotated[
        str | None, Query(max_length=255, description="id of the first object of the next page")
    ] = None,
) -> Page:
    if starting_after is not None and ending_before is not None:
        raise parameter_invalid(
            "ending_before", "Give at most one of `starting_after` and `ending_before`."
        )
    for name, value in (("starting_after", starting_after), ("ending_before", ending_before)):
        if value is not None and "\x00" in value:  # no id holds one (PostgreSQL text cannot)
            raise ApiError(400, "resource_missing", f"{name}: no such object in this list",
                           param=name)  # fmt: skip
    return Page(limit, starting_after, ending_before)


PageDep = Annotated[Page, Depends(page_params)]


@contextmanager
def cursor_errors() -> Iterator[None]:
    """A cursor naming no object of the list is the client's mistake: 400 resource_missing."""
    try:
        yield
    except CursorMissing as exc:
        raise ApiError(400, "resource_missing", str(exc), param=exc.param) from None


def list_response(
    url: str, rows: list[Any], has_more: bool, render_one: Callable[[Any], dict[str, Any]]
) -> Response:
    data = [render_one(r) for r in rows]
    return render.json_response({"object": "list", "url": url, "data": data, "has_more": has_more})
