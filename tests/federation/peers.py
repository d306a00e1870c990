"""Where the other fediverse software the tests run as peers lives: a venv of its own
(``tests/federation/peers.lock``, made by ``make install``)."""

from __future__ import annotations

from pathlib import Path

PEERS_PYTHON = Path(__file__).resolve().parents[2] / ".venv-peers" / "bin" / "python"
