"""Numbered desktop pictures for the soak: which picture a stored capture shows, read back from it.

Each picture is :func:`~bench.scenery.desktop_image` with its number written twice, in its
top-left and its bottom-left corner, as a row of black and white squares: ``BITS`` squares for the
number, then ``BITS`` for its complement. Squares that large survive lossy WebP; the complement
rejects what is not a mark. A grab can catch a picture half drawn: Xlib sends a large image in
requests of 256 KiB, rows top to bottom, and the X server may serve a screen grab between two of
them. Such a frame shows the new number at the top and the old one (or none) at the bottom; it is a
real change of the screen, but it shows none of the pictures, so it reads as None.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageStat

from bench.scenery import desktop_image

BITS = 10  # pictures numbered 0 .. 1023
CELL = 40  # pixels per square
MARGIN = 10  # pixels of each square's edge left out when it is read
DARK, LIGHT = 70, 185  # grey means: below is a 0, above a 1, between is not a mark


def numbered_picture(size: tuple[int, int], number: int) -> Image.Image:
    """The desktop picture ``number``, with ``number`` written in squares at its top-left."""
    image = desktop_image(size, number)
    draw = ImageDraw.Draw(image)
    for top in (0, size[1] - CELL):
        for slot, bit in enumerate(_bits(number)):
            left = slot * CELL
            box = (left, top, left + CELL - 1, top + CELL - 1)
            draw.rectangle(box, fill="white" if bit else "black")
    return image


def picture_number(encoded: bytes) -> int | None:
    """The number of the picture an encoded screen capture shows, or None if it shows none."""
    grey = Image.open(io.BytesIO(encoded)).convert("L")
    top, bottom = _mark(grey, 0), _mark(grey, grey.height - CELL)
    return top if top == bottom else None


def _mark(grey: Image.Image, top: int) -> int | None:
    """The number written in the row of squares at ``top``, or None."""
    bits: list[int] = []
    for slot in range(2 * BITS):
        left = slot * CELL + MARGIN
        box = (left, top + MARGIN, left + CELL - 2 * MARGIN, top + CELL - MARGIN)
        mean = ImageStat.Stat(grey.crop(box)).mean[0]
        if DARK <= mean <= LIGHT:
            return None
        bits.append(int(mean > LIGHT))
    if bits != _bits(_number(bits[:BITS])):
        return None
    return _number(bits[:BITS])


def _bits(number: int) -> list[int]:
    value = [(number >> shift) & 1 for shift in range(BITS)]
    return value + [1 - bit for bit in value]


def _number(bits: list[int]) -> int:
    return sum(bit << shift for shift, bit in enumerate(bits))
