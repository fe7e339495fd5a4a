"""Attachments: the rows naming files on tasks; their bytes are in the blob store."""

from __future__ import annotations

from tasklette.clock import now_iso
from tasklette.storage.database import Conn, Row, Tx

FIELDS = ("a.id, a.task_id, a.uploader_id, u.username AS uploader_username, "
          "u.display_name AS uploader_display_name, a.filename, a.size, a.sha256, "
          "a.content_type, a.created_at")
_FROM = "FROM attachments a LEFT JOIN users u ON u.id = a.uploader_id"
_BLOB_LOCKS = 7_426_003  # advisory lock class of blobs (PostgreSQL), beside migrations'


async def list_for_task(conn: Conn, task_id: int) -> list[Row]:
    return await conn.fetchall(f"SELECT {FIELDS} {_FROM} WHERE a.task_id = ? ORDER BY a.id",
                               (task_id,))


async def get(conn: Conn, attachment_id: int) -> Row | None:
    return await conn.fetchone(f"SELECT {FIELDS} {_FROM} WHERE a.id = ?", (attachment_id,))


async def get_for_member(conn: Conn, attachment_id: int, user_id: int) -> Row | None:
    """The attachment with its task's project and title and the member's role; None for
    non-members."""
    return await conn.fetchone(
        f"SELECT {FIELDS}, t.project_id, t.title AS task_title, m.role {_FROM} "
        "JOIN tasks t ON t.id = a.task_id "
        "JOIN project_members m ON m.project_id = t.project_id AND m.user_id = ? "
        "WHERE a.id = ?", (user_id, attachment_id))


async def insert(tx: Tx, task_id: int, uploader_id: int, filename: str, size: int,
                 sha256: str, content_type: str) -> int:
    return int(await tx.fetchval(
        "INSERT INTO attachments (task_id, uploader_id, filename, size, sha256, content_type, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (task_id, uploader_id, filename, size, sha256, content_type, now_iso())))


async def delete(tx: Tx, attachment_id: int) -> None:
    await tx.execute("DELETE FROM attachments WHERE id = ?", (attachment_id,))


async def lock_blob(tx: Tx, sha256: str) -> None:
    """Serialise, until the transaction ends, every writer that puts or removes this blob.

    SQLite has a single writer already; PostgreSQL takes an advisory lock on the digest
    (two digests may share a lock: that only makes one wait for the other).
    """
    if tx.dialect == "postgresql":
        await tx.fetchval("SELECT pg_advisory_xact_lock(?, ?)",
                          (_BLOB_LOCKS, int(sha256[:7], 16)))


async def is_referenced(conn: Conn, sha256: str) -> bool:
    found = await conn.fetchval("SELECT 1 FROM attachments WHERE sha256 = ? LIMIT 1",
                                (sha256,))
    return found is not None


async def referenced_blobs(conn: Conn) -> dict[str, int]:
    """Every digest some attachment names, with the size its rows record."""
    return {sha256: int(size) for sha256, size in await conn.fetchtuples(
        "SELECT sha256, MAX(size) FROM attachments GROUP BY sha256")}


async def count_for_task(conn: Conn, task_id: int) -> int:
    return int(await conn.fetchval("SELECT COUNT(*) FROM attachments WHERE task_id = ?",
                                   (task_id,)))


async def digests_of_task_tree(conn: Conn, task_id: int) -> list[str]:
    """The digests named by attachments of the task and of its subtasks, at any depth."""
    rows = await conn.fetchtuples(
        "WITH RECURSIVE tree(id) AS (SELECT CAST(? AS BIGINT) UNION ALL "
        "SELECT t.id FROM tasks t JOIN tree ON t.parent_task_id = tree.id) "
        "SELECT DISTINCT a.sha256 FROM attachments a JOIN tree ON a.task_id = tree.id",
        (task_id,))
    return [str(sha256) for (sha256,) in rows]


async def digests_of_project(conn: Conn, project_id: int) -> list[str]:
    rows = await conn.fetchtuples(
        "SELECT DISTINCT a.sha256 FROM attachments a JOIN tasks t ON t.id = a.task_id "
        "WHERE t.project_id = ?", (project_id,))
    return [str(sha256) for (sha256,) in rows]
