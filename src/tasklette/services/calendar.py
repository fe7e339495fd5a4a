"""Calendar feeds: an iCalendar (.ics) file of the dated tasks in my projects, at a secret
address that calendar apps subscribe to. Only the address's hash is stored."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import TYPE_CHECKING

from tasklette import __version__
from tasklette.services.permissions import Actor
from tasklette.storage import calendar_feeds as store
from tasklette.storage.database import Database, Row, retried
from tasklette.storage.tasks import PRIORITIES

PREFIX = "cal_"
MAX_EVENTS = 5000
DESCRIPTION_CHARS = 1000

# icalendar (3.6 MiB) is imported by the first feed request that needs it, not by every
# server at start-up.
if TYPE_CHECKING:
    from icalendar import Event


def _hash(secret: str) -> str:
    # 256 random bits: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


async def status(db: Database, actor: Actor) -> Row | None:
    """The actor's feed (when it was made), or None when they have none."""
    async with db.reading() as conn:
        return await store.get(conn, actor.id)


@retried
async def regenerate(db: Database, actor: Actor) -> tuple[Row, str]:
    """A new secret feed address for the actor (the old one stops working): row, secret."""
    secret = PREFIX + secrets.token_urlsafe(32)
    async with db.transaction() as tx:
        row = await store.replace(tx, actor.id, _hash(secret))
    return row, secret


@retried
async def turn_off(db: Database, actor: Actor) -> bool:
    """Remove the actor's feed; False when there was none."""
    async with db.transaction() as tx:
        return await store.delete(tx, actor.id)


async def feed(db: Database, secret: str, base_url: str) -> bytes | None:
    """The .ics file for a feed secret; None when no feed has it."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    async with db.reading() as conn:
        user = await store.owner_of(conn, _hash(secret))
        if user is None:
            return None
        tasks = await store.dated_tasks(conn, user["id"], MAX_EVENTS)
    return render(user, tasks, base_url)


def _utc(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.UTC)


def _event(task: Row, base_url: str, host: str) -> Event:
    due = datetime.date.fromisoformat(task["due_date"])
    url = f"{base_url}/tasks/{task['id']}"
    where = task["project_name"] + (f" · {task['column_name']}" if task["column_name"] else "")
    lines = [where]
    if task["priority"]:
        lines.append(f"Priority: {PRIORITIES[task['priority']]}")
    description = task["description"].strip()
    if len(description) > DESCRIPTION_CHARS:
        description = description[:DESCRIPTION_CHARS].rstrip() + "…"
    if description:
        lines += ["", description]
    lines += ["", url]
    from icalendar import Event

    event = Event()
    # Stable across edits and moves: a calendar app updates the event rather than adding one.
    event.add("uid", f"task-{task['id']}@{host}")
    event.add("dtstamp", _utc(task["updated_at"]))
    event.add("created", _utc(task["created_at"]))
    event.add("last-modified", _utc(task["updated_at"]))
    event.add("sequence", task["version"])
    event.add("dtstart", due)
    event.add("dtend", due + datetime.timedelta(days=1))
    event.add("summary", ("✓ " if task["completed"] else "") + task["title"])
    event.add("description", "\n".join(lines))
    event.add("url", url)
    event.add("categories", [task["project_name"]])
    event.add("transp", "TRANSPARENT")  # a due date does not make anyone busy
    return event


def render(user: Row, tasks: list[Row], base_url: str) -> bytes:
    """An iCalendar file with one all-day event per task, on its due date."""
    from icalendar import Calendar, vDuration

    base_url = base_url.rstrip("/")
    host = base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "tasklette"
    calendar = Calendar()
    calendar.add("prodid", f"-//Tasklette//Tasklette {__version__}//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"Tasklette: {user['display_name']}")
    calendar.add("x-wr-caldesc", "Tasks with a due date in your Tasklette projects")
    # How often apps should fetch it again (RFC 7986, and the older non-standard name).
    calendar.add("refresh-interval", vDuration(datetime.timedelta(hours=1)),
                 parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(datetime.timedelta(hours=1)))
    for task in tasks:
        calendar.add_component(_event(task, base_url, host))
    return bytes(calendar.to_ical())
