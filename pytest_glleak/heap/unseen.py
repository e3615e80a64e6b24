"""Finding objects the garbage collector does not track: NumPy arrays and orphan Pillow image cores.

A full-heap walk, on the failure path only.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
from typing import Any

import numpy as np

from pytest_glleak.heap.holders import Suspect
from pytest_glleak.heap.pixels import CORE_TYPE


@dataclasses.dataclass
class Unseen:
    """What :func:`scan_unseen` found: each object with the container that holds it."""

    arrays: list[tuple[np.ndarray[Any, Any], object]]
    cores: list[tuple[Any, object]]


def scan_unseen(*, want_arrays: bool, want_cores: bool, known_cores: set[int]) -> Unseen:
    """Arrays and orphan image cores reachable from gc-tracked objects (directly or through an untracked
    dict or tuple), with the container that holds each. A full-heap walk: failure path only.

    Holders are scanned in chunks with one ``gc.get_referents(*chunk)`` each; only a chunk whose
    referents include a wanted type (or an untracked dict or tuple) is walked holder by holder.
    """
    found = Unseen([], [])
    seen: set[int] = set()
    wanted: dict[type, bool] = {}

    def is_wanted(kind: type) -> bool:
        verdict = wanted.get(kind)
        if verdict is None:
            verdict = wanted[kind] = bool(
                (want_arrays and issubclass(kind, np.ndarray)) or (want_cores and kind is CORE_TYPE)
            )
        return verdict

    def keep(candidate: object, holder: object) -> None:
        if id(candidate) in seen:
            return
        if type(candidate) is CORE_TYPE:
            if id(candidate) not in known_cores:
                seen.add(id(candidate))
                found.cores.append((candidate, holder))
        else:
            seen.add(id(candidate))
            found.arrays.append((candidate, holder))  # type: ignore[arg-type]

    here = sys._getframe()
    # A suspect holds its (untracked) array while the verdict is assembled: not a holder to report.
    objects = [holder for holder in gc.get_objects() if holder is not here and type(holder) is not Suspect]
    get_referents, is_tracked = gc.get_referents, gc.is_tracked
    for start in range(0, len(objects), 256):
        chunk = objects[start : start + 256]
        referents = get_referents(*chunk)
        kinds = set(map(type, referents))
        nested = (
            [
                item
                for item in referents
                if (type(item) is dict or type(item) is tuple) and not is_tracked(item)
            ]
            if (dict in kinds or tuple in kinds)
            else []
        )
        if not any(map(is_wanted, kinds)) and not any(map(is_wanted, set(map(type, get_referents(*nested))))):
            continue
        for holder in chunk:
            for referent in get_referents(holder):
                kind = type(referent)
                if is_wanted(kind):
                    keep(referent, holder)
                elif (kind is dict or kind is tuple) and not is_tracked(referent):
                    for inner in get_referents(referent):
                        if is_wanted(type(inner)):
                            keep(inner, referent)
    return found
