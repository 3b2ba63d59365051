"""Pictures with known words for the indexer's tests, drawn with PIL."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

KNOWN_WORDS = ("kangaroo", "telescope", "umbrella", "volcano", "harbour", "lantern")
FONT_SIZE = 22


def page(words: tuple[str, ...] = KNOWN_WORDS, size: tuple[int, int] = (900, 300)) -> Image.Image:
    """A white picture with ``words`` in black, three to a line."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=FONT_SIZE)
    for index in range(0, len(words), 3):
        draw.text((40, 40 + index // 3 * 50), "  ".join(words[index : index + 3]), "black", font)
    return image


def encoded(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"  # fonts-wqy-microhei (make test)
CHINESE_LINE = "搜索屏幕上的文字"  # "search the text on the screen"


def chinese_page(line: str = CHINESE_LINE, size: tuple[int, int] = (900, 160)) -> Image.Image:
    """A white picture with one line of Simplified Chinese in black."""
    image = Image.new("RGB", size, "white")
    font = ImageFont.truetype(CJK_FONT, 48)
    ImageDraw.Draw(image).text((40, 50), line, "black", font)
    return image
