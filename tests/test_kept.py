"""Photo analyses kept between builds (mockups.backends.kept): read back bit for bit, never
trusted when damaged or made for other inputs, shared by the build's overlays, and cleaned."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from mockups import BuildOptions, build, imaging
from mockups.backends import kept as store_module
from mockups.backends import local
from mockups.backends.kept import AnalysisStore, PreparedStore
from mockups.backends.local import Compositor
from tests import imaging_synth as synth


def cutout_photo(path: Path, colour=(0.75, 0.2, 0.22)) -> Path:
    """A tee on a plain light backdrop, without alpha: the compositor mattes it."""
    shape = (240, 200)
    body = synth.ellipse(shape, (100, 130), (70, 90))
    img = synth.over(synth.backdrop(shape, (0.94, 0.94, 0.93), noise=0.01), body, colour)
    Image.fromarray(synth.to_uint8(img), "RGB").save(path)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def quick(monkeypatch):
    """Keep every analysis and preparation, however quick (the synthetic photo's take milliseconds)."""
    monkeypatch.setattr(AnalysisStore, "min_seconds", 0.0)
    monkeypatch.setattr(PreparedStore, "min_seconds", 0.0)


def test_an_analysis_reads_back_bit_for_bit(tmp_path, quick, monkeypatch):
    photo = cutout_photo(tmp_path / "tee.png")
    rgba = imaging.open_image(photo)
    store = AnalysisStore(tmp_path / "analysis", Compositor.version)
    made = store.analyse(rgba, photo_sha=sha(photo), kind="cutout")
    assert made.kind == "cutout" and made.foreground is not None
    assert len(list((tmp_path / "analysis").glob("*.bin"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("analysed again")

    monkeypatch.setattr(imaging, "analyse_photo", fail)
    read = store.analyse(rgba, photo_sha=sha(photo), kind="cutout")
    for name in ("silhouette", "foreground"):
        a, b = getattr(made, name), getattr(read, name)
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    for name in ("kind", "kind_confidence", "confidence", "reason", "backdrop", "kind_reason"):
        assert getattr(read, name) == getattr(made, name), name


def test_other_inputs_other_analyses(tmp_path, quick):
    photo = cutout_photo(tmp_path / "tee.png")
    store = AnalysisStore(tmp_path / "analysis", "3")
    first = store.path(sha(photo), None, "cutout", None)
    assert first == store.path(sha(photo), None, "cutout", None)
    assert len({first, store.path(sha(photo), "f" * 64, "cutout", None), store.path(sha(photo), None, "auto", None),
                store.path(sha(photo), None, "scene", [(1.0, 2.0)]), store.path("0" * 64, None, "cutout", None),
                AnalysisStore(tmp_path / "analysis", "4").path(sha(photo), None, "cutout", None)}) == 6
    assert AnalysisStore(None, "3").path(sha(photo), None, "cutout", None) is None
    assert store.path(None, None, "cutout", None) is None  # no hash, no file


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "foreign header"])
def test_a_damaged_analysis_is_made_again(tmp_path, quick, monkeypatch, damage):
    photo = cutout_photo(tmp_path / "tee.png")
    rgba = imaging.open_image(photo)
    store = AnalysisStore(tmp_path / "analysis", Compositor.version)
    made = store.analyse(rgba, photo_sha=sha(photo), kind="cutout")
    (path,) = (tmp_path / "analysis").glob("*.bin")
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00" * 100, "empty": b"",
                      "foreign header": data[:6] + b"\x00\x00\x00\x02{}" + data[-50:]}[damage])
    calls = []
    real = imaging.analyse_photo
    monkeypatch.setattr(imaging, "analyse_photo", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = store.analyse(rgba, photo_sha=sha(photo), kind="cutout")
    assert calls == [1]
    assert again.silhouette.tobytes() == made.silhouette.tobytes()
    assert path.read_bytes() == data  # written again, whole


def test_quick_analyses_are_not_stored(tmp_path):
    photo = tmp_path / "alpha.png"
    Image.new("RGBA", (64, 64), (200, 30, 30, 255)).save(photo)
    store = AnalysisStore(tmp_path / "analysis", Compositor.version)
    store.analyse(imaging.open_image(photo), photo_sha=sha(photo))  # it has alpha: nothing to find
    assert not (tmp_path / "analysis").exists()


def catalog(root: Path, hexes: list[str]) -> Path:
    (root / "assets").mkdir(parents=True, exist_ok=True)
    cutout_photo(root / "assets" / "tee.png")
    cutout_photo(root / "assets" / "mug.png", colour=(0.2, 0.3, 0.7))
    lines = ["version: 1", "channels:", "  - {id: web, size: 160x160, format: png}", "products:",
             "  - {sku: TEE, name: Tee, image: assets/tee.png, photo: cutout}",
             "  - {sku: MUG, name: Mug, image: assets/mug.png, photo: cutout}",
             "colours:"] + [f'  - {{id: c{i}, name: C{i}, hex: "{h}"}}' for i, h in enumerate(hexes)] + \
            ["backgrounds:", '  - {id: white, name: White, colour: "#FFFFFF"}']
    (root / "catalog.yaml").write_text("\n".join(lines) + "\n")
    return root / "catalog.yaml"


def outputs(root: Path) -> dict[str, str]:
    return {p.relative_to(root / "build").as_posix(): sha(p) for p in sorted((root / "build" / "web").rglob("*.png"))}


def test_a_colour_edit_reads_the_analyses_and_makes_the_same_pixels(tmp_path, quick, monkeypatch):
    project = catalog(tmp_path / "p", ["#1F2A44", "#B22234"])
    first = build(project, BuildOptions(jobs=1))
    assert first.built == 4
    stored = sorted((tmp_path / "p" / ".mockups-cache" / "analysis").glob("*.bin"))
    assert len(stored) == 2  # one per photo: the build's overlays read them, not a second analysis
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in stored}

    assert len(list((tmp_path / "p" / ".mockups-cache" / "prepared").glob("*.bin"))) == 2

    made, prepared = [], []
    real, real_prepare = store_module.imaging.analyse_photo, Compositor._prepare
    monkeypatch.setattr(store_module.imaging, "analyse_photo", lambda *a, **k: made.append(1) or real(*a, **k))
    monkeypatch.setattr(Compositor, "_prepare", lambda self, job: prepared.append(1) or real_prepare(self, job))
    text = project.read_text().replace("#B22234", "#2E6B3A")
    project.write_text(text)
    second = build(project, BuildOptions(jobs=1))
    assert second.built == 2 and made == [] and prepared == []  # neither photo analysed nor prepared again
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in stored} == before

    fresh = catalog(tmp_path / "fresh", ["#1F2A44", "#2E6B3A"])  # the same catalog, nothing kept
    monkeypatch.setattr(store_module.imaging, "analyse_photo", real)
    build(fresh, BuildOptions(jobs=1))
    assert outputs(tmp_path / "p") == outputs(tmp_path / "fresh")


