"""Finding what a window left alive: the tracker's leaked records, large allocations and ``tobytes()``
results still held, and unexplained Pillow blocks, as :class:`~pytest_glleak.heap.holders.Suspect`\\ s
with their findings and what holds each.

Failure path only: :class:`~pytest_glleak.heap.tracker.ImageTracker` calls it once a collection has shown
that something is still alive. No pytest imports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_glleak import sites
from pytest_glleak.findings import LeakedImage
from pytest_glleak.heap.datamem import DataWindow
from pytest_glleak.heap.holders import ReferrerScans, Suspect, describe_holder, describe_referrers
from pytest_glleak.heap.pixels import core_of, image_bytes
from pytest_glleak.heap.precise import BYTES_HEADER, NUMPY_DOMAIN, TraceKey, claim_trace, traceback_frames
from pytest_glleak.heap.rawbytes import BytesWindow
from pytest_glleak.heap.records import TrackedBuffer
from pytest_glleak.heap.unseen import scan_unseen
from pytest_glleak.sites import format_site


def suspects_of(
    records: list[TrackedBuffer],
    traces: dict[TraceKey, int],
    unexplained_blocks: int,
    min_bytes: int,
    *,
    stack_depth: int,
    scans: ReferrerScans,
    known_cores: Callable[[], set[int]],
    data_window: DataWindow | None = None,
    bytes_window: BytesWindow | None = None,
    backing: Callable[[], set[int]] = set,
) -> list[Suspect]:
    """Suspects for the live ``records``, the held ``tobytes()`` results of ``bytes_window`` (see
    :func:`kept_bytes`; ``backing`` as there), then what a walk of the heap finds: the large allocations
    ``data_window`` saw (handler precise mode), the unclaimed large ``traces`` (tracemalloc precise
    mode), and the ``unexplained_blocks`` of Pillow's arena.

    ``known_cores`` gives the ids of the image cores of live tracked images (asked only when the heap is
    walked); findings keep ``stack_depth`` frames of their creation sites; ``scans`` bounds the referrer
    scans. Holders of images are described afterwards by :func:`describe_holders`.
    """
    suspects: list[Suspect] = []
    views: dict[int, Suspect] = {}
    claimed: set[int] = set()
    for record in records:
        obj = record.ref()
        if obj is None:
            continue
        if record.kind == "pil_image":
            finding: LeakedImage = {
                "kind": "pil_image",
                "mode": str(obj.mode),
                "shape": [int(obj.size[0]), int(obj.size[1])],
                "bytes": image_bytes(obj),
                "create_site": format_site(record.site)[:stack_depth],
                "held_by": None,
                "phase": record.phase,
            }
            suspects.append(Suspect("pil_image", obj, record, finding["bytes"], finding))
        else:
            finding = {
                "kind": "ndarray",
                "dtype": _dtype_name(record.typestr),
                "shape": list(record.shape),
                "bytes": record.nbytes,
                "create_site": format_site(record.site)[:stack_depth],
                "held_by": None,
                "phase": record.phase,
            }
            suspect = Suspect("ndarray", obj, record, record.nbytes, finding)
            views[id(obj)] = suspect
            suspects.append(suspect)
    window = data_window if data_window is not None and data_window.maybe_alive() else None
    if bytes_window is not None:
        kept_bytes(bytes_window, backing, suspects, stack_depth, scans)
    if views or traces or unexplained_blocks or window is not None:
        scan = scan_unseen(
            want_arrays=bool(views or traces or window is not None),
            want_cores=unexplained_blocks > 0,
            known_cores=known_cores(),
        )
        for array, holder in scan.arrays:
            owner = _owner(array)
            view_suspect = views.get(id(owner.base) if owner.base is not None else id(owner))
            if view_suspect is not None:
                view_suspect.obj = array
                if view_suspect.finding["held_by"] is None:
                    view_suspect.finding["held_by"] = describe_holder(holder, array, scans)
                continue
            if window is not None and owner.nbytes >= min_bytes:
                _claim_allocation(window, owner, array, holder, claimed, suspects, stack_depth, scans)
                continue
            if traces and owner.flags.owndata and owner.nbytes >= min_bytes:
                found = claim_trace(traces, owner)
                if found is not None:
                    suspects.append(
                        Suspect(
                            "ndarray",
                            owner,
                            None,
                            owner.nbytes,
                            {
                                "kind": "ndarray",
                                "dtype": str(owner.dtype),
                                "shape": [int(n) for n in owner.shape],
                                "bytes": int(owner.nbytes),
                                "create_site": traceback_frames(found, stack_depth),
                                "held_by": describe_holder(holder, array, scans),
                            },
                        )
                    )
        for (domain, size, traceback), count in traces.items():
            for _ in range(count):
                suspects.append(_unreferenced_trace(domain, size, traceback, stack_depth))
        if unexplained_blocks:
            holders = [
                f"an orphan image core ({core.mode} {core.size[0]}x{core.size[1]}, no Image wrapper) in "
                f"{describe_holder(holder, core, scans)}"
                for core, holder in scan.cores[:3]
            ]
            suspects.append(_pillow_blocks(unexplained_blocks, holders))
    return suspects


def _unreferenced_trace(domain: int, size: int, traceback: Any, stack_depth: int) -> Suspect:
    """A large traced block still alive that no gc-visible object refers to."""
    kind = "ndarray" if domain == NUMPY_DOMAIN else "bytes"
    return Suspect(
        kind,
        None,
        None,
        size,
        {
            "kind": kind,
            "shape": [size],
            "bytes": size,
            "create_site": traceback_frames(traceback, stack_depth),
            "held_by": "not found: no object the garbage collector sees refers to it",
        },
    )


def _pillow_blocks(count: int, holders: list[str]) -> Suspect:
    """Pillow arena blocks in use beyond those of tracked images, with the orphan cores seen holding some."""
    return Suspect(
        "pillow_blocks",
        None,
        None,
        0,
        {
            "kind": "pillow_blocks",
            "count": count,
            "create_site": [],
            "held_by": (
                "; ".join(holders)
                if holders
                else "not found: an image core kept by C code or an object gc cannot see"
            ),
        },
    )


def _claim_allocation(
    window: DataWindow,
    owner: np.ndarray[Any, Any],
    array: np.ndarray[Any, Any],
    holder: object,
    claimed: set[int],
    suspects: list[Suspect],
    stack_depth: int,
    scans: ReferrerScans,
) -> None:
    """Report ``owner`` if its data is a large allocation the test made under our handler."""
    if id(owner) in claimed:
        return
    found = window.owns(owner)
    if found is None:
        return
    _size, site, phase = found
    if phase.startswith("fixture:") or sites.made_at_import(site):
        return
    claimed.add(id(owner))
    suspects.append(
        Suspect(
            "ndarray",
            owner,
            None,
            int(owner.nbytes),
            {
                "kind": "ndarray",
                "dtype": str(owner.dtype),
                "shape": [int(n) for n in owner.shape],
                "bytes": int(owner.nbytes),
                "create_site": format_site(site)[:stack_depth],
                "held_by": describe_holder(holder, array, scans),
                "phase": phase,
            },
        )
    )


def kept_bytes(
    window: BytesWindow,
    backing: Callable[[], set[int]],
    suspects: list[Suspect],
    stack_depth: int,
    scans: ReferrerScans,
) -> None:
    """``Image.tobytes()`` results of the test still held by someone (handler mode), added to ``suspects``.

    ``backing`` gives the ids of the bytes objects behind the test's image-backed arrays
    (``np.asarray(image)``): those are reported once, as the array.
    """
    window.prune()
    if not window.kept:
        return
    backed = backing()
    for data, site, phase in window.kept:
        if id(data) in backed or phase.startswith("fixture:") or sites.made_at_import(site):
            continue
        size = len(data) + BYTES_HEADER
        suspects.append(
            Suspect(
                "bytes",
                data,
                None,
                size,
                {
                    "kind": "bytes",
                    "shape": [size],
                    "bytes": size,
                    "create_site": format_site(site)[:stack_depth],
                    "held_by": describe_referrers(data, scans, ignore=(suspects, *window.kept)),
                    "phase": phase,
                },
            )
        )


def backing_bytes(records: list[TrackedBuffer]) -> set[int]:
    """Ids of the objects behind the memoryviews of ``records``' image-backed array views."""
    backing = set()
    for record in records:
        view = record.ref() if record.kind == "ndarray" and not record.owned else None
        if type(view) is memoryview:
            backing.add(id(view.obj))
    return backing


def live_cores(records: list[TrackedBuffer]) -> set[int]:
    """Ids of the pixel cores of the live Pillow images among ``records``."""
    cores = set()
    for record in records:
        image = record.ref() if record.kind == "pil_image" else None
        core = core_of(image)
        if core is not None:
            cores.add(id(core))
    return cores


def describe_holders(suspects: list[Suspect], scans: ReferrerScans) -> None:
    """Fill in what holds each leaked Pillow image not described yet (a few referrer hops)."""
    for suspect in suspects:
        if suspect.finding.get("held_by") is None and suspect.kind == "pil_image":
            suspect.finding["held_by"] = describe_referrers(suspect.obj, scans, ignore=(suspects,))


def _dtype_name(typestr: str) -> str:
    try:
        return str(np.dtype(typestr))
    except TypeError:
        return typestr


def _owner(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array
