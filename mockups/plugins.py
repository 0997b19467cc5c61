"""The names of the backends a build can use: the built-ins and the installed plugins.

A plugin registers a `mockups.backends` entry point. This module only knows names and where to
find the classes; it imports no backend, so the catalog's checks can ask it which names exist
without depending on the backends layer.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

ENTRY_POINT_GROUP = "mockups.backends"
BUILTIN_BACKENDS = {"local": "mockups.backends.local:LocalBackend", "openai": "mockups.backends.openai:OpenAIBackend"}


def plugin_entry_points() -> dict[str, EntryPoint]:
    """Installed plugins by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def backend_names() -> list[str]:
    """Every backend name a catalog may give, sorted."""
    return sorted(set(BUILTIN_BACKENDS) | set(plugin_entry_points()))
