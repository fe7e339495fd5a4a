"""Task writes: insert, change, delete, and set a task's labels and assignees."""

from __future__ import annotations

from typing import Any

from tasklette.clock import now_iso
from tasklette.storage import dialect
from tasklette.storage.database import Tx


async def insert(tx: Tx, values: dict[str, Any]) -> int:
    now = now_iso()
    values = {**values, "created_at": now, "updated_at": now,
              "updated_by": values["created_by"]}
    names = ", ".join(values)
    return int(await tx.fetchval(
        f"INSERT INTO tasks ({names}) VALUES ({dialect.placeholders(len(values))}) RETURNING id",
        tuple(values.values())))


async def update(tx: Tx, task_id: int, changes: dict[str, Any], actor_id: int) -> None:
    """Write changed fields, bump the version, stamp who and when."""
    assignments = "".join(f"{name} = ?, " for name in changes)
    await tx.execute(
        f"UPDATE tasks SET {assignments}version = version + 1, updated_by = ?, updated_at = ? "
        "WHERE id = ?", (*changes.values(), actor_id, now_iso(), task_id))


async def delete(tx: Tx, task_id: int) -> None:
    await tx.execute("DELETE FROM tasks WHERE id = ?", (task_id,))


async def set_labels(tx: Tx, task_id: int, label_ids: list[int]) -> None:
    await tx.execute("DELETE FROM task_labels WHERE task_id = ?", (task_id,))
    await tx.executemany("INSERT INTO task_labels (task_id, label_id) VALUES (?, ?)",
                         [(task_id, label_id) for label_id in dict.fromkeys(label_ids)])


async def set_assignees(tx: Tx, task_id: int, user_ids: list[int]) -> None:
    await tx.execute("DELETE FROM task_assignees WHERE task_id = ?", (task_id,))
    await tx.executemany("INSERT INTO task_assignees (task_id, user_id) VALUES (?, ?)",
                         [(task_id, user_id) for user_id in dict.fromkeys(user_ids)])


async def touch(tx: Tx, task_id: int, actor_id: int) -> None:
    """Record a change to the task's links (labels, assignees): new version, new stamp."""
    await update(tx, task_id, {}, actor_id)