def test_mockups_inspect_shares_the_analyses_with_the_build(tmp_path, quick, monkeypatch, capsys):
    """`mockups inspect` reads what a build found in its photos and keeps what it finds itself, so
    that looking at the overlays before a build (or again after one) finds no matte twice; the
    overlays it draws from kept analyses are the very ones it draws without them."""
    from mockups.cli import main

    project = catalog(tmp_path / "p", ["#1F2A44"])
    overlays = tmp_path / "p" / "build" / "inspect"
    calls: list[int] = []
    real = store_module.imaging.analyse_photo
    monkeypatch.setattr(store_module.imaging, "analyse_photo", lambda *a, **k: calls.append(1) or real(*a, **k))

    assert main(["inspect", str(project)]) == 0  # before any build: it finds both mattes, and keeps them
    assert len(calls) == 2
    assert len(list((tmp_path / "p" / ".mockups-cache" / "analysis").glob("*.bin"))) == 2
    drawn = {p.name: p.read_bytes() for p in overlays.glob("*.png")}
    assert sorted(drawn) == ["MUG.png", "TEE.png"]

    calls.clear()
    assert build(project, BuildOptions(jobs=1)).built == 2
    assert calls == []  # the build's compositor read what inspect found

    assert main(["inspect", str(project), "--force"]) == 0  # redrawn: from the kept analyses
    assert calls == []
    assert {p.name: p.read_bytes() for p in overlays.glob("*.png")} == drawn

    for kept in (tmp_path / "p" / ".mockups-cache" / "analysis").glob("*.bin"):
        kept.unlink()
    assert main(["inspect", str(project), "--force"]) == 0  # and found again without them: the same overlays
    assert len(calls) == 2
    assert {p.name: p.read_bytes() for p in overlays.glob("*.png")} == drawn
    capsys.readouterr()


