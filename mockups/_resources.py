"""Where the package data lives: built-in prompt templates, the gallery theme, the starter project, the model table."""

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent / "resources"
