"""Compare the structure of two JSON bodies: the real platform's and the sandbox's.

The real body is the reference. Every key it has must be in ours with the same JSON type,
recursively; a ``null`` in the real body matches anything (the platform leaves unknown references
null, we may fill them); a list compares the structure of its elements (each of ours against the
real one's first element), and an empty list of ours where the real one has elements is a
difference. Keys only we send are allowed: the client must ignore what it does not read.
"""

from __future__ import annotations

from typing import Any

__all__ = ["differences", "json_type", "null_paths"]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def null_paths(bodies: list[Any], path: str = "") -> set[str]:
    """The paths at which some real body has ``null``: ours may be null there too (a purchase
    not viewed yet has ``viewed_on: null``, sample 02)."""
    found: set[str] = set()
    for body in bodies:
        if body is None:
            found.add(path)
        elif isinstance(body, dict):
            for key, value in body.items():
                found |= null_paths([value], f"{path}.{key}" if path else key)
        elif isinstance(body, list):
            found |= null_paths(body, f"{path}[]")
    return found


def differences(
    real: Any,
    ours: Any,
    path: str = "",
    *,
    exempt: frozenset[str] = frozenset(),
    nullable: frozenset[str] = frozenset(),
) -> list[str]:
    """Every place ``ours`` departs from ``real``'s structure, as ``path: what``."""
    if real is None or path in exempt or (ours is None and path in nullable):
        return []
    where = path or "(top)"
    if json_type(real) != json_type(ours):
        return [f"{where}: {json_type(ours)} where the real body has {json_type(real)}"]
    found: list[str] = []
    if isinstance(real, dict):
        for key, value in real.items():
            child = f"{path}.{key}" if path else key
            if child in exempt:
                continue
            if key not in ours:
                found.append(f"{child}: missing (the real body has {json_type(value)})")
            else:
                found += differences(value, ours[key], child, exempt=exempt, nullable=nullable)
    elif isinstance(real, list) and real:
        if not ours:
            found.append(f"{where}: empty where the real body has elements")
        for item in ours:
            found += differences(real[0], item, f"{path}[]", exempt=exempt, nullable=nullable)
    return found
