"""PIL images as PNG: lossless, safe to decode, readable by any image viewer.

Only plain ``PIL.Image.Image`` objects (what ``Image.new``, ``convert``, ``resize``, ``crop``...
return) in modes PNG stores without loss. ``dump`` decodes what it wrote and compares mode, size,
pixels, palette and ``info``; an image that would come back different (an ``info`` entry PNG
cannot carry, a mode PNG would convert) raises, so the store falls through to pickle. Images
opened from files (``PngImageFile``, ``JpegImageFile``...) keep their file's class only in pickle.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from ._errors import SerializationError

__all__ = ["PNGSerializer"]

_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"})  # PA: Pillow cannot write it


class PNGSerializer:
    """``PIL.Image.Image`` in PNG-lossless modes (1, L, LA, P, RGB, RGBA, I;16)."""

    id, ext, safe = "png", "png", True

    def accepts(self, value: Any) -> bool:
        t = type(value)
        return t.__module__ == "PIL.Image" and t.__name__ == "Image" and value.mode in _MODES

    def dump(self, value: Any, out: BinaryIO) -> None:
        buf = io.BytesIO()
        value.save(buf, format="PNG", **_save_options(value))
        back = self.load(io.BytesIO(buf.getvalue()))
        if not _same(value, back):
            raise SerializationError("this image would not read back exactly from PNG")
        out.write(buf.getbuffer())

    def load(self, src: BinaryIO) -> Any:
        from PIL import Image

        with Image.open(src, formats=["PNG"]) as image:
            image.load()
            return image.copy()  # a plain Image, as stored; not the PngImageFile


def _save_options(image: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"compress_level": 1}  # fast; ~size of level 6 on real images
    if "transparency" in image.info:
        options["transparency"] = image.info["transparency"]
    return options


def _same(a: Any, b: Any) -> bool:
    if (a.mode, a.size) != (b.mode, b.size) or a.tobytes() != b.tobytes():
        return False
    if a.mode in ("P", "PA") and a.getpalette() != b.getpalette():
        return False
    return dict(a.info) == dict(b.info)
