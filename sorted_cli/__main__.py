"""Allow `python -m sorted_cli`."""

from __future__ import annotations

from sorted_cli.process import run

run()
