"""Tasklette: a self-hosted, real-time, collaborative task manager."""

__version__ = "0.1.0"
