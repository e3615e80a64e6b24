"""The heap: decoded image buffers (Pillow images, NumPy arrays of pixels, Pillow's block counters) and
memory growth.

No pytest imports: the plugin glue calls :class:`ImageTracker` around each checked test, and
:class:`MemoryBaseline` (the ``memory_baseline`` fixture's type) for the growth rule.

How each kind of buffer is seen, and what it costs:

* **Pillow images** (every ``PIL.Image.Image`` that holds pixels, whatever made it: ``open`` + ``load``,
  ``new``, ``convert``, ``resize``, ``copy``, ``frombytes``, plugins, unpickling): the ``Image.im``
  property setter is wrapped, since every path that gives an image its pixel core goes through it
  (Pillow 13 assigns ``_im`` directly only to reset it, and in the CUR plugin). Wrapping
  ``Image.__init__`` instead would also see the blank temporaries ``Image.new`` makes, at twice the
  cost. ``ImageFile.__init__`` is wrapped too, so that a lazily opened file is recorded where it was
  opened and decoding it later does not make it new. Each record holds a weak reference whose callback
  drops the record when the image dies: the registry only ever holds live images, and "is anything
  from this test still alive?" is a walk over the records made since the test started.
* **Arrays made from an image by NumPy** (``np.asarray``, ``np.array``, ``np.asanyarray``,
  ``np.ascontiguousarray``, with or without ``dtype=``/``copy=``): NumPy tries an object's
  ``__array_struct__``, then ``__array_interface__``, then ``__array__``. While installed, the tracker
  adds ``Image.__array_struct__`` (always absent, but it notes the probe) and ``Image.__array__``; its
  ``__array_interface__`` wrapper raises AttributeError only for the lookup that follows a struct probe of
  the same image from the same instruction of the same frame, i.e. NumPy's own probe, so NumPy goes on to
  ``__array__``. Code that reads ``image.__array_interface__`` itself still gets Pillow's dict (its
  ``data`` a memoryview of Pillow's bytes). ``__array__`` builds exactly the array NumPy would make of
  Pillow's interface (same dtype, shape, values, read-only view) and copies it when NumPy asks for a copy,
  so ``np.array(Image.open(p))`` is seen too. A copy is tracked by a weak reference to itself; a view by
  a weak reference to the memoryview every array over those pixels shares (NumPy collapses view bases to
  it), which says exactly when the last such array is gone.
* **Buffers no Python object shows** (an ``ImagingCore`` kept through ``image.im`` without its Image,
  an ``ImageDraw`` outliving its image, a C extension): Pillow's arena counters
  (``Image.core.get_stats()``) give the number of pixel blocks in use; blocks in use after the test
  beyond those of tracked images are reported as ``pillow_blocks``.
* **Any large NumPy array and ``tobytes()`` output** (arrays NumPy makes from a tracked one:
  ``arr[::2].copy()``, ``arr.astype(...)``, arithmetic): NumPy's data allocations are invisible to the
  garbage collector and to cheap hooks, so they are found only in *precise* mode (tests explicitly
  marked ``no_image_leak``). With NumPy 1.22 or later, NumPy's data-memory handler
  (:mod:`pytest_glleak.heap.datamem`) is wrapped for that one test: every NumPy data allocation of
  ``min_bytes`` or more is recorded with its address and creation site, and the handler's reference
  count (each array holds one until its data is freed) says in O(1) whether any may still be alive;
  ``Image.tobytes`` results of that size are held until nobody else does
  (:mod:`pytest_glleak.heap.rawbytes`). Older NumPy falls back to ``tracemalloc`` for the test
  (:mod:`pytest_glleak.heap.precise`): blocks in NumPy's tracemalloc domain, or made by
  ``Image.tobytes``, still alive after the test are leaks.

The clean path never runs a garbage collection: only when a tracked object is still alive (or the
counters or traces say so) does :meth:`ImageTracker.leaks` collect and look again.
"""

from __future__ import annotations

from pytest_glleak.heap.growth import MeasureResult, MemoryBaseline, format_growth_table, steady_state_verdict
from pytest_glleak.heap.tracker import ImageTracker, TrackingToken

__all__ = [
    "ImageTracker",
    "MeasureResult",
    "MemoryBaseline",
    "TrackingToken",
    "format_growth_table",
    "steady_state_verdict",
]
