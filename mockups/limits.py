"""Limits shared by more than one layer, named once."""

#: The largest image (width x height) any input may have: checked from the header by the catalog's
#: checks and again by the compositor before decoding, so a decompression bomb is refused in plain words.
MAX_PIXELS = 64_000_000
