"""The recording handlers, built from the generated registry: create, delete, storage, label, contexts.

Each handler runs after its GL call returned, on every call of a hooked entry point: the hot path. They
are closures over locals (the ledger's bound methods, the registry's parameter positions), so a call
does no lookups beyond what it must.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

import numpy

from pytest_glleak.ledger import registry
from pytest_glleak.ledger.args import StorageSpec, as_count, as_name, as_names, as_pointer, label_text
from pytest_glleak.ledger.gl_functions import bound_object
from pytest_glleak.ledger.intercept import Handler
from pytest_glleak.ledger.records import (
    DEFERRED,
    LIVE,
    NAME_MASK,
    NAMESPACE_BITS,
    RESERVABLE,
    RESERVED,
    SHARED,
    SLOT_SHIFT,
)

if TYPE_CHECKING:
    from pytest_glleak.ledger.core import Ledger

__all__ = ["build_handlers"]

_ndarray = numpy.ndarray


def build_handlers(ledger: Ledger) -> dict[str, Handler]:
    """A handler for every hooked entry point, recording into ``ledger``."""
    handlers: dict[str, Handler] = {}
    for function_name, (kind, shape, count_index, names_index) in registry.CREATE.items():
        handlers[function_name] = create_handler(ledger, function_name, kind, shape, count_index, names_index)
    for function_name, (kind, shape, count_index, names_index) in registry.DELETE.items():
        handlers[function_name] = delete_handler(ledger, kind, shape, count_index, names_index)
    for function_name, (kind, positions) in registry.STORAGE.items():
        handlers[function_name] = storage_handler(ledger, function_name, kind, positions)
    for function_name, indices in registry.LABEL.items():
        handlers[function_name] = label_handler(ledger, indices)
    handlers.update(context_handlers(ledger))
    return handlers


def create_handler(
    ledger: Ledger, function_name: str, kind: str, shape: str, count_index: int, names_index: int
) -> Handler:
    if shape == "array":
        return create_array_handler(ledger, function_name, kind, count_index, names_index)
    record = ledger.recorder(kind, LIVE)
    if shape == "range":

        def on_create_range(args: tuple[Any, ...], result: Any) -> None:
            base = as_name(result)
            if base:
                record(range(base, base + as_count(args[count_index])))

        return on_create_range

    def on_create_return(args: tuple[Any, ...], result: Any) -> None:
        record((as_pointer(result) if kind == "sync" else as_name(result),))

    return on_create_return


def create_array_handler(
    ledger: Ledger, function_name: str, kind: str, count_index: int, names_index: int
) -> Handler:
    """glGen*/glCreate*, the hottest handler: the names are read without the generic normaliser for the
    shape PyOpenGL passes (a NumPy array and an int count; one name read as a scalar), then recorded by
    the ledger's recorder of the kind."""
    state = RESERVED if function_name.startswith("glGen") and kind in RESERVABLE else LIVE
    record = ledger.recorder(kind, state)
    ndarray = _ndarray

    def on_create_array(args: tuple[Any, ...], result: Any) -> None:
        value = args[names_index]
        count = args[count_index]
        if type(value) is ndarray and type(count) is int:
            if count == 1 and value.size:
                record((value.item(0),))
                return
            names: list[int] = value.ravel().tolist()[:count] if count >= 0 else []
        else:
            names = as_names(value, as_count(count))
        record(names)

    return on_create_array


def delete_handler(ledger: Ledger, kind: str, shape: str, count_index: int, names_index: int) -> Handler:
    remove = ledger._remove
    if shape == "array":
        if kind not in DEFERRED:
            return delete_array_handler(ledger, kind, count_index, names_index)

        def on_delete_array(args: tuple[Any, ...], result: Any) -> None:
            if len(args) == 1:  # glDeleteTextures(ids) through a wrapper that passed only the array
                remove(kind, as_names(args[0], -1))
            else:
                remove(kind, as_names(args[names_index], as_count(args[count_index])))

        return on_delete_array
    if shape == "range":

        def on_delete_range(args: tuple[Any, ...], result: Any) -> None:
            base = as_name(args[names_index])
            if base:
                remove(kind, range(base, base + as_count(args[count_index])))

        return on_delete_range

    def on_delete_single(args: tuple[Any, ...], result: Any) -> None:
        value = args[names_index]
        remove(kind, (as_pointer(value) if kind == "sync" else as_name(value),))

    return on_delete_single


