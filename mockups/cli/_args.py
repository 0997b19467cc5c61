"""From parsed arguments to the library's options (shared by the command modules)."""

from __future__ import annotations

from mockups.engine.pipeline import BuildOptions
from mockups.selection import Selection, Shard


def build_options(args, **extra) -> BuildOptions:
    """The build options the arguments give; a malformed --only or --shard is a FilterError here."""
    remote = {"remote_cache": args.cache, "cache_read_only": args.cache_read_only} if hasattr(args, "cache") else {}
    return BuildOptions(backend=args.backend, only=Selection.parse(args.only), shard=Shard.parse(args.shard),
                        build_dir=args.build_dir, cache_dir=args.cache_dir, **remote, **extra)
