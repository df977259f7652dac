"""Compiled detectors' common shape, and large batches split over the cores.

Any jitted kernel of the form ``kernel(inputs, *arguments, out)`` that writes
``out[i]`` from ``inputs[i]`` alone can be split into contiguous row slices, one per
core (compiled kernels release the GIL, so threads run them); the calling thread
scores the first slice while the pool scores the others. ``CompiledRows`` is a
detector's hot-path form built from such a kernel and its one-row twin.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Below this many rows a second thread costs more than it saves (~2 us per row).
PARALLEL_MIN_ROWS = 2_048


def scoring_threads() -> int:
    """Threads a large batch is split over: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@functools.cache
def _executor() -> ThreadPoolExecutor:
    """The helper threads of split batches: one per core but the calling thread's.

    One pool for the process, whatever ``threads`` callers ask for: slices beyond
    its size queue (still correct), instead of a new pool per thread count.
    """
    return ThreadPoolExecutor(
        max_workers=max(1, scoring_threads() - 1), thread_name_prefix="scoring"
    )


def run_in_slices(
    kernel: Callable, inputs: np.ndarray, arguments: tuple, out: np.ndarray, threads: int | None
) -> None:
    """``kernel(inputs, *arguments, out)``, split over ``threads`` (default: the cores).

    Batches under ``PARALLEL_MIN_ROWS`` rows per thread stay on the calling thread.
    """
    n_rows = inputs.shape[0]
    threads = min(threads or scoring_threads(), max(1, n_rows // PARALLEL_MIN_ROWS))
    if threads == 1:
        kernel(inputs, *arguments, out)
        return
    # Contiguous slices, one per thread; this thread scores the first one.
    # Pool threads never submit work themselves, so the pool cannot deadlock.
    bounds = np.linspace(0, n_rows, threads + 1).astype(int)
    slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    pending = [
        _executor().submit(kernel, inputs[part], *arguments, out[part]) for part in slices[1:]
    ]
    kernel(inputs[slices[0]], *arguments, out[slices[0]])
    for job in pending:
        job.result()


class CompiledRows:
    """A fitted detector's arrays and two jitted kernels over them (``CompiledDetector``).

    ``rows(inputs, *arguments, out)`` scores a 2-D batch into ``out``;
    ``one(row, *arguments, *scratch)`` returns one row's score, where ``scratch`` is
    what ``scratch()`` allocates for it (work buffers). With ``n_features`` set, rows of
    another width are refused with a ``ValueError``.
    """

    def __init__(
        self, kernels: tuple[Callable, Callable], arguments: tuple, n_features: int | None = None
    ) -> None:
        self.rows_kernel, self.one_kernel = kernels
        self.arguments = arguments
        self.n_features = n_features

    def scratch(self) -> tuple:
        """Work buffers of one ``one`` call (none by default)."""
        return ()

    def score_batch(self, inputs: np.ndarray, threads: int | None = None) -> np.ndarray:
        inputs = np.ascontiguousarray(inputs, dtype=np.float64)
        if self.n_features is not None and (inputs.ndim != 2 or inputs.shape[1] != self.n_features):
            raise ValueError(
                f"expected {self.n_features} inputs per row, got an array of shape {inputs.shape}"
            )
        out = np.empty(inputs.shape[0])
        run_in_slices(self.rows_kernel, inputs, self.arguments, out, threads)
        return out

    def score_row(self, inputs: np.ndarray) -> float:
        if self.n_features is not None and inputs.shape != (self.n_features,):
            raise ValueError(
                f"expected {self.n_features} inputs, got an array of shape {inputs.shape}"
            )
        return self.one_kernel(inputs, *self.arguments, *self.scratch())