def delete_array_handler(ledger: Ledger, kind: str, count_index: int, names_index: int) -> Handler:
    """glDelete* of every kind but shaders and programs (never deferred): :meth:`Ledger._remove`
    inlined, names read directly from the ctypes array PyOpenGL passes."""
    shared = kind in SHARED
    namespace_bits = NAMESPACE_BITS[kind]
    live = ledger._live
    deleted = ledger._deleted
    contexts = ledger._contexts
    register = ledger._register
    current = ledger._current
    c_array = ctypes.Array

    def on_delete_array(args: tuple[Any, ...], result: Any) -> None:
        if len(args) == 1:  # glDeleteTextures(ids) through a wrapper that passed only the array
            names = as_names(args[0], -1)
        else:
            value = args[names_index]
            count = args[count_index]
            if type(count) is int and count >= 0 and isinstance(value, c_array):
                names = value[:count]
            else:
                names = as_names(value, as_count(count))
        handle = current() or 0
        entry = contexts.get(handle) or register(handle, None)
        base = namespace_bits | ((entry.group_slot if shared else entry.own_slot) << SLOT_SHIFT)
        for name in names:
            if name and live.pop(base | (name & NAME_MASK), None) is not None:
                deleted[kind] += 1

    return on_delete_array


def storage_handler(ledger: Ledger, function_name: str, kind: str, positions: dict[str, int]) -> Handler:
    spec = StorageSpec(kind, positions)
    extract = spec.extract
    is_image = spec.is_image
    target_at, level_at = spec.target_at, spec.level_at
    target_index = positions.get("target", -1)
    object_index = positions.get("object", -1)
    binding_queries = registry.BINDING_QUERY.get(kind, {})
    namespace_bits = NAMESPACE_BITS[kind]
    contexts = ledger._contexts
    register = ledger._register
    live = ledger._live
    current = ledger._current

    def on_storage(args: tuple[Any, ...], result: Any) -> None:
        if object_index >= 0:
            name = args[object_index]
            if type(name) is not int:
                name = as_name(name)
        else:
            query = binding_queries.get(args[target_index])
            if query is None:
                return  # a proxy target (no storage) or one the registry does not know
            name = bound_object(query)
        if not name:
            return
        handle = current() or 0
        entry = contexts.get(handle) or register(handle, None)
        record = live.get((name & NAME_MASK) | namespace_bits | (entry.group_slot << SLOT_SHIFT))
        if record is None:
            return
        record.state = LIVE
        values = extract(args)
        if is_image:
            levels = record.storage
            if type(levels) is not dict:
                levels = record.storage = {}
            levels[(values[target_at], values[level_at])] = (spec, values)
        else:
            record.storage = (spec, values)

    return on_storage


def label_handler(ledger: Ledger, indices: tuple[int, int, int, int]) -> Handler:
    identifier_index, object_index, length_index, label_index = indices

    def on_label(args: tuple[Any, ...], result: Any) -> None:
        if identifier_index >= 0:
            kind = registry.LABEL_KINDS.get(int(args[identifier_index]))
            name = as_name(args[object_index])
        else:
            kind, name = "sync", as_pointer(args[object_index])
        if kind is None or not name:
            return
        record = ledger._live.get(ledger._key(kind, name, ledger._entry()))
        if record is not None:
            record.label = label_text(args[label_index], as_name(args[length_index]))

    return on_label


def context_handlers(ledger: Ledger) -> dict[str, Handler]:
    def created(share_index: int, egl: bool = False) -> Handler:
        def on_context_created(args: tuple[Any, ...], result: Any) -> None:
            handle = as_pointer(result)
            if not handle:
                return
            share = as_pointer(args[share_index]) if share_index < len(args) else 0
            group = None
            if share:
                known = ledger._contexts.get(share) or ledger._register(share, None)
                group = known.group
            ledger.context_created(handle, group)
            if egl:
                ledger._egl_displays[handle] = as_pointer(args[0])

        return on_context_created

    def destroyed(args: tuple[Any, ...], result: Any) -> None:
        ledger._egl_displays.pop(as_pointer(args[1]), None)
        ledger.context_destroyed(as_pointer(args[1]))

    def terminated(args: tuple[Any, ...], result: Any) -> None:
        # eglTerminate destroys every context of the display: what they held died with them.
        display = as_pointer(args[0])
        if not result or not display:
            return
        for handle, owner in list(ledger._egl_displays.items()):
            if owner == display:
                del ledger._egl_displays[handle]
                ledger.context_destroyed(handle)

    return {
        "eglCreateContext": created(2, egl=True),
        "eglDestroyContext": destroyed,
        "eglTerminate": terminated,
        "glXCreateContext": created(2),
        "glXCreateNewContext": created(3),
        "glXCreateContextAttribsARB": created(2),
        "glXDestroyContext": destroyed,
    }
