"""Credentials changed from the command line end what they used to open."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import httpx

from tests.conftest import PASSWORD, Server, _insert_user
from tests.test_cli import tasklette


def _signed_in(server: Server, username: str) -> httpx.Client:
    client = httpx.Client(base_url=server.base_url, timeout=30)
    response = client.post("/signin", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


def test_set_password_signs_the_user_out_everywhere(tmp_path: Path) -> None:
    server = Server(tmp_path).start()
    try:
        server.call(_insert_user(server, "ana"))
        server.call(_insert_user(server, "bo"))
        with closing(_signed_in(server, "ana")) as laptop, \
                closing(_signed_in(server, "ana")) as phone, \
                closing(_signed_in(server, "bo")) as other:
            changed = tasklette("user", "set-password", "ana", "--password",
                                "a new password", "--data-dir", str(tmp_path))
            assert changed.returncode == 0, changed.stderr
            assert "2 sessions signed out" in changed.stdout
            for client in (laptop, phone):
                assert client.get("/account").headers["location"].startswith("/signin")
            assert other.get("/account").status_code == 200  # another user is not touched
    finally:
        server.stop()


def test_an_admin_revokes_all_of_a_users_tokens(tmp_path: Path) -> None:
    server = Server(tmp_path).start()
    try:
        server.call(_insert_user(server, "ana"))
        server.call(_insert_user(server, "bo"))
        data = ["--data-dir", str(tmp_path)]
        secrets = [tasklette("token", "create", "ana", "--name", name, *data).stdout.strip()
                   for name in ("laptop", "ci")]
        kept = tasklette("token", "create", "bo", *data).stdout.strip()
        revoked = tasklette("token", "revoke", "--all", "ana", *data)
        assert revoked.returncode == 0, revoked.stderr
        assert "Revoked 2 tokens of ana" in revoked.stdout
        for secret in secrets:
            me = httpx.get(server.base_url + "/api/v1/me",
                           headers={"Authorization": f"Bearer {secret}"})
            assert me.status_code == 401
        still = httpx.get(server.base_url + "/api/v1/me",
                          headers={"Authorization": f"Bearer {kept}"})
        assert still.status_code == 200
        listed = tasklette("token", "list", "ana", *data).stdout
        assert listed.count("revoked") == 2
        again = tasklette("token", "revoke", "--all", "ana", *data)
        assert again.returncode == 0 and "Revoked 0 tokens" in again.stdout
        neither = tasklette("token", "revoke", "ana", *data)
        assert neither.returncode != 0 and "--all" in neither.stderr
    finally:
        server.stop()
