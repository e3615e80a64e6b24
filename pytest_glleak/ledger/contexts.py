"""The ledger's registry of contexts and share groups, and the key slots they own.

Every known context has its own slot (per-context kinds) and shares its group's slot (shared kinds).
No pytest imports, no GL calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ContextEntry", "ContextRegistry"]


class ContextEntry:
    """One known context: native handle, share group (id and slot), own slot, how to make it current."""

    __slots__ = ("group", "group_slot", "handle", "make_current", "own_slot")

    def __init__(self, handle: int, group: int, group_slot: int, own_slot: int) -> None:
        self.handle = handle
        self.group = group
        self.group_slot = group_slot
        self.own_slot = own_slot
        self.make_current: Callable[[], Any] | None = None


class ContextRegistry:
    """Contexts by native handle, the members of each share group and each group's slot."""

    def __init__(self) -> None:
        self.entries: dict[int, ContextEntry] = {}
        self.groups: dict[int, set[int]] = {}
        self.group_slots: dict[int, int] = {}
        self._slot_count = 0

    def _new_slot(self) -> int:
        self._slot_count += 1
        return self._slot_count

    def register(self, handle: int, share_group: int | None) -> ContextEntry:
        """Add a context to ``share_group`` (None: a group of its own)."""
        group = handle if share_group is None else int(share_group)
        group_slot = self.group_slots.get(group)
        if group_slot is None:
            group_slot = self.group_slots[group] = self._new_slot()
        entry = ContextEntry(handle, group, group_slot, self._new_slot())
        self.entries[handle] = entry
        self.groups.setdefault(group, set()).add(handle)
        return entry

    def regroup(self, entry: ContextEntry, group: int) -> int | None:
        """Move a context to another share group; returns the old group's slot when that group died
        with the move (its objects now belong to the new group), else None."""
        old_group, old_slot = entry.group, entry.group_slot
        members = self.groups.get(old_group, set())
        members.discard(entry.handle)
        new_slot = self.group_slots.get(group)
        if new_slot is None:
            new_slot = self.group_slots[group] = self._new_slot()
        entry.group, entry.group_slot = group, new_slot
        self.groups.setdefault(group, set()).add(entry.handle)
        if members:
            return None  # the old group lives on in its other contexts, with its objects
        self.groups.pop(old_group, None)
        self.group_slots.pop(old_group, None)
        return old_slot

    def remove(self, handle: int) -> set[int]:
        """Forget a context; returns the slots that died with it (its own, its group's if it was the
        last member). Empty for an unknown handle."""
        entry = self.entries.pop(handle, None)
        if entry is None:
            return set()
        dead_slots = {entry.own_slot}
        members = self.groups.get(entry.group)
        if members is not None:
            members.discard(handle)
            if not members:
                del self.groups[entry.group]
                dead_slots.add(entry.group_slot)
                self.group_slots.pop(entry.group, None)
        return dead_slots
