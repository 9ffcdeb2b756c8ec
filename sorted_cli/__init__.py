"""sorted: a command-line todo app on embedded SQLite or a shared PostgreSQL database."""

from __future__ import annotations

__version__ = "0.1.0"
