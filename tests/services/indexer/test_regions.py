"""The region diff: only changed cells are read again, words elsewhere are carried over."""

from __future__ import annotations

from PIL import Image, ImageDraw

from services.indexer.ocr import Word
from services.indexer.regions import CELL, MARGIN, Box, carry_over, changed_cells, merge, plan

SIZE = (640, 480)


def blank() -> Image.Image:
    return Image.new("L", SIZE, 255)


def with_block(box: Box, image: Image.Image | None = None) -> Image.Image:
    image = (image or blank()).copy()
    ImageDraw.Draw(image).rectangle((box.x, box.y, box.right - 1, box.bottom - 1), fill=0)
    return image


def test_identical_frames_need_no_reading() -> None:
    """Nothing changed: no region, not a full read."""
    result = plan(blank(), blank())
    assert not result.full
    assert result.regions == ()


def test_first_frame_or_new_size_is_read_whole() -> None:
    """Without a previous frame of the same size the whole frame is read."""
    assert plan(None, blank()).full
    assert plan(Image.new("L", (320, 240), 255), blank()).full


def test_one_change_gives_one_region_around_it() -> None:
    """A changed block becomes one region covering it plus the margin, and nothing else."""
    block = Box(200, 100, 40, 20)
    result = plan(blank(), with_block(block))
    assert not result.full
    assert len(result.regions) == 1
    region = result.regions[0]
    assert region.x <= block.x - MARGIN
    assert region.right >= block.right + MARGIN
    assert region.y <= block.y - MARGIN
    assert region.bottom >= block.bottom + MARGIN
    assert region.area < 4 * (block.w + 2 * CELL + 2 * MARGIN) * (block.h + 2 * CELL + 2 * MARGIN)


def test_distant_changes_are_separate_regions() -> None:
    """Two changes far apart are read as two regions, not one box spanning both."""
    after = with_block(Box(500, 400, 30, 30), with_block(Box(20, 20, 30, 30)))
    result = plan(blank(), after)
    assert len(result.regions) == 2


def test_small_pixel_noise_is_no_change() -> None:
    """A uniform shift of a few grey levels (encoding noise) changes no cell."""
    assert changed_cells(blank(), Image.new("L", SIZE, 250)) == set()


def test_mostly_changed_frame_is_read_whole() -> None:
    """When the regions would cover most of the frame, the whole frame is read."""
    assert plan(blank(), Image.new("L", SIZE, 0)).full


def test_regions_grow_over_touched_words() -> None:
    """A region that touches a word of the previous reading grows to its whole box."""
    word = Word("harbour", 150, 100, 120, 20, 90.0)
    result = plan(blank(), with_block(Box(250, 104, 10, 10)), [word])
    (region,) = result.regions
    assert region.x <= word.x
    assert region.right >= word.x + word.w


def test_words_outside_regions_are_carried_over() -> None:
    """Words whose boxes touch no region are kept; the others are dropped for a new reading."""
    inside = Word("old", 10, 10, 30, 10, 90.0)
    outside = Word("kept", 300, 300, 30, 10, 90.0)
    assert carry_over([inside, outside], [Box(0, 0, 100, 100)]) == [outside]


def test_merge_joins_overlapping_boxes_only() -> None:
    """Overlapping boxes become their union; apart ones stay apart."""
    merged = merge([Box(0, 0, 10, 10), Box(5, 5, 10, 10), Box(100, 100, 5, 5)])
    assert sorted(merged, key=lambda box: box.x) == [Box(0, 0, 15, 15), Box(100, 100, 5, 5)]
