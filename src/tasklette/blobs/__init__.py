"""The blob store: file contents by SHA-256, and the streamed uploads that fill it."""
