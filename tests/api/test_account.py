"""The signed-in user, API tokens and the API's own documents."""

from __future__ import annotations

from typing import Any

import httpx

from tasklette.api.routes import ENDPOINTS
from tests.conftest import Server, User


def test_me_and_token_lifecycle(owner: User, server: Server) -> None:
    me = owner.client.get("/api/v1/me").json()
    assert (me["id"], me["username"]) == (owner.id, owner.username)
    created = owner.client.post("/api/v1/tokens", json={"name": "laptop"})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("tsk_")
    # Only a hash is stored: the secret is nowhere in the database.
    stored = server.sql("SELECT token_hash, token_prefix FROM api_tokens WHERE id = ?",
                        (created.json()["id"],))[0]
    assert secret not in stored["token_hash"] and secret.startswith(stored["token_prefix"])
    listed = owner.client.get("/api/v1/tokens").json()
    assert all("token" not in row and "token_hash" not in row for row in listed)
    with httpx.Client(base_url=server.base_url,
                      headers={"Authorization": f"Bearer {secret}"}) as laptop:
        assert laptop.get("/api/v1/me").status_code == 200
        revoked = owner.client.delete(f"/api/v1/tokens/{created.json()['id']}")
        assert revoked.json()["revoked_at"] is not None
        refused = laptop.get("/api/v1/me")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")


def test_token_of_another_user_cannot_be_revoked(owner: User, make_user: Any) -> None:
    other = make_user("other")
    token_id = other.client.get("/api/v1/tokens").json()[0]["id"]
    assert owner.client.delete(f"/api/v1/tokens/{token_id}").status_code == 404
    assert other.client.get("/api/v1/me").status_code == 200


def test_openapi_describes_every_endpoint(anon: httpx.Client) -> None:
    doc = anon.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    operations = {(method.upper(), path) for path, ops in doc["paths"].items()
                  for method in ops}
    expected = {(e.method, e.path.replace(":id}", "}")) for e in ENDPOINTS}
    assert operations == expected
    create_task = doc["paths"]["/api/v1/projects/{project_id}/tasks"]["post"]
    body_ref = create_task["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    task_create = doc["components"]["schemas"][body_ref.split("/")[-1]]
    assert task_create["properties"]["title"]["maxLength"] == 500
    assert task_create["additionalProperties"] is False
    page = anon.get("/api/docs")
    assert page.status_code == 200
    assert "/api/v1/tasks/{task_id}/move" in page.text
    assert "content-security-policy" in page.headers


def test_unknown_api_path_is_a_problem(anon: httpx.Client) -> None:
    response = anon.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    wrong_method = anon.put("/api/v1/projects")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == 405
