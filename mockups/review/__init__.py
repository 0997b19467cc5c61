"""What a person reviews: contact sheets (`grid`) and the static HTML gallery (`gallery`, with its
data in `_gallery_data`).

May import: errors, catalog, engine (cache, manifest), imaging.
"""
