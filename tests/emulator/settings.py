"""The emulator's settings, in one registry: each extension declares the settings it reads, with
their defaults and, where a setting takes more than a number >= 0, its check. Tests change them
through ``POST /_autopilot/settings`` (``faults.Middleware``), and read them back with ``GET``.
"""

from typing import Any, Callable

# name -> current value.
VALUES: dict[str, Any] = {}
# name -> check: returns what is wrong with a value, or None.
CHECKS: dict[str, Callable[[Any], str | None]] = {}


def declare(name: str, default: Any, check: Callable[[Any], str | None] | None = None) -> None:
    """Register a setting (once, at install, before the server starts)."""
    if name in VALUES:
        raise ValueError(f"setting {name!r} declared twice")
    VALUES[name] = default
    if check is not None:
        CHECKS[name] = check


def get(name: str) -> Any:
    """A setting's current value."""
    return VALUES[name]


def problem(name: str, value: Any) -> str | None:
    """What is wrong with setting ``name`` to ``value``, or None."""
    if name not in VALUES:
        return f"unknown setting {name!r}; known: {sorted(VALUES)}"
    check = CHECKS.get(name)
    if check is not None:
        wrong = check(value)
        return f"setting {name!r} {wrong}, not {value!r}" if wrong else None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        return f"setting {name!r} takes a number >= 0, not {value!r}"
    return None
