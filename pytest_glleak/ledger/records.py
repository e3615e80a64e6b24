"""The ledger's records: :class:`LiveObject`, its states and the key layout of the live table.

A record's key packs (slot, namespace, name): the slot is the share group's (shared kinds) or the
context's own (per-context kinds), so one dict lookup finds an object in the right namespace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_glleak import sites
from pytest_glleak.ledger import registry
from pytest_glleak.ledger.args import storage_size

if TYPE_CHECKING:
    from pytest_glleak.findings import Frame

__all__ = [
    "DEFERRED",
    "LIVE",
    "NAMESPACE",
    "NAMESPACE_BITS",
    "NAME_BITS",
    "NAME_MASK",
    "PENDING",
    "RESERVABLE",
    "RESERVED",
    "SHARED",
    "SLOT_SHIFT",
    "LiveObject",
]

RESERVED = 0
LIVE = 1
PENDING = 2

NAME_BITS = 48
NAME_MASK = (1 << NAME_BITS) - 1
SLOT_SHIFT = NAME_BITS + 4
# Shaders and programs share one namespace; every other kind has its own.
NAMESPACE: dict[str, int] = {kind: index for index, kind in enumerate(registry.KINDS)}
NAMESPACE["shader"] = NAMESPACE["program"]
NAMESPACE_BITS = {kind: index << NAME_BITS for kind, index in NAMESPACE.items()}
SHARED = registry.SHARED_KINDS
# Kinds whose glGen'd names are objects only after a first bind (queries: first begin).
RESERVABLE = frozenset(
    (
        "texture",
        "buffer",
        "renderbuffer",
        "framebuffer",
        "vertex_array",
        "transform_feedback",
        "program_pipeline",
        "query",
    )
)
DEFERRED = frozenset(("shader", "program"))


class LiveObject:
    """One GL object the ledger saw created and not (yet) deleted.

    ``kind`` (one of :data:`GL_KINDS`), ``name`` (the GL name; a sync's pointer value), ``context`` (the
    share group for shared kinds, the context handle for per-context kinds), ``test`` and ``phase`` (who
    created it; phase ``"thread"`` for another thread's), ``owner`` (``"test"``, e.g. ``"fixture:module"``,
    or for another thread's objects the owner of the code that started the thread), ``thread`` (the
    creating thread's ident), ``site`` (raw frames, see
    :attr:`create_site`), ``label``, :attr:`nbytes` (estimated GPU bytes, computed from the storage calls'
    integer arguments only when asked), ``reserved_only``, ``pending``.
    """

    __slots__ = (
        "confirmed",
        "context",
        "key",
        "kind",
        "label",
        "owner",
        "phase",
        "seq",
        "site",
        "state",
        "storage",
        "test",
        "thread",
    )

    def __init__(
        self,
        key: int,
        kind: str,
        context: int,
        seq: int,
        test: str,
        phase: str,
        owner: str,
        site: sites.Site,
        state: int,
        thread: int = 0,
    ) -> None:
        self.key = key
        self.kind = kind
        self.context = context
        self.seq = seq
        self.test = test
        self.phase = phase
        self.owner = owner
        self.site = site
        self.state = state
        #: ``threading.get_ident()`` of the thread that created it.
        self.thread = thread
        #: None: never asked; True: glIs* answered; False: no context of its group could be made current.
        self.confirmed: bool | None = None
        self.label: str | None = None
        #: None, (spec, values) of the last immutable-storage call, {(target, level): (spec, values)}, or
        #: the bytes the driver reported (an object only the driver sweep found).
        self.storage: Any = None

    @property
    def name(self) -> int:
        """The GL name (for a sync, the GLsync pointer value)."""
        return self.key & NAME_MASK

    @property
    def nbytes(self) -> int:
        """Estimated GPU bytes, from the storage calls seen on this object."""
        storage = self.storage
        if storage is None:
            return 0
        if type(storage) is int:
            return storage
        if type(storage) is dict:
            return sum(storage_size(spec, values) for spec, values in storage.values())
        return storage_size(*storage)

    @property
    def reserved_only(self) -> bool:
        """Generated but never bound: a reserved name, not yet an object."""
        return self.state == RESERVED

    @property
    def pending(self) -> bool:
        """A shader or program flagged for deletion but still attached or in use."""
        return self.state == PENDING

    @property
    def create_site(self) -> list[Frame]:
        """The creation site, formatted now: ``[{"file", "line", "function"}]``, innermost first."""
        return sites.format_site(self.site)

    def __repr__(self) -> str:
        state = ("reserved", "live", "pending-delete")[self.state]
        return f"<LiveObject {self.kind} {self.name} ctx={self.context} {state} {self.test}:{self.phase}>"
