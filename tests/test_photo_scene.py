"""Scene photos keep their scene; cut-outs of JPEGs are matted; unsure decisions are warned about.

Everything is synthetic (tests/imaging_synth.py): a person in a grey heather tee outdoors (a scene
with known garment, arm, head, jeans and background) and a tote with a handle loop on white.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from mockups import imaging, prepare
from mockups.backends.local import Compositor
from mockups.catalog import load_catalog
from mockups.cli import main
from mockups.engine.runner import chunks
from mockups.errors import CatalogError
from mockups.matrix import AS_SHOT, expand, photo_kinds
from tests.conftest import REPO, write_tree
from tests.imaging_synth import backdrop, ellipse, jpeg, over, polygon, worn_tee

FOREST, CHERRY = "#2E6B3A", "#B22234"


@pytest.fixture(scope="module")
def worn():
    return worn_tee()


def tote_on_white(shape=(300, 280)) -> np.ndarray:
    """A canvas tote with one big handle loop, photographed on white (JPEG): the loop must become a hole."""
    ring = np.clip(ellipse(shape, (140, 110), (75, 70)) - ellipse(shape, (140, 110), (50, 45)), 0, 1)
    bag = polygon(shape, [(50, 150), (230, 150), (240, 270), (40, 270)])
    img = backdrop(shape, (0.96, 0.96, 0.95), noise=0.004, seed=5)
    return jpeg(over(img, np.maximum(ring, bag), (0.80, 0.76, 0.66)), 92)


def scene_catalog(extra: str = "", channels: str = "  - {id: web, size: 240x320, format: png}\n") -> str:
    return textwrap.dedent("""\
        version: 1
        channels:
        {channels}products:
          - sku: TEE-WORN
            name: Worn tee
            image: assets/worn.png
            print_area: [[84, 115], [156, 115], [156, 192], [84, 192]]
        {extra}colours:
          - {{id: forest, name: Forest, hex: "{forest}"}}
          - {{id: cherry, name: Cherry, hex: "{cherry}"}}
        backgrounds:
          - {{id: studio, name: Studio, colour: "#EDEDED"}}
          - {{id: wood, name: Wood, colour: "#96704A"}}
        """).format(channels=textwrap.indent(channels, ""), extra=extra, forest=FOREST, cherry=CHERRY)


@pytest.fixture
def scene_project(tmp_path, worn):
    def make(extra: str = "", channels: str = "  - {id: web, size: 240x320, format: png}\n",
             files: dict | None = None) -> Path:
        write_tree(tmp_path, {"assets/worn.png": Image.fromarray(worn["rgb"], "RGB"),
                              "catalog.yaml": scene_catalog(extra, channels), **(files or {})})
        return tmp_path / "catalog.yaml"
    return make


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _band(mask: np.ndarray, px: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


# --- analyse_photo: the contract ------------------------------------------------------------------

def test_analyse_photo_kinds(worn):
    photo = Image.fromarray(worn["rgb"], "RGB").convert("RGBA")
    scene = imaging.analyse_photo(photo, seed=worn["quad"])
    assert scene.kind == "scene" and scene.kind_confidence > 0.5 and scene.confidence > 0.5 and scene.reason == ""
    assert scene.silhouette.dtype == np.float32 and scene.silhouette.shape == worn["garment"].shape
    assert scene.foreground is None and scene.backdrop is None
    assert scene.silhouette[worn["background"]].mean() < 0.02 and scene.silhouette[worn["garment"]].mean() > 0.9

    given = np.where(worn["garment"], 255, 0).astype(np.uint8)
    masked = imaging.analyse_photo(photo, mask=given)
    assert masked.kind == "mask" and masked.confidence == 1.0 and np.array_equal(masked.silhouette > 0.5,
                                                                                 worn["garment"])
    with_alpha = photo.copy()
    with_alpha.putalpha(Image.fromarray(given))
    assert imaging.analyse_photo(with_alpha, kind="scene").kind == "alpha"  # the alpha wins over the catalog

    tote = Image.fromarray(tote_on_white(), "RGB").convert("RGBA")
    cut = imaging.analyse_photo(tote)
    assert cut.kind == "cutout" and cut.foreground is not None and cut.foreground.shape == (300, 280, 3)
    assert cut.backdrop is not None and min(cut.backdrop) > 240


def test_analyse_photo_forced_kinds_and_a_scene_without_seed(worn):
    photo = Image.fromarray(worn["rgb"], "RGB").convert("RGBA")
    forced = imaging.analyse_photo(photo, kind="scene")
    assert forced.kind == "scene" and forced.kind_confidence == 1.0
    assert forced.confidence == 0.0 and forced.reason == imaging.photo.NO_SEED_REASON
    assert not forced.silhouette.any()
    tote = Image.fromarray(tote_on_white(), "RGB").convert("RGBA")
    assert imaging.analyse_photo(tote, kind="scene", seed=[(140, 200)]).kind == "scene"
    assert imaging.analyse_photo(photo, kind="cutout").kind == "cutout"
    with pytest.raises(imaging.ImagingError, match="unknown photo kind"):
        imaging.analyse_photo(photo, kind="worn")


def test_analyse_photo_is_deterministic(worn):
    photo = Image.fromarray(worn["rgb"], "RGB").convert("RGBA")
    a, b = (imaging.analyse_photo(photo, seed=worn["quad"]) for _ in range(2))
    assert np.array_equal(a.silhouette, b.silhouette) and a.confidence == b.confidence
    tote = Image.fromarray(tote_on_white(), "RGB").convert("RGBA")
    c, d = (imaging.analyse_photo(tote) for _ in range(2))
    assert np.array_equal(c.silhouette, d.silhouette) and np.array_equal(c.foreground, d.foreground)


# --- a scene product, end to end ------------------------------------------------------------------

def test_a_scene_product_keeps_its_scene_and_reaches_the_colour(scene_project, worn, capsys):
    catalog = scene_project()
    code, out, err = _cli(capsys, "build", str(catalog), "--no-gallery")
    assert code == 0, err
    assert "2 made" in out  # 2 colours x 1 channel: the 2 backgrounds are not multiplied in
    assert "TEE-WORN is a scene photo: its own setting is kept, the catalog's backgrounds are not used" in err
    made = sorted(p.relative_to(catalog.parent / "build").as_posix()
                  for p in (catalog.parent / "build" / "web").rglob("*.png"))
    assert made == ["web/TEE-WORN/cherry--as-shot.png", "web/TEE-WORN/forest--as-shot.png"]

    source = np.asarray(Image.open(catalog.parent / "assets" / "worn.png").convert("RGB"))
    outside = ~_band(worn["garment"], 3)  # skin, hair, jeans, the arm and the street, away from the garment's edge
    inside = (cv2.erode(worn["garment"].astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)
    for name, hex_ in (("forest", FOREST), ("cherry", CHERRY)):
        out_rgb = np.asarray(Image.open(catalog.parent / "build" / "web" / "TEE-WORN" / f"{name}--as-shot.png")
                             .convert("RGB"))
        assert out_rgb.shape == source.shape
        lab_out, lab_src = imaging.srgb_to_lab(out_rgb), imaging.srgb_to_lab(source)
        assert np.median(imaging.ciede2000(lab_out[outside], lab_src[outside])) < 1.0
        assert (out_rgb[outside] == source[outside]).all(-1).mean() > 0.99  # exactly as shot
        median = np.median(lab_out[inside], axis=0)
        assert float(imaging.ciede2000(median, imaging.hex_to_lab(hex_))) < 3.0
        assert np.median(imaging.ciede2000(lab_out[worn["arm"]], lab_src[worn["arm"]])) < 1.0  # the arm is skin


def test_scene_variants_are_as_shot_and_validate_says_so(scene_project, capsys):
    catalog = scene_project()
    variants = expand(load_catalog(catalog))
    assert [v.id for v in variants] == ["web/TEE-WORN/forest--as-shot", "web/TEE-WORN/cherry--as-shot"]
    assert all(v.scene and v.background is AS_SHOT for v in variants)
    code, out, err = _cli(capsys, "validate", str(catalog))
    assert code == 0 and "-> 2 variants" in out
    warning = [line for line in err.splitlines() if "scene photo" in line]
    assert len(warning) == 1 and "products[0]: warning: TEE-WORN is a scene photo" in warning[0]
    assert "'as-shot'" in warning[0]


def test_photo_cutout_and_scene_override_the_classification(scene_project, tmp_path):
    forced_cutout = scene_project("    photo: cutout\n")
    variants = expand(load_catalog(forced_cutout))
    assert len(variants) == 4 and not any(v.scene for v in variants)  # 2 colours x 2 backgrounds

    tote = tote_on_white()
    forced_scene = scene_project(
        "  - {sku: TOTE, name: Tote, image: assets/tote.jpg, photo: scene, print_area: {x: 90, y: 180, width: 100, "
        "height: 60}}\n  - {sku: TOTE-CUT, name: Tote, image: assets/tote.jpg}\n",
        files={"assets/tote.jpg": Image.fromarray(tote, "RGB")})
    catalog = load_catalog(forced_scene)
    kinds = photo_kinds(catalog)
    assert kinds["TOTE"].kind == "scene" and kinds["TOTE"].forced
    assert kinds["TOTE-CUT"].kind == "cutout" and not kinds["TOTE-CUT"].forced
    assert kinds["TEE-WORN"].kind == "scene" and not kinds["TEE-WORN"].forced
    by_sku: dict[str, list[str]] = {}
    for v in expand(catalog, kinds):
        by_sku.setdefault(v.product.sku, []).append(v.background.id)
    assert by_sku == {"TEE-WORN": ["as-shot"] * 2, "TOTE": ["as-shot"] * 2, "TOTE-CUT": ["studio", "wood"] * 2}


def test_a_matrix_rule_may_name_as_shot_but_a_background_may_not_be_called_so(scene_project, tmp_path):
    catalog = scene_project()
    text = catalog.read_text() + "matrix:\n  exclude:\n    - {background: as-shot, colour: cherry}\n"
    catalog.write_text(text)
    assert [v.id for v in expand(load_catalog(catalog))] == ["web/TEE-WORN/forest--as-shot"]
    catalog.write_text(text.replace("id: wood", "id: as-shot"))
    with pytest.raises(CatalogError, match="the background id 'as-shot' is reserved"):
        load_catalog(catalog)


@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_scene_fit_frames_the_photo_on_the_channel(scene_project, worn, fit, capsys):
    channels = "  - {id: square, size: 200x200, format: png}\n  - {id: pure, size: 200x200, format: png, " \
               "background: '#FF00FF'}\n"
    catalog = scene_project(f"    scene_fit: {fit}\n    colours: [forest]\n", channels=channels)
    code, _, err = _cli(capsys, "build", str(catalog), "--no-gallery")
    assert code == 0, err
    build = catalog.parent / "build"
    square = np.asarray(Image.open(build / "square" / "TEE-WORN" / "forest--as-shot.png").convert("RGB"))
    pure = np.asarray(Image.open(build / "pure" / "TEE-WORN" / "forest--as-shot.png").convert("RGB"))
    assert square.shape == pure.shape == (200, 200, 3)
    source = Image.open(catalog.parent / "assets" / "worn.png").convert("RGB")
    garment = Image.fromarray(np.where(worn["garment"], 255, 0).astype(np.uint8)).convert("RGB")
    expected = np.asarray(imaging.frame(source, (200, 200), fit=fit))
    near = _band(np.asarray(imaging.frame(garment, (200, 200), fit=fit))[..., 0] > 0, 4)
    assert (square[~near] == expected[~near]).all(-1).mean() > 0.99
    if fit == "crop":  # the photo covers the canvas: the top and bottom of the photo are cut
        assert np.array_equal(square, imaging.frame(Image.fromarray(square), (200, 200), fit="crop"))
        assert not (pure == [255, 0, 255]).all(-1).any()
    else:  # the whole photo, 150 px wide, between padding: the channel's colour, or the edges blurred
        assert (pure[:, :25] == [255, 0, 255]).all() and (pure[:, -25:] == [255, 0, 255]).all()
        assert not (pure[:, 25:175] == [255, 0, 255]).all(-1).any()
        left = square[:, :25].astype(np.float32)
        edge = square[:, 25:27].astype(np.float32).mean(axis=1)
        assert left.std(axis=1).mean() < 8.0  # smooth: a blurred extension, not a copy of the photo
        assert np.abs(left.mean(axis=1) - edge).mean() < 40.0  # and of the edge's colours


def test_frame_rejects_an_unknown_fit():
    with pytest.raises(imaging.ImagingError, match="unknown fit"):
        imaging.frame(Image.new("RGB", (10, 10)), (5, 5), fit="stretch")


# --- cut-outs of JPEGs: the matte ------------------------------------------------------------------

def test_a_jpeg_cut_out_gets_a_transparent_handle_loop(tmp_path, capsys):
    catalog = write_tree(tmp_path, {
        "assets/tote.jpg": Image.fromarray(tote_on_white(), "RGB"),
        "catalog.yaml": """\
            version: 1
            channels:
              - {id: web, size: 280x300, format: png, fill: 1.0, shadow: false}
            products:
              - {sku: TOTE, name: Tote, image: assets/tote.jpg}
            colours:
              - {id: cherry, name: Cherry, hex: "#B22234"}
            backgrounds:
              - {id: teal, name: Teal, colour: "#2F7F86"}
            """}) / "catalog.yaml"
    code, _, err = _cli(capsys, "build", str(catalog), "--no-gallery")
    assert code == 0 and "warning" not in err, err
    out = np.asarray(Image.open(tmp_path / "build" / "web" / "TOTE" / "cherry--teal.png").convert("RGB"))
    # the tote spans x 40..240, y 40..270 of the photo: scaled by min(280/200, 300/230), centred
    scale = min(280 / 200, 300 / 230)
    left, top = (280 - round(200 * scale)) // 2, round((300 - round(230 * scale)) / 2)
    cx, cy = round(left + (140 - 40) * scale), round(top + (105 - 40) * scale)
    loop = out[cy - 10:cy + 10, cx - 15:cx + 15].reshape(-1, 3).astype(int)
    assert np.abs(loop - [0x2F, 0x7F, 0x86]).max() <= 2  # the new background shows through the loop
    bag = out[round(top + (210 - 40) * scale), cx].astype(int)
    assert abs(bag[0] - bag[2]) > 60  # the bag itself is dyed cherry


# --- warnings, cost and determinism ---------------------------------------------------------------

def test_an_unsure_garment_is_warned_about_with_its_file_confidence_and_fix(tmp_path, capsys):
    noise = np.random.default_rng(7).integers(0, 256, (160, 120, 3), dtype=np.uint8)
    catalog = write_tree(tmp_path, {
        "assets/tee-worn.png": Image.fromarray(noise, "RGB"),
        "catalog.yaml": """\
            version: 1
            channels:
              - {id: web, size: 120x160, format: png}
            products:
              - {sku: TEE-WORN, name: Tee, image: assets/tee-worn.png, photo: scene,
                 print_area: {x: 40, y: 50, width: 40, height: 50}}
              - {sku: TEE-BARE, name: Tee, image: assets/tee-worn.png, photo: scene}
            colours:
              - {id: forest, name: Forest, hex: "#2E6B3A"}
              - {id: cherry, name: Cherry, hex: "#B22234"}
            backgrounds:
              - {id: studio, name: Studio, colour: "#EDEDED"}
            """}) / "catalog.yaml"
    code, out, err = _cli(capsys, "build", str(catalog), "--no-gallery")
    assert code == 0 and "4 made" in out, err
    warned = [line for line in err.splitlines() if line.startswith("warning: ")]
    low = [w for w in warned if "the garment was not found" in w]  # noise: nothing like a garment, nothing guessed
    assert len(low) == 1 and low[0].startswith("warning: assets/tee-worn.png: scene photo; the garment was not "
                                               "found (confidence 0.")
    assert "so nothing was recoloured" in low[0]
    assert low[0].endswith("give the product a recolour_mask: file (white = garment) (2 variants)")
    bare = [w for w in warned if "nothing was recoloured" in w and "not found" not in w]
    assert len(bare) == 1 and "give the product a print_area on the garment or a recolour_mask:" in bare[0]
    assert "TEE-BARE is a scene photo with neither a print_area nor a recolour_mask" in err
    manifest = json.loads((tmp_path / "build" / "manifest.json").read_text())["variants"]
    assert all(e["warnings"] for e in manifest.values())


def test_a_recolour_mask_is_a_scene_garment(scene_project, worn, capsys):
    mask = Image.fromarray(np.where(worn["garment"], 255, 0).astype(np.uint8))
    catalog = scene_project("    recolour_mask: assets/worn-dye.png\n    colours: [forest]\n",
                            files={"assets/worn-dye.png": mask})
    code, out, err = _cli(capsys, "build", str(catalog), "--no-gallery")
    assert code == 0 and "1 made" in out and "warning: assets" not in err, err
    out_rgb = np.asarray(Image.open(catalog.parent / "build" / "web" / "TEE-WORN" / "forest--as-shot.png"))
    source = np.asarray(Image.open(catalog.parent / "assets" / "worn.png").convert("RGB"))
    assert np.array_equal(out_rgb[..., :3][~worn["garment"]], source[~worn["garment"]])


def test_the_same_scene_job_gives_the_same_bytes(scene_project):
    catalog = scene_project("    designs: [logo]\n", files={"assets/logo.png": Image.new("RGBA", (40, 40),
                                                                                        (230, 110, 30, 255))})
    catalog.write_text(catalog.read_text() + "designs:\n  - {id: logo, name: Logo, image: assets/logo.png}\n")
    job = prepare(catalog).jobs[0]
    assert job.variant.scene and job.variant.design is not None
    first = Compositor().render(job).image
    assert Compositor().render(job).image.tobytes() == first.tobytes()
    source = np.asarray(Image.open(catalog.parent / "assets" / "worn.png").convert("RGB"))
    changed = (np.asarray(first.convert("RGB")) != source).any(-1)
    assert changed[115:192, 84:156].mean() > 0.6  # dyed and printed on (the arm crossing it is not)


def test_photo_kinds_are_remembered_by_content_across_builds(scene_project, monkeypatch, capsys):
    catalog = scene_project("    colours: [forest]\n")
    assert main(["build", str(catalog), "--no-gallery"]) == 0
    memo = json.loads((catalog.parent / ".mockups-cache" / "photo-kinds.json").read_text())
    assert [v[0] for v in memo.values()] == ["scene"]

    def refuse(*args, **kwargs):
        raise AssertionError("the photo was classified again")

    monkeypatch.setattr(imaging, "photo_kind", refuse)
    prepared = prepare(catalog)
    assert prepared.photo_kinds["TEE-WORN"].scene and [v.id for v in prepared.variants] == ["web/TEE-WORN/"
                                                                                          "forest--as-shot"]


def test_workers_get_whole_products_when_there_are_enough(scene_project, worn):
    prepared = prepare(scene_project(
        "  - {sku: TEE-CUT, name: Tee, image: assets/worn-flipped.png, photo: cutout}\n",
        channels="  - {id: a, size: 60x80, format: png}\n  - {id: b, size: 60x80, format: png}\n",
        files={"assets/worn-flipped.png": Image.fromarray(np.ascontiguousarray(worn["rgb"][:, ::-1]), "RGB")}))
    groups = chunks(prepared.jobs, 2)  # 2 products, 2 workers: each prepared by one worker only
    assert [sorted({j.variant.product.sku for j in g}) for g in groups] == [["TEE-WORN"], ["TEE-CUT"]]
    assert [len(g) for g in groups] == [4, 8]  # 2 colours x 2 channels; 2 colours x 2 backgrounds x 2 channels


def test_the_bundled_catalog_has_no_scene_and_keeps_its_keys():
    catalog = load_catalog(REPO / "catalog.yaml")
    kinds = photo_kinds(catalog)
    assert {k.kind for k in kinds.values()} == {"alpha"}
    assert (REPO / "mockups" / "resources" / "starter" / "catalog.yaml").read_text() == \
        (REPO / "catalog.yaml").read_text()
    for v in expand(catalog, kinds):
        assert not v.scene and "photo" not in v.fields
        assert "photo" not in v.fields["product"] and "scene_fit" not in v.fields["product"]
