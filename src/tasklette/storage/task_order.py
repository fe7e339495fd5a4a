"""Task order: ranks within a column (top-level tasks) or a parent (subtasks).

Ranks are sparse integers, so placing a task between two others usually writes
one row; when two neighbours leave no gap, that one list is renumbered. The
position clients see is the 0-based index in that order, computed on read.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from tasklette.storage import dialect
from tasklette.storage.database import Conn, Row, Tx

RANK_GAP = 1024

POSITION = (
    "CASE WHEN t.parent_task_id IS NULL THEN (SELECT COUNT(*) FROM tasks s "
    "WHERE s.column_id = t.column_id AND s.rank < t.rank) "
    "ELSE (SELECT COUNT(*) FROM tasks s "
    "WHERE s.parent_task_id = t.parent_task_id AND s.rank < t.rank) END AS position"
)


@dataclass(frozen=True)
class Scope:
    """The list a task is ordered in: a column's top-level tasks, or a parent's subtasks."""

    column_id: int | None = None
    parent_task_id: int | None = None

    def where(self) -> tuple[str, tuple[Any, ...]]:
        if self.parent_task_id is not None:
            return "parent_task_id = ?", (self.parent_task_id,)
        # Only top-level tasks have a column, so no parent test is needed.
        return "column_id = ?", (self.column_id,)


def scope_of(task: Row) -> Scope:
    if task["parent_task_id"] is not None:
        return Scope(parent_task_id=task["parent_task_id"])
    return Scope(column_id=task["column_id"])


async def set_positions(conn: Conn, rows: list[Row], contiguous: bool,
                        from_first: Collection[Scope] = ()) -> None:
    """Fill in each row's 0-based place in its list (column or parent).

    `contiguous`: the rows of each list follow each other with none left out (an
    unfiltered page in board order), so one count per list places them all, and none
    for the lists in `from_first`, whose first task is among the rows.
    """
    by_list: dict[tuple[int | None, int | None], list[Row]] = {}
    for row in rows:
        by_list.setdefault((row["column_id"], row["parent_task_id"]), []).append(row)
    if not rows:
        return
    if contiguous:
        for members in by_list.values():
            scope = scope_of(members[0])
            where, params = scope.where()
            members.sort(key=lambda row: row["rank"])
            before = 0 if scope in from_first else await conn.fetchval(
                f"SELECT COUNT(*) FROM tasks WHERE {where} AND rank < ?",
                (*params, members[0]["rank"]))
            for i, row in enumerate(members):
                row["position"] = int(before) + i
        return
    # Some of each list's tasks are left out (a filtered page): number the lists'
    # tasks in one statement, and keep the rows' numbers.
    d = conn.dialect
    columns = [column for column, parent in by_list if column is not None and parent is None]
    parents = [parent for _, parent in by_list if parent is not None]
    places = dict(await conn.fetchtuples(
        "SELECT id, place FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY column_id, "
        "parent_task_id ORDER BY rank) - 1 AS place FROM tasks "
        f"WHERE {dialect.in_ids(d, 'column_id')} OR {dialect.in_ids(d, 'parent_task_id')}) n "
        f"WHERE {dialect.in_ids(d, 'id')}",
        (dialect.ids_param(d, columns), dialect.ids_param(d, parents),
         dialect.ids_param(d, [row["id"] for row in rows]))))
    for row in rows:
        row["position"] = places[row["id"]]


# --- writing ----------------------------------------------------------------------


async def _renumber(tx: Tx, scope: Scope, exclude_id: int | None) -> None:
    where, params = scope.where()
    skip = (" AND id <> ?", (exclude_id,)) if exclude_id is not None else ("", ())
    ids = [row["id"] for row in await tx.fetchall(
        f"SELECT id FROM tasks WHERE {where}{skip[0]} ORDER BY rank", (*params, *skip[1]))]
    # Negative first (the excluded, moving task too), so no intermediate state
    # collides with the unique index; the mover gets its new rank afterwards.
    await tx.execute(f"UPDATE tasks SET rank = -rank - 1 WHERE {where}", params)
    await tx.executemany("UPDATE tasks SET rank = ? WHERE id = ?",
                         [((i + 1) * RANK_GAP, task_id) for i, task_id in enumerate(ids)])


async def rank_at(tx: Tx, scope: Scope, index: int | None, exclude_id: int | None = None) -> int:
    """A free rank placing a task at `index` (None: the end) of `scope`'s list."""
    where, params = scope.where()
    skip = (" AND id <> ?", (exclude_id,)) if exclude_id is not None else ("", ())
    if index is None:
        last = await tx.fetchval(f"SELECT MAX(rank) FROM tasks WHERE {where}{skip[0]}",
                                 (*params, *skip[1]))
        return (int(last) if last is not None and last > 0 else 0) + RANK_GAP
    for _attempt in range(2):
        offset = max(index - 1, 0)
        ranks = [row["rank"] for row in await tx.fetchall(
            f"SELECT rank FROM tasks WHERE {where}{skip[0]} ORDER BY rank LIMIT 2 OFFSET ?",
            (*params, *skip[1], offset))]
        if index == 0:
            before, after = None, (ranks[0] if ranks else None)
        else:
            before = ranks[0] if ranks else None
            after = ranks[1] if len(ranks) > 1 else None
            if before is None:  # past the end
                return await rank_at(tx, scope, None, exclude_id)
        if after is None:
            return int(before or 0) + RANK_GAP
        low = int(before) if before is not None else 0
        if int(after) - low >= 2:
            return (low + int(after)) // 2
        await _renumber(tx, scope, exclude_id)
    raise RuntimeError("renumbering left no gap")  # unreachable: ranks are GAP apart


async def move_column_tasks(tx: Tx, from_column: int, to_column: int) -> int:
    """Append every top-level task of one column, in order, to the end of another."""
    ids = [row["id"] for row in await tx.fetchall(
        "SELECT id FROM tasks WHERE column_id = ? ORDER BY rank",
        (from_column,))]
    start = await rank_at(tx, Scope(column_id=to_column), None)
    # Park the moving tasks on negative ranks first, clear of both columns' ranks.
    await tx.execute("UPDATE tasks SET rank = -rank - 1 WHERE column_id = ?", (from_column,))
    await tx.executemany(
        "UPDATE tasks SET column_id = ?, rank = ?, version = version + 1 WHERE id = ?",
        [(to_column, start + i * RANK_GAP, task_id) for i, task_id in enumerate(ids)])
    return len(ids)
