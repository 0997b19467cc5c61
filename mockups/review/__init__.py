"""What a person reviews: contact sheets (`grid`), the static HTML gallery (`gallery`, with its
data in `_gallery_data`) and the overlays of what the compositor sees in each photo (`inspect`).

May import: errors, catalog, engine (cache, manifest), imaging, backends (`inspect` says what the
local backend would warn about).
"""
