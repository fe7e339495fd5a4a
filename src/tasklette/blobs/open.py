"""Opening the configured blob store: a directory in the data directory, or a bucket."""

from __future__ import annotations

from tasklette.blobs.local import LocalBlobStore
from tasklette.blobs.store import BlobStore
from tasklette.settings import Settings


async def open_store(settings: Settings) -> BlobStore:
    """The blob store of `settings`, with temporary files left by a crash swept away."""
    if settings.blob_store == "s3":
        # Imported here: botocore and aiohttp add a third of a second to every start.
        from tasklette.blobs.s3 import S3BlobStore

        # Uploads are spooled where the local store spools them: on this host's disk.
        return await S3BlobStore.open(
            bucket=settings.s3_bucket, tmp=settings.data_dir / "blobs" / "tmp",
            prefix=settings.s3_prefix, endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region, access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            addressing_style=settings.s3_addressing_style,
            max_connections=settings.s3_max_connections)
    return await LocalBlobStore.open(settings.data_dir / "blobs")
