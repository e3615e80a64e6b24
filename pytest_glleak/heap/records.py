"""The image registry's records: one per live tracked buffer, dropped by a weak reference's callback."""

from __future__ import annotations

import weakref

from pytest_glleak.sites import Site


class KeyedRef(weakref.ref):  # type: ignore[type-arg]
    """A weak reference that knows its registry key (the callback drops the record by it)."""

    __slots__ = ("key",)
    key: int


class TrackedBuffer:
    """One live tracked object: a Pillow image, or a memoryview that NumPy arrays over an image share."""

    __slots__ = ("core_seq", "kind", "nbytes", "owned", "phase", "ref", "seq", "shape", "site", "typestr")

    def __init__(self, ref: KeyedRef, seq: int, kind: str, site: Site, phase: str, core_seq: int) -> None:
        self.ref = ref
        self.seq = seq
        self.kind = kind  # "pil_image" or "ndarray"
        self.site = site
        self.phase = phase
        self.core_seq = core_seq  # event number of the last pixel core attached (pil_image)
        self.shape: tuple[int, ...] = ()  # ndarray
        self.typestr = ""  # ndarray
        self.nbytes = 0  # ndarray
        self.owned = False  # ndarray: the record's object is the array owning its pixels (a copy)
