"""`mockups init` and the generated sample photography it writes.

May import: errors, catalog (the schema). `python -m mockups.starter.samples assets` regenerates
the repository's sample assets.
"""

from mockups.starter._init import STARTER, write_starter

__all__ = ["STARTER", "write_starter"]
