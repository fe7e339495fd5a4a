"""Live updates: the broker, the feeds that fill it, and the event streams."""
