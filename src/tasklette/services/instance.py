"""Moving a whole instance: every row and every file, into one zip, and back.

`tasklette export instance FILE` writes `manifest.json`, one `tables/<name>.jsonl`
per table (a JSON object per row) and `blobs/<sha256>` per stored file.
`tasklette import instance FILE` fills an empty instance from it, on either
engine: the files first (each checked against its SHA-256), then all rows in one
transaction, so a failed import leaves no rows behind. Both ends must run the
same schema version.
"""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any

import orjson

from tasklette.blobs.store import BlobStore
from tasklette.services.errors import Invalid
from tasklette.storage import instance
from tasklette.storage.database import Database, IntegrityError, retried
from tasklette.storage.migrations import latest_version
from tasklette.storage.open import schema_version

FORMAT = "tasklette.instance"
VERSION = 1
CHUNK = 1024 * 1024

Progress = Callable[[str, int], None]  # (what, how many more done)


async def export(db: Database, store: BlobStore, path: Path,
                 progress: Progress = lambda what, n: None) -> dict[str, Any]:
    """Write the instance to a zip at `path`; what it holds (the manifest)."""
    manifest: dict[str, Any] = {"format": FORMAT, "version": VERSION,
                                "schema_version": await schema_version(db), "tables": {}}
    partial = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        async with db.reading() as conn:
            for table, _ in instance.TABLES:
                rows = 0
                with archive.open(f"tables/{table}.jsonl", "w", force_zip64=True) as out:
                    async for batch in instance.read(conn, table):
                        out.write(b"".join(orjson.dumps(row) + b"\n" for row in batch))
                        rows += len(batch)
                        progress(table, len(batch))
                manifest["tables"][table] = rows
        blobs = 0
        async for blob in store.iterate():
            info = zipfile.ZipInfo(f"blobs/{blob.sha256}")
            info.compress_type = zipfile.ZIP_STORED  # files are often compressed already
            with archive.open(info, "w", force_zip64=True) as out:
                async for chunk in store.read(blob.sha256):
                    out.write(chunk)
            blobs += 1
            progress("files", 1)
        manifest["blobs"] = blobs
        archive.writestr("manifest.json", orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    partial.replace(path)
    return manifest


def read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    """The manifest of an instance export; Invalid for anything else."""
    try:
        manifest = orjson.loads(archive.read("manifest.json"))
    except (KeyError, orjson.JSONDecodeError):
        raise Invalid("this is not a Tasklette instance export (no manifest.json)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Invalid("this is not a Tasklette instance export (a project export is "
                      "imported with `tasklette import tasklette`)")
    if manifest.get("version") != VERSION:
        raise Invalid(f"this export has format version {manifest.get('version')}; this "
                      f"Tasklette reads version {VERSION}")
    if manifest.get("schema_version") != latest_version():
        raise Invalid(f"this export was made at schema version "
                      f"{manifest.get('schema_version')}, this Tasklette is at "
                      f"{latest_version()}: export and import with the same Tasklette version")
    return manifest


def size_of(path: Path) -> int:
    """How many rows and files an export holds (0 when it is not one: import_ says why)."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = read_manifest(archive)
    except (zipfile.BadZipFile, OSError, Invalid):
        return 0
    return int(sum(manifest["tables"].values()) + manifest["blobs"])


@retried
async def import_(db: Database, store: BlobStore, path: Path,
                  progress: Progress = lambda what, n: None) -> dict[str, Any]:
    """Fill this empty instance from an export at `path`; the export's manifest."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Invalid(f"the file cannot be read as a zip archive: {exc}") from None
    with archive:
        manifest = read_manifest(archive)
        async with db.reading() as conn:
            if not await instance.is_empty(conn):
                raise Invalid("this instance already has users or projects: an instance is "
                              "imported into a new, empty one")
        for name in archive.namelist():
            if name.startswith("blobs/"):
                await _put_blob(store, archive, name)
                progress("files", 1)
        try:
            async with db.transaction() as tx:
                for table, _ in instance.TABLES:
                    async for batch in _batches(archive, table):
                        await instance.insert(tx, table, batch)
                        progress(table, len(batch))
                await instance.continue_ids(tx)
        except (KeyError, ValueError, IntegrityError) as exc:
            raise Invalid(f"the export's rows could not be written, so none were: {exc}"
                          ) from None
    return manifest


async def _batches(archive: zipfile.ZipFile, table: str) -> AsyncIterator[list[Any]]:
    """The table's rows from the export, a batch at a time (tasks all at once: each
    task's parent must go in first)."""
    size = 10**9 if table == "tasks" else instance.BATCH
    name = f"tables/{table}.jsonl"
    if table in instance.ADDED_LATER and name not in archive.namelist():
        return  # exported before the table existed
    with archive.open(name) as lines:
        batch = []
        for line in lines:
            row = orjson.loads(line)
            if not isinstance(row, dict):
                raise ValueError(f"a row of {table} is not an object")
            batch.append(row)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


async def _put_blob(store: BlobStore, archive: zipfile.ZipFile, name: str) -> None:
    expected = name.removeprefix("blobs/")
    with archive.open(name) as entry:
        stored = await store.put_stream(_chunks(entry))
    if stored.sha256 != expected:
        raise Invalid(f"the file {expected[:12]}… in the export is damaged "
                      f"(its bytes hash to {stored.sha256[:12]}…)")


async def _chunks(entry: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := entry.read(CHUNK):
        yield chunk
