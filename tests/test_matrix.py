"""Matrix expansion: product x colours x backgrounds x designs x channels, include/exclude, filters, shards."""

from __future__ import annotations

import pytest

from mockups import CatalogError, expand, load_catalog
from mockups.matrix import FilterError, parse_only, parse_shard, select, shard_of
from tests.conftest import MINIMAL


def ids(path) -> list[str]:
    return [v.id for v in expand(load_catalog(path))]


def test_full_product_in_catalog_order(project):
    assert ids(project()) == [
        "web/TEE/white--studio", "web/TEE/white--wood", "web/TEE/navy--studio", "web/TEE/navy--wood",
        "web/MUG/white--studio", "web/MUG/white--wood", "web/MUG/navy--studio", "web/MUG/navy--wood",
    ]


def test_product_lists_restrict_and_order(project):
    text = MINIMAL.replace("name: Mug\n", "name: Mug\n    colours: [navy]\n    backgrounds: [wood, studio]\n")
    assert [i for i in ids(project(text)) if "MUG" in i] == ["web/MUG/navy--studio", "web/MUG/navy--wood"]


def test_exclude_matches_all_given_keys(project):
    text = MINIMAL + ("matrix:\n  exclude:\n    - {product: MUG, background: wood}\n"
                      "    - {colour: navy, background: studio}\n")
    assert ids(project(text)) == ["web/TEE/white--studio", "web/TEE/white--wood", "web/TEE/navy--wood",
                                  "web/MUG/white--studio"]


def test_include_adds_back_after_exclude_and_adds_new(project):
    text = MINIMAL.replace("name: Mug\n", "name: Mug\n    backgrounds: [studio]\n")
    text += ("matrix:\n  exclude:\n    - {product: TEE}\n"
             "  include:\n    - {product: TEE, colour: navy, background: wood}\n"
             "    - {product: MUG, background: wood}\n")
    assert ids(project(text)) == ["web/TEE/navy--wood", "web/MUG/white--studio", "web/MUG/white--wood",
                                  "web/MUG/navy--studio", "web/MUG/navy--wood"]


def test_include_of_existing_combination_is_not_duplicated(project):
    text = MINIMAL + "matrix:\n  include:\n    - {product: MUG, colour: navy, background: wood}\n"
    assert ids(project(text)) == ids(project())


def test_empty_matrix_is_an_error(project):
    text = MINIMAL + "matrix:\n  exclude:\n    - {background: studio}\n    - {background: wood}\n"
    with pytest.raises(CatalogError) as e:
        load_catalog(path := project(text)) and expand(load_catalog(path))
    assert str(e.value.problems[0]).endswith(":21:1: matrix: the matrix is empty: every combination is excluded")


def test_rule_with_unknown_id_lists_known(project):
    text = MINIMAL + "matrix:\n  exclude:\n    - {product: MUGG}\n"
    with pytest.raises(CatalogError) as e:
        load_catalog(project(text))
    assert e.value.problems[0].message == "unknown product 'MUGG' (did you mean 'MUG'?); known products: TEE, MUG"


def test_several_designs_name_the_file(project):
    text = MINIMAL.replace("designs: [logo]", "designs: [logo, logo2]")
    text += "  - {id: logo2, image: assets/logo.png}\n"
    found = ids(project(text))
    assert "web/TEE/white--studio--logo" in found and "web/TEE/white--studio--logo2" in found
    assert "web/MUG/white--studio" in found


def test_outputs_and_channels(project):
    text = MINIMAL.replace("  - {id: web, size: 96x96, format: png}",
                           "  - {id: web, size: 96x96, format: png}\n  - {id: mp, size: 64x80, format: jpeg}")
    variants = expand(load_catalog(project(text)))
    assert variants[0].output == "web/TEE/white--studio.png"
    assert variants[1].output == "mp/TEE/white--studio.jpg"
    assert len(variants) == 16


def test_only_filters_globs_and_or(project):
    variants = expand(load_catalog(project()))
    picked = select(variants, parse_only(["sku=T*,colour=navy"]))
    assert [v.id for v in picked] == ["web/TEE/navy--studio", "web/TEE/navy--wood"]
    picked = select(variants, parse_only(["sku=MUG,background=wood", "colour=white,sku=TEE,background=studio"]))
    assert [v.id for v in picked] == ["web/TEE/white--studio", "web/MUG/white--wood", "web/MUG/navy--wood"]


@pytest.mark.parametrize("bad", ["sku", "size=big", "=x", "sku="])
def test_bad_only_filter(bad):
    with pytest.raises(FilterError) as e:
        parse_only([bad])
    assert "expected key=value pairs" in str(e.value)


def test_shards_partition_the_variants(project):
    variants = expand(load_catalog(project()))
    for n in (1, 2, 3, 5):
        shards = [select(variants, shard=(k, n)) for k in range(1, n + 1)]
        flat = [v.id for s in shards for v in s]
        assert sorted(flat) == sorted(v.id for v in variants)  # every variant in exactly one shard
        assert len(flat) == len(set(flat))
    assert shard_of("web/TEE/navy--wood", 4) == shard_of("web/TEE/navy--wood", 4)


@pytest.mark.parametrize("bad", ["0/2", "3/2", "a/b", "2"])
def test_bad_shard(bad):
    with pytest.raises(FilterError):
        parse_shard(bad)
