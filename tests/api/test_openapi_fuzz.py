"""schemathesis against a live server: every operation, every check, stateful links too.

The document's own promises are the oracle: a 5xx, an undocumented status, a body that
does not match its schema, a valid request refused or an invalid one accepted all fail.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis import openapi
from schemathesis.config import SchemathesisConfig

from tasklette.api.openapi import openapi_document
from tasklette.services import tokens
from tasklette.services.permissions import Actor
from tests.conftest import Server, _insert_user

# Rules no JSON Schema can state: they depend on what exists (a column of this project,
# a user by that name, a cursor this list handed out, a member an @mention names) or on
# a language inside a string (a search, a saved view's query, an imported file), or on a
# configured limit (an upload has at most attachment_max_parts parts: 400). These answer
# so to a request the document cannot tell from a good one; every other operation may not.
STATE_RULES = {
    "create_task": [422], "update_task": [422, 428], "move_task": [422],
    "delete_column": [422], "add_member": [422], "list_tasks": [422],
    "search_all": [422], "search_project": [422], "create_view": [422],
    "update_view": [422], "import_project": [422], "upload": [400, 422],
    # A comment (or a description: create_task, update_task) may @mention only members.
    "create_comment": [422], "edit_comment": [422],
}
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]

CONFIG = SchemathesisConfig.from_dict({
    "seed": 12,
    "max-stream-events": 1,
    "request-timeout": 10,
    # The suite's token is sent with every call; generated credentials would only be 401s.
    "generation": {"max-examples": 25, "deterministic": True,
                   "with-security-parameters": False},
    "checks": {
        # A body over the size limit is refused (413) before anything in it is read.
        "negative_data_rejection": {"expected-statuses": [
            "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
            "429"]},
    },
    "operations": [
        *({"include-operation-id": name, "checks": {"positive_data_acceptance": {
            "expected-statuses": ACCEPTED + [str(status) for status in statuses]}}}
          for name, statuses in STATE_RULES.items()),
        # A stream stays open: read what comes before half a second of silence.
        {"include-operation-id-regex": "_events$", "request-timeout": 0.5},
    ],
})
schema = openapi.from_dict(openapi_document(), config=CONFIG)


@dataclass
class Target:
    base_url: str
    token: str
    token_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def seed(server: Server) -> Target:
    """A user with a token, a second member, a project with columns, labels, tasks, a comment."""
    row = server.call(_insert_user(server, "fuzzer"))
    server.call(_insert_user(server, "alice"))
    actor = Actor(row["id"], row["username"], row["display_name"])
    token_row, secret = server.call(tokens.create(server.db, actor, "fuzzing"))
    with httpx.Client(base_url=server.base_url, headers={
            "Authorization": f"Bearer {secret}"}) as client:
        def ok(response: httpx.Response) -> Any:
            assert response.status_code < 300, response.text
            return response.json()

        project = ok(client.post("/api/v1/projects", json={"name": "Fuzzed"}))
        p = f"/api/v1/projects/{project['id']}"
        ok(client.post(p + "/members", json={"username": "alice", "role": "editor"}))
        label = ok(client.post(p + "/labels", json={"name": "bug", "color": "#e5484d"}))
        task = ok(client.post(p + "/tasks", json={
            "title": "Ship it", "label_ids": [label["id"]], "assignees": ["alice"],
            "due_date": "2026-12-01"}))
        ok(client.post(p + "/tasks", json={"title": "A subtask", "parent_task_id": task["id"]}))
        ok(client.post(f"/api/v1/tasks/{task['id']}/comments", json={"body": "On it"}))
        ok(client.post(p + "/views", json={"name": "Bugs", "query": "label=1"}))
    return Target(server.base_url, secret, token_row["id"])


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    server = Server(data_dir, stream_heartbeat_seconds=1).start()
    try:
        yield seed(server)
    finally:
        server.stop()


def revokes_own_token(case: schemathesis.Case, target: Target) -> bool:
    return (case.operation.definition.raw.get("operationId") == "revoke_token"
            and str((case.path_parameters or {}).get("token_id")) == str(target.token_id))


@schema.parametrize()
@hypothesis.settings(deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_keeps_the_document_s_promises(case: schemathesis.Case,
                                                      target: Target) -> None:
    if revokes_own_token(case, target):
        return  # the run needs its token; revoking other tokens is fuzzed
    case.call_and_validate(base_url=target.base_url, headers=target.headers)


Workflow = schema.as_state_machine()
SCENARIOS = 100


def test_linked_calls_keep_the_document_s_promises(target: Target) -> None:
    scenarios: list[int] = []

    class Run(Workflow):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": target.base_url, "headers": target.headers}

        def step(self, input: Any) -> Any:
            if revokes_own_token(input.case, target):
                input.case.path_parameters["token_id"] = target.token_id + 10**6
            return super().step(input)

        def teardown(self) -> None:
            scenarios.append(1)
            super().teardown()

    settings = hypothesis.settings(
        max_examples=SCENARIOS, stateful_step_count=10, deadline=None, database=None,
        phases=[hypothesis.Phase.generate], suppress_health_check=list(hypothesis.HealthCheck))
    for seed in range(5):  # fixed seeds: the same scenarios on every run
        # The server remembers what earlier scenarios did, so a scenario drawn again can take
        # another path; schemathesis's own runner then starts a new suite too.
        with contextlib.suppress(hypothesis.errors.FlakyStrategyDefinition):
            hypothesis.seed(seed)(Run).run(settings=settings)
        if len(scenarios) >= SCENARIOS:
            break
    assert len(scenarios) >= SCENARIOS // 2, f"only {len(scenarios)} scenarios ran"
