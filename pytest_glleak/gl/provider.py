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
        #: How many times the session context was made anew after foreign code broke it.
        self.contexts_recreated = 0
        self._lost: str | None = None

    @property
    def context(self) -> GLContext | None:
        """The session context if it exists already (never creates one)."""
        return self._context

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

    def settle(self) -> None:
        """Before a test's check: forget the extra contexts the test's own code destroyed (their objects
        died with them) and make the session context current (anew when foreign code broke it); the extra
        contexts still alive stay, so what is left in them is checked. Raises :class:`ContextUnavailable`
        as :meth:`make_current` does."""
        for context in list(self.extra):
            try:
                gone = bool(getattr(context, "destroyed", False)) or context.lost() is not None
            except Exception:
                gone = True
            if gone:
                self.extra.remove(context)
                for listener in self.on_destroy:
                    listener(context)
        if self._failure is None:  # once no new context could be made, that was said once
            self.make_current()

    def destroy_extra(self) -> None:
        """Destroy every extra context and make the session context current again (never raises
        for a session context that foreign code broke: see :meth:`make_current`)."""
        self._destroy_every_extra()
        if self._failure is None:  # once no new context could be made, that was said once
            self.make_current()

    def _destroy_every_extra(self) -> None:
        """Destroy the extra contexts, newest first, telling the listeners of each; never raises."""
        while self.extra:
            context = self.extra.pop()
            for listener in self.on_destroy:
                listener(context)
            try:
                context.destroy()
            except Exception:  # its display or window system may be gone with the session context's
                pass

    def make_current(self) -> None:
        """Make the session context current, making it anew when foreign code broke it.

        A context destroyed, or whose display (or glfw) was terminated, is noticed here: the ledger
        forgets what died with it (``on_destroy``), a new native context is made inside the same
        :class:`GLContext` object and registered again (``on_create``), and :meth:`take_lost` then
        tells what happened. A context that was merely released is made current again silently. Raises
        :class:`ContextUnavailable` only when no new context can be made.
        """
        context = self._context
        if context is None:
            return
        if self._failure is not None:
            raise self._failure
        reason = context.lost()
        if reason is None:
            try:
                context.make_current()
                return
            except ContextUnavailable as exc:
                reason = str(exc)
        for listener in self.on_destroy:
            listener(context)
        try:
            context.rebuild()
        except ContextUnavailable as exc:
            self._failure = ContextUnavailable(
                f"the session's GL context was destroyed or made unusable ({reason}) and no new one "
                f"could be made: {exc}"
            )
            self._lost = reason
            raise self._failure from exc
        self.contexts_recreated += 1
        self._lost = reason
        for listener in self.on_create:
            listener(context)

    def take_lost(self) -> str | None:
        """Why the session context was last made anew (an EGL error, "glfw was terminated"), once."""
        reason, self._lost = self._lost, None
        return reason

    def restore(self) -> list[int]:
        """Make the session context current and reset its state; returns drained GL errors."""
        if self._context is None:
            return []
        self.make_current()
        return self._context.reset_state()

    def close(self) -> None:
        """Destroy every context; never raises (it runs at the end of the session)."""
        self._destroy_every_extra()
        session = self._context
        self._context = None
        if session is None:
            return
        for listener in self.on_destroy:
            listener(session)
        try:
            if session.lost() is None:
                session.destroy()
        except Exception:
            pass
