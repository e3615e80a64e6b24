"""Scale images to a target size: ``fit`` (inside, aspect kept) and ``fill`` (cover, centre-cropped)."""

from __future__ import annotations

from PIL import Image

#: Pillow's resampling filters by name, for the command line and for cache keys.
FILTERS: dict[str, Image.Resampling] = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def resampling(name_or_filter: str | int) -> Image.Resampling:
    """A Pillow filter from its name ("lanczos"...) or its value; ValueError for anything else."""
    if isinstance(name_or_filter, str):
        try:
            return FILTERS[name_or_filter.lower()]
        except KeyError:
            raise ValueError(f"unknown filter {name_or_filter!r}; known: {', '.join(FILTERS)}") from None
    return Image.Resampling(name_or_filter)


def fit_size(size: tuple[int, int], box: tuple[int, int], *, upscale: bool = True) -> tuple[int, int]:
    """The largest size with the aspect ratio of ``size`` that fits in ``box`` (each side at least 1)."""
    width, height = size
    box_width, box_height = box
    if width < 1 or height < 1 or box_width < 1 or box_height < 1:
        raise ValueError(f"sizes must be positive, not {size} in {box}")
    scale = min(box_width / width, box_height / height)
    if not upscale:
        scale = min(scale, 1.0)
    return max(1, min(box_width, round(width * scale))), max(1, min(box_height, round(height * scale)))


def fit(
    image: Image.Image,
    box: tuple[int, int],
    resample: str | int = Image.Resampling.LANCZOS,
    *,
    upscale: bool = True,
) -> Image.Image:
    """A new image scaled to fit inside ``box``, aspect ratio kept (see :func:`fit_size`)."""
    return image.resize(fit_size(image.size, box, upscale=upscale), resampling(resample))


def fill_box(size: tuple[int, int], target: tuple[int, int]) -> tuple[float, float, float, float]:
    """The centred region of an image of ``size`` with the aspect ratio of ``target`` (source pixels)."""
    width, height = size
    target_width, target_height = target
    if width < 1 or height < 1 or target_width < 1 or target_height < 1:
        raise ValueError(f"sizes must be positive, not {size} to {target}")
    if width * target_height > height * target_width:  # source wider than target: crop the sides
        crop_width = height * target_width / target_height
        left = (width - crop_width) / 2
        return left, 0.0, left + crop_width, float(height)
    crop_height = width * target_height / target_width
    top = (height - crop_height) / 2
    return 0.0, top, float(width), top + crop_height


def fill(
    image: Image.Image, target: tuple[int, int], resample: str | int = Image.Resampling.LANCZOS
) -> Image.Image:
    """A new image of exactly ``target`` size covering it, centre-cropped (one resampling pass)."""
    return image.resize(target, resampling(resample), box=fill_box(image.size, target))