def test_clean_deletes_the_analyses_of_photos_no_longer_used(tmp_path, quick, capsys):
    from mockups.cli import main

    project = catalog(tmp_path / "p", ["#1F2A44"])
    build(project, BuildOptions(jobs=1))
    folder = tmp_path / "p" / ".mockups-cache" / "analysis"
    assert len(list(folder.glob("*.bin"))) == 2
    prepared = tmp_path / "p" / ".mockups-cache" / "prepared"
    assert len(list(prepared.glob("*.bin"))) == 2
    project.write_text(project.read_text().replace("  - {sku: MUG, name: Mug, image: assets/mug.png, photo: cutout}\n",
                                                   ""))
    assert main(["clean", str(project), "--dry-run"]) == 0
    assert "2 kept photo preparations" in capsys.readouterr().out  # the mug's analysis and preparation
    assert len(list(folder.glob("*.bin"))) == 2
    assert main(["clean", str(project)]) == 0
    for kept_folder in (folder, prepared):
        (kept,) = kept_folder.glob("*.bin")
        assert kept.name.startswith(sha(tmp_path / "p" / "assets" / "tee.png")[:16])


def one_job(tmp_path: Path, name: str = "tee.png"):
    from mockups import prepare

    project = catalog(tmp_path / "one", ["#1F2A44"])
    if name != "tee.png":
        (tmp_path / "one" / "assets" / "tee.png").rename(tmp_path / "one" / "assets" / name)
        project.write_text(project.read_text().replace("assets/tee.png", f"assets/{name}"))
    return next(j for j in prepare(project).jobs if j.variant.product.sku == "TEE")


def compositor(folder: Path) -> Compositor:
    return Compositor(prepared=PreparedStore(folder, Compositor.version))


def test_a_kept_preparation_renders_the_same_bytes(tmp_path, quick, monkeypatch):
    job = one_job(tmp_path)
    first = compositor(tmp_path / "prepared").render(job).image.tobytes()
    assert len(list((tmp_path / "prepared").glob("*.bin"))) == 1

    def fail(self, job):
        raise AssertionError("prepared again")

    monkeypatch.setattr(Compositor, "_prepare", fail)
    assert compositor(tmp_path / "prepared").render(job).image.tobytes() == first


def test_a_renamed_photo_is_prepared_again_for_its_warnings(tmp_path, quick):
    job = one_job(tmp_path / "a")
    renamed = one_job(tmp_path / "b", "tee-front.png")
    assert job.inputs["product"][1] == renamed.inputs["product"][1]  # the same bytes
    store = PreparedStore(tmp_path / "prepared", Compositor.version)
    keys = {store.path(j.inputs["product"][1], (*local.product_key(j), j.input_path("product").name))
            for j in (job, renamed)}
    assert len(keys) == 2


class Planted:
    """What a planted cache file would carry: a call run when it is unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("content", ["planted", "damaged", "foreign class"])
def test_a_planted_or_damaged_preparation_is_a_miss_and_runs_nothing(tmp_path, quick, content):
    import pickle
    import zlib

    job = one_job(tmp_path)
    first = compositor(tmp_path / "prepared").render(job).image.tobytes()
    (path,) = (tmp_path / "prepared").glob("*.bin")
    marker = tmp_path / "ran"
    payload = {"planted": pickle.dumps(Planted(marker)), "damaged": path.read_bytes()[6:-100],
               "foreign class": pickle.dumps(Path("x"))}[content]
    path.write_bytes(b"MKPP1\n" + (zlib.compress(payload, 1) if content != "damaged" else payload))
    assert compositor(tmp_path / "prepared").render(job).image.tobytes() == first  # prepared again
    assert not marker.exists()
    assert path.read_bytes().startswith(b"MKPP1\n") and zlib.decompress(path.read_bytes()[6:])  # kept anew
