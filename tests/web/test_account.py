"""Sign-in, sessions, first-run setup, password, tokens and CSRF, through the real pages."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Server, User


def form_post(client: httpx.Client, path: str, data: dict[str, str],
              site: str = "same-origin") -> httpx.Response:
    return client.post(path, data=data, headers={"Sec-Fetch-Site": site})


def test_sign_in_sets_a_safe_cookie_and_rotates_it(server: Server, make_user: Any) -> None:
    user = make_user("signin")
    with httpx.Client(base_url=server.base_url) as client:
        assert client.get("/projects").headers["location"].startswith("/signin?next=")
        client.cookies.set("tasklette_session", "planted-by-attacker")
        response = form_post(client, "/signin", {"username": user.username.upper(),
                                                 "password": "correct horse battery",
                                                 "next": "/projects"})
        assert response.status_code == 303
        assert response.headers["location"] == "/projects"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        secret = response.cookies["tasklette_session"]
        assert secret != "planted-by-attacker"
        client.cookies.clear()
        client.cookies.set("tasklette_session", secret)
        assert server.sql("SELECT COUNT(*) FROM sessions WHERE id_hash = ?",
                          (secret,))[0][0] == 0  # only a hash is stored
        assert client.get("/projects").status_code == 200


def test_sign_in_never_redirects_off_site(server: Server, make_user: Any) -> None:
    user = make_user("next")
    with httpx.Client(base_url=server.base_url) as client:
        response = form_post(client, "/signin", {
            "username": user.username, "password": "correct horse battery",
            "next": "//evil.example/steal"})
        assert response.headers["location"] == "/projects"


def test_wrong_password_and_unknown_user_look_the_same(server: Server,
                                                       make_user: Any) -> None:
    user = make_user("same")
    with httpx.Client(base_url=server.base_url) as client:
        wrong = form_post(client, "/signin", {"username": user.username, "password": "nope!"})
        unknown = form_post(client, "/signin", {"username": "nobody-at-all",
                                                "password": "nope!"})
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match an account" in wrong.text and "do not match an account" in unknown.text
    assert 'value="' + user.username in wrong.text  # the form keeps what was typed


def test_repeated_failures_are_slowed_down(server: Server, make_user: Any) -> None:
    user = make_user("throttle")
    with httpx.Client(base_url=server.base_url) as client:
        statuses = [form_post(client, "/signin", {"username": user.username,
                                                  "password": f"wrong {i}"}).status_code
                    for i in range(6)]
        assert statuses == [401] * 5 + [429]
        # Even the right password waits now: the account is being guessed at.
        right = form_post(client, "/signin", {"username": user.username,
                                              "password": "correct horse battery"})
        assert right.status_code == 429
        assert int(right.headers["retry-after"]) > 0


def test_sign_out_revokes_the_session(server: Server, browse: Any) -> None:
    tab = browse()
    secret = tab.client.cookies["tasklette_session"]
    assert tab.post("/signout").status_code == 303
    with httpx.Client(base_url=server.base_url, cookies={"tasklette_session": secret}) as old:
        assert old.get("/projects").status_code == 303  # the stolen cookie is dead


def test_password_change_ends_other_sessions(server: Server, browse: Any,
                                             make_user: Any) -> None:
    user: User = make_user("pw")
    first, second = browse(user), browse(user)
    bad = first.post("/account", {"current_password": "wrong", "password": "new password 1",
                                  "password_again": "new password 1"})
    assert bad.status_code == 422 and "current password is not right" in bad.text
    mismatch = first.post("/account", {"current_password": "correct horse battery",
                                       "password": "new password 1",
                                       "password_again": "new password 2"})
    assert "not the same" in mismatch.text
    kept = first.client.cookies["tasklette_session"]
    ok = first.post("/account", {"current_password": "correct horse battery",
                                 "password": "new password 1",
                                 "password_again": "new password 1"})
    assert ok.status_code == 303
    assert first.page("/account").status_code == 200  # this browser stays signed in
    assert first.client.cookies["tasklette_session"] == kept  # in the session it had
    assert second.page("/account").status_code == 303  # the other one is signed out
    assert server.sql("SELECT COUNT(*) FROM sessions WHERE user_id = ?",
                      (user.id,))[0][0] == 1
    # The API tokens are credentials of their own: they go on working until revoked.
    assert user.client.get("/api/v1/me").status_code == 200


def test_tokens_page_shows_a_new_token_once(server: Server, browse: Any) -> None:
    tab = browse()
    created = tab.post("/account/tokens", {"name": "laptop"})
    assert created.status_code == 200
    secret = created.text.split('data-token>')[1].split("<")[0]
    assert secret.startswith("tsk_")
    with httpx.Client(base_url=server.base_url,
                      headers={"Authorization": f"Bearer {secret}"}) as api:
        assert api.get("/api/v1/me").json()["username"] == tab.user.username
    listed = tab.page("/account/tokens").text
    assert "laptop" in listed and secret not in listed
    token_id = server.sql("SELECT id FROM api_tokens WHERE name = 'laptop' AND user_id = ?",
                          (tab.user.id,))[0][0]
    assert tab.post(f"/account/tokens/{token_id}/revoke").status_code == 303
    with httpx.Client(base_url=server.base_url,
                      headers={"Authorization": f"Bearer {secret}"}) as api:
        assert api.get("/api/v1/me").status_code == 401


def test_cross_site_posts_change_nothing(server: Server, browse: Any) -> None:
    tab = browse()
    before = server.sql("SELECT COUNT(*) FROM projects")[0][0]
    cookies = {"tasklette_session": tab.client.cookies["tasklette_session"]}
    with httpx.Client(base_url=server.base_url, cookies=cookies) as bare:
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
            response = bare.post("/projects", data={"name": "Forged"}, headers=headers)
            assert response.status_code == 403
            api = bare.post("/api/v1/projects", json={"name": "Forged"}, headers=headers)
            assert api.status_code == 403
        # A browser that says nothing about origin must send the session's token.
        assert bare.post("/projects", data={"name": "No token"}).status_code == 403
        assert bare.post("/api/v1/projects", json={"name": "No token"}).status_code == 403
        page = bare.get("/projects").text
        token = page.split('name="csrf-token" content="')[1].split('"')[0]
        assert bare.post("/projects", data={"name": "With token",
                                            "csrf_token": token}).status_code == 303
        assert bare.post("/api/v1/projects", json={"name": "With token"},
                         headers={"X-CSRF-Token": token}).status_code == 201
    assert server.sql("SELECT COUNT(*) FROM projects")[0][0] == before + 2


def test_session_cookie_works_for_the_api(browse: Any) -> None:
    tab = browse()
    created = tab.client.post("/api/v1/projects", json={"name": "Via cookie"})
    assert created.status_code == 201
    assert tab.client.get("/api/v1/projects").json()[0]["name"] == "Via cookie"


def test_security_headers_and_compression(browse: Any) -> None:
    tab = browse()
    page = tab.page("/projects", headers={"Accept-Encoding": "br"})
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1] \
        .split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"]
    assert page.headers["content-encoding"] == "br"
    css_url = page.text.split('<link rel="stylesheet" href="')[1].split('"')[0]
    assert css_url.startswith("/static/css/app.") and css_url.endswith(".css")
    css = tab.page(css_url, headers={"Accept-Encoding": "gzip"})
    assert css.status_code == 200
    assert "immutable" in css.headers["cache-control"]
    assert css.headers["content-encoding"] == "gzip"
    assert tab.page("/static/css/app.000000000000.css").status_code == 404


def test_an_idle_session_ends(server: Server, browse: Any) -> None:
    tab = browse()
    assert tab.page("/projects").status_code == 200

    async def age_sessions() -> None:
        async with server.db.transaction() as tx:
            await tx.execute("UPDATE sessions SET last_seen_at = ? WHERE user_id = ?",
                             ("2020-01-01T00:00:00.000000Z", tab.user.id))

    server.call(age_sessions())
    assert tab.page("/projects").headers["location"].startswith("/signin")
    assert server.sql("SELECT COUNT(*) FROM sessions WHERE user_id = ?",
                      (tab.user.id,))[0][0] == 0


def test_sign_up_is_off_by_default_and_works_when_on(server: Server,
                                                     tmp_path: Any) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        assert client.get("/signup").status_code == 404
        refused = form_post(client, "/signup", {"username": "mallory", "password": "x" * 10,
                                                "password_again": "x" * 10})
        assert refused.status_code == 404
    open_server = Server(tmp_path, allow_signup=True).start()
    try:
        with httpx.Client(base_url=open_server.base_url) as client:
            first = client.get("/", follow_redirects=True)
            assert "Welcome to Tasklette" in first.text  # no users yet: setup comes first
            form_post(client, "/setup", {"username": "admin", "password": "admin password",
                                         "password_again": "admin password"})
            client.cookies.clear()
            assert "Create an account" in client.get("/signup").text
            short = form_post(client, "/signup", {"username": "newbie", "password": "short",
                                                  "password_again": "short"})
            assert short.status_code == 422 and "at least 8" in short.text
            assert 'value="newbie"' in short.text
            made = form_post(client, "/signup", {"username": "newbie",
                                                 "display_name": "New Bie",
                                                 "password": "long enough",
                                                 "password_again": "long enough"})
            assert made.status_code == 303
            assert client.get("/api/v1/me").json()["username"] == "newbie"
            assert client.get("/setup").headers["location"] == "/signin"  # setup is over
    finally:
        open_server.stop()


def test_a_session_can_be_checked_for_still_standing(server: Server, browse: Any,
                                                     make_user: Any) -> None:
    # What an event stream asks at each heartbeat: one read, no write.
    import hashlib
    from datetime import timedelta

    from tasklette.services import sessions

    user: User = make_user("check")
    tabs = [browse(user) for _ in range(3)]
    hashes = [hashlib.sha256(tab.client.cookies["tasklette_session"].encode()).hexdigest()
              for tab in tabs]
    idle = timedelta(minutes=server.settings.session_idle_minutes)

    def standing() -> list[bool]:
        return [server.call(sessions.is_active(server.db, h, idle)) for h in hashes]

    assert standing() == [True, True, True]
    assert not server.call(sessions.is_active(server.db, hashes[0], timedelta(0)))  # idle
    tabs[2].post("/signout")
    assert standing() == [True, True, False]
    changed = tabs[0].post("/account", {"current_password": "correct horse battery",
                                        "password": "new password 2",
                                        "password_again": "new password 2"})
    assert changed.status_code == 303
    assert standing() == [True, False, False]
