"""Fixtures for the attack tests: the installer tests' real index server, wheel workshop
and fresh venvs, shared so every attacker module starts from the same honest world."""

from __future__ import annotations

from tests.installer.conftest import built, server, venv

__all__ = ["built", "server", "venv"]
