"""Generated catalogs for benchmarks: N products x M colours x K backgrounds, tiny images."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def write_catalog(root: Path, products: int = 50, colours: int = 20, backgrounds: int = 10,
                  size: str = "64x64", fmt: str = "png", image_px: int = 96) -> Path:
    """Write a catalog of products x colours x backgrounds variants (one channel) into root."""
    assets = root / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    lines = ["version: 1", "channels:", f"  - {{id: web, size: {size}, format: {fmt}}}", "products:"]
    for p in range(products):
        image = Image.new("RGBA", (image_px, image_px), (0, 0, 0, 0))
        ImageDraw.Draw(image).ellipse((8, 8 + p % 5, image_px - 8, image_px - 8), fill=(200 + p % 50, 210, 220, 255))
        image.save(assets / f"p{p}.png")
        lines += [f"  - sku: SKU-{p:04d}", f"    name: Product {p}", f"    image: assets/p{p}.png"]
    lines.append("colours:")
    lines += [f'  - {{id: c{c}, name: Colour {c}, hex: "#{(c * 7919) % 0xFFFFFF:06X}"}}' for c in range(colours)]
    lines.append("backgrounds:")
    lines += [f'  - {{id: b{b}, name: Background {b}, colour: "#{(b * 104729) % 0xFFFFFF:06X}"}}'
              for b in range(backgrounds)]
    path = root / "catalog.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path
