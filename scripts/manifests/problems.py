"""The problems found in one run, each printed as soon as found."""

from __future__ import annotations

import sys


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")
        print(f"ERROR {where}: {message}", file=sys.stderr)


def describe(doc: dict) -> str:
    """`Kind/name` of an object, for messages."""
    return f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"
