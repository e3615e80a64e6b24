"""One lazily created context per process, plus the extra contexts tests ask for."""

from __future__ import annotations

from collections.abc import Callable

from pytest_glleak.gl import ContextUnavailable, GLContext, create_context


class ContextProvider:
    """Creates the session context on first use, remembers a failure, and tracks extra contexts."""

    def __init__(
        self,
        backend: str,
        profile: str,
        version: tuple[int, int] | None,
        size: tuple[int, int],
    ) -> None:
        self.backend = backend
        self.profile = profile
        self.version = version
        self.size = size
        self._context: GLContext | None = None
        self._failure: ContextUnavailable | None = None
        self.extra: list[GLContext] = []
        #: Called with each context this provider creates or destroys (the ledger listens).
        self.on_create: list[Callable[[GLContext], object]] = []
        self.on_destroy: list[Callable[[GLContext], object]] = []

    @property
    def context(self) -> GLContext | None:
        """The session context if it exists already (never creates one)."""
        return self._context

    @property
    def failure(self) -> ContextUnavailable | None:
        return self._failure

    def get(self) -> GLContext:
        """The session context, created on first call; raises the (cached) reason it cannot be."""
        if self._context is not None:
            return self._context
        if self._failure is not None:
            raise self._failure
        try:
            context = create_context(self.backend, profile=self.profile, version=self.version, size=self.size)
        except ContextUnavailable as exc:
            self._failure = exc
            raise
        self._context = context
        for listener in self.on_create:
            listener(context)
        return context

    def create_extra(
        self,
        *,
        share_with: GLContext | None = None,
        profile: str | None = None,
        version: tuple[int, int] | None = None,
    ) -> GLContext:
        """A further context, current on return; destroyed by :meth:`destroy_extra`."""
        backend = self.backend
        if self._context is not None and share_with is None:
            backend = "glfw" if self._context.backend == "glfw" else "egl"
        context = create_context(
            backend,
            profile=profile or self.profile,
            version=version if version is not None else (None if profile else self.version),
            size=self.size,
            share_with=share_with,
        )
        self.extra.append(context)
        for listener in self.on_create:
            listener(context)
        return context

    def destroy_extra(self) -> None:
        """Destroy every extra context and make the session context current again."""
        while self.extra:
            context = self.extra.pop()
            for listener in self.on_destroy:
                listener(context)
            context.destroy()
        if self._context is not None:
            self._context.make_current()

    def restore(self) -> list[int]:
        """Make the session context current and reset its state; returns drained GL errors."""
        if self._context is None:
            return []
        self._context.make_current()
        return self._context.reset_state()

    def close(self) -> None:
        self.destroy_extra()
        if self._context is not None:
            for listener in self.on_destroy:
                listener(self._context)
            self._context.destroy()
            self._context = None
