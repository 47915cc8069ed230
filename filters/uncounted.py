"""How the hot loops of the compiled kernels are compiled: without numba's reference counting.

Numba counts a reference every time compiled code binds an array, an inlined helper's
argument as much as a call's: an atomic increment and decrement each (``NRT_incref`` /
``NRT_decref``). Where a helper that takes arrays runs per token or per line, that is a large
share of the loop: a quarter of lid.176's time in fastText's kernel. :func:`uncounted`
compiles a loop with ``_nrt=False``. Such a loop

* allocates nothing: its Python caller passes every output and scratch array;
* calls only inlined helpers (lowered inside it, so without counting too);
* is called from Python only. Called from a compiled function that counts references, one
  corrupted the heap (``malloc(): unsorted double linked list corrupted``).
"""

from __future__ import annotations

import numba


def uncounted(**options):
    """``numba.njit`` for such a loop (cached on disk, GIL released), with ``options`` added."""
    return numba.njit(cache=True, nogil=True, _nrt=False, **options)
