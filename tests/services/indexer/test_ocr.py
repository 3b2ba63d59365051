"""Tesseract as the indexer runs it: words with boxes, regions in one run, undecodable images."""

from __future__ import annotations

import pytest

from services.indexer import ocr
from services.indexer.regions import Box
from tests.services.indexer.pictures import CHINESE_LINE, KNOWN_WORDS, chinese_page, encoded, page

LANGUAGES = "eng+chi_sim"


@pytest.fixture
async def engine() -> ocr.Engine:
    return await ocr.find_engine(LANGUAGES)


async def test_engine_is_debian_tesseract_5(engine: ocr.Engine) -> None:
    """The engine found is tesseract 5, named tesseract-<version> for the text's key."""
    assert engine.version.startswith("5.")
    assert engine.name == f"tesseract-{engine.version}"


async def test_reads_known_words_with_boxes(engine: ocr.Engine) -> None:
    """Every known English word on a rendered picture is read, with its box and a confidence."""
    picture = page()
    reading = await ocr.read(engine, picture)
    texts = [word.text for word in reading.words]
    assert set(KNOWN_WORDS) <= set(texts)
    kangaroo = next(word for word in reading.words if word.text == "kangaroo")
    assert 30 <= kangaroo.x <= 60
    assert 30 <= kangaroo.y <= 60
    assert kangaroo.w > 50
    assert 10 < kangaroo.h < 40
    assert 50 < kangaroo.conf <= 100
    assert reading.cpu_s > 0


async def test_reads_simplified_chinese(engine: ocr.Engine) -> None:
    """A line of Simplified Chinese is read with chi_sim (the original app's users write both)."""
    reading = await ocr.read(engine, chinese_page())
    text = "".join(word.text for word in reading.words)
    assert "搜索" in text
    assert "文字" in text
    assert sum(ch in text for ch in CHINESE_LINE) >= len(CHINESE_LINE) - 1


async def test_regions_are_read_in_one_run_and_mapped_back(engine: ocr.Engine) -> None:
    """Two regions read through one mosaic give the words at their places in the source."""
    picture = page()
    top = Box(20, 20, 860, 60)  # the first line
    bottom = Box(20, 70, 860, 60)  # the second line
    reading = await ocr.read_regions(engine, picture, [bottom, top])
    found = {word.text: word for word in reading.words}
    assert set(KNOWN_WORDS) <= set(found)
    assert found["kangaroo"].y < 70 <= found["volcano"].y
    whole = {word.text: word for word in (await ocr.read(engine, picture)).words}
    assert abs(found["harbour"].x - whole["harbour"].x) <= 2
    assert abs(found["harbour"].y - whole["harbour"].y) <= 2


async def test_missing_language_names_the_package() -> None:
    """A language without data makes the engine missing, with the apt-get line that installs it."""
    with pytest.raises(ocr.EngineMissing, match=r"no data for xyz.*tesseract-ocr-xyz"):
        await ocr.find_engine("eng+xyz")


def test_truncated_image_is_undecodable() -> None:
    """A truncated PNG is refused with a reason, not half read."""
    data = encoded(page())
    with pytest.raises(ocr.ImageUndecodable, match="cannot be decoded"):
        ocr.decode_image(data[: len(data) // 2])


def test_garbage_is_undecodable() -> None:
    """Bytes that are no picture at all are refused with a reason."""
    with pytest.raises(ocr.ImageUndecodable, match="cannot be decoded"):
        ocr.decode_image(b"not a picture at all")


def test_tsv_rows_other_than_words_are_skipped() -> None:
    """Only level-5 rows with text become words; boxes and confidences are kept."""
    tsv = (
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
        "1\t1\t0\t0\t0\t0\t0\t0\t900\t300\t-1\t\n"
        "5\t1\t1\t1\t1\t1\t41\t42\t120\t20\t96.5\tkangaroo\n"
        "5\t1\t1\t1\t1\t2\t170\t42\t5\t20\t10\t \n"
    )
    assert ocr.parse_tsv(tsv) == [ocr.Word("kangaroo", 41, 42, 120, 20, 96.5)]
