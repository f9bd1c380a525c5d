"""Every Pillow image mode to 8-bit sRGB: scaled, never clipped, or refused by name.

- 8-bit colour and grey modes (``1``, ``L``, ``P``, ``RGB``, ``RGBX``, ``CMYK``, ``YCbCr``,
  ``HSV``) use Pillow's own conversion; ``LAB`` goes through a LAB -> sRGB colour transform
  (Pillow's plain ``convert`` copies the channels unchanged).
- 16-bit grey (``I;16``, ``I;16B``, ``I;16L``, ``I;16N``) and 32-bit integer ``I`` holding
  0..65535 (how Pillow opens 16-bit PGM/PNG) are scaled by 255/65535.
- Transparency (``RGBA``, ``LA``, ``PA``, the premultiplied ``RGBa``/``La``, or a
  ``transparency`` key) is composited over white, as an image viewer shows it.
- ``F`` (float, no fixed range) and ``I`` outside 0..65535 are refused with
  :class:`UnsupportedImageMode` naming the file and the mode.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageCms

from navref.data.base import DatasetError

SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_PILLOW_MODES = ("1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "HSV")


class UnsupportedImageMode(DatasetError):
    """An image whose pixel mode has no well-defined 8-bit RGB value."""


def _refuse(source: str, mode: str, why: str) -> UnsupportedImageMode:
    return UnsupportedImageMode(
        f"image {source} has Pillow mode {mode!r}, {why}; save it as 8- or 16-bit "
        "integer RGB or greyscale (e.g. PNG), or remove it from the folder"
    )


def _sixteen_bit(image: Image.Image, source: str) -> Image.Image:
    values = np.asarray(image).astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise _refuse(source, image.mode, "whose values lie outside 0..65535")
    grey = np.round(values * (255 / 65535)).astype(np.uint8)
    key = image.info.get("transparency")
    if isinstance(key, int):  # a tRNS key colour: those pixels are transparent, over white
        grey[values == key] = 255
    return Image.fromarray(grey, mode="L").convert("RGB")


def _over_white(image: Image.Image) -> Image.Image:
    if image.mode == "La":
        image = image.convert("LA")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _lab(image: Image.Image) -> Image.Image:
    transform = ImageCms.buildTransform(
        ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
    )
    return ImageCms.applyTransform(image, transform)


def to_rgb8(image: Image.Image, source: str) -> Image.Image:
    """Return ``image`` as a mode ``RGB`` (8-bit sRGB) image, values scaled to 0..255.

    ``source`` names the file in errors. Raises :class:`UnsupportedImageMode` for ``F``,
    for ``I`` outside 0..65535 and for any mode not listed in the module docstring.
    """
    mode = image.mode
    if mode in SIXTEEN_BIT_MODES or mode == "I":
        return _sixteen_bit(image, source)
    if mode in _ALPHA_MODES or "transparency" in image.info:
        return _over_white(image)
    if mode == "LAB":
        return _lab(image)
    if mode in _PILLOW_MODES:
        return image.convert("RGB")
    if mode == "F":
        raise _refuse(source, mode, "floating point with no fixed value range")
    raise _refuse(source, mode, "which navref does not convert")
