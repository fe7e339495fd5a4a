"""The OpenAPI document tells the truth about the server it describes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tasklette.api.openapi import openapi_document

DOCUMENT = openapi_document()
METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def concrete(path: str) -> str:
    """A path of the document with every parameter filled in (ids 1, usernames 'someone')."""
    return re.sub(r"\{(\w+)\}", lambda m: "someone" if m[1] == "username" else
                  "trello" if m[1] == "source" else "1", path)


@pytest.mark.parametrize("path", sorted(DOCUMENT["paths"]))
def test_405_names_every_method_the_path_has(anon: httpx.Client, path: str) -> None:
    documented = {method.upper() for method in DOCUMENT["paths"][path]}
    response = anon.request("TRACE", concrete(path))
    assert response.status_code == 405, response.text
    allowed = {method.strip() for method in response.headers["allow"].split(",")}
    assert allowed - {"HEAD"} == documented
    assert ("HEAD" in allowed) == ("GET" in documented)
    assert response.headers["content-type"] == "application/problem+json"


def operation(path: str, method: str) -> dict[str, Any]:
    return DOCUMENT["paths"][path][method]  # type: ignore[no-any-return]


def parameter(path: str, method: str, name: str) -> dict[str, Any]:
    [found] = [p for p in operation(path, method)["parameters"] if p["name"] == name]
    return found
