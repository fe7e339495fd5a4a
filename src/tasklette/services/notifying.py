"""What a change tells people: called in the change's transaction, it records automatic
watches and enqueues one fan-out job (an outbox) naming the event and who is concerned.

The job (`services.notifications.fan_out`) finds the watchers and writes the
notifications after commit, outside the request.
"""

from __future__ import annotations

from collections.abc import Iterable

from tasklette.services import jobs, mentions, watching
from tasklette.services.permissions import Actor
from tasklette.storage import watchers
from tasklette.storage.database import Row, Tx

FAN_OUT = "notifications.fan_out"
# Changes of a task that notify its watchers.
WATCHED_CHANGES = ("column_id", "due_date", "completed")


async def changed(tx: Tx, actor: Actor, event: Row, *, assigned: Iterable[int] = (),
                  text_before: str | None = None, text_after: str | None = None,
                  text_field: str = "description", changes: Iterable[str] = (),
                  commented: bool = False, watch: bool = False) -> None:
    """After `event` is appended: who now watches the task, and the job telling people.

    `assigned`: users newly assigned; `text_before`/`text_after`: the description or
    comment, whose new @mentions notify (a mention of a non-member is Invalid);
    `changes`: the watched fields that changed; `commented`: a new comment; `watch`:
    the actor watches the task from now on (they created it, or commented).
    """
    project_id, task_id = int(event["project_id"]), int(event["task_id"])
    mentioned = await mentions.new_mentions(tx, project_id, text_before, text_after,
                                            text_field)
    assigned = set(assigned)
    watched = [name for name in WATCHED_CHANGES if name in set(changes)]
    await watching.watch_automatically(
        tx, task_id, assigned | mentioned | ({actor.id} if watch else set()))
    told = assigned - {actor.id} or mentioned - {actor.id}
    if not told and not ((watched or commented) and await watchers.anyone_but(
            tx, project_id, task_id, actor.id)):
        return  # nobody to tell: no job
    await jobs.enqueue(tx, FAN_OUT, {
        "event_id": event["id"], "assigned": sorted(assigned), "mentioned": sorted(mentioned),
        "changes": watched, "commented": commented}, key=f"event:{event['id']}")
