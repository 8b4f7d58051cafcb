"""asv benchmarks: fastcorr.dask on the threaded scheduler, beside dask-image and
fastcorr.ndimage on the same array in memory.

The array and kernel are ``python -m fastcorr bench --only dask``'s (src/fastcorr/_bench/
chunked.py): 8192 x 8192 float32 uniform random numbers, a 7 x 7 kernel, chunks of 1024 and
2048, ``.sum()`` of the result; the threaded scheduler on all usable CPUs (the bench's cluster
and zarr parts, which start worker processes and write gigabytes, stay out of asv).  A build
without fastcorr.dask, or a machine without dask (or dask-image for its class), skips.
Correctness is checked by the benchmark, not here: asv tracks speed across commits.
"""
import numpy as np

CHUNKS = [1024, 2048]


def _dask():
    try:
        import dask.array as da
        from fastcorr import dask as fcd
        from fastcorr._bench import chunked
    except ImportError as exc:  # no dask here, or a build older than the face
        raise NotImplementedError(f"fastcorr.dask is not available ({exc})")
    return da, fcd, chunked


class _Chunked:
    params = [CHUNKS]
    param_names = ["chunks"]
    timeout = 120

    def setup(self, chunks):
        self.da, self.fcd, chunked = _dask()
        rng = np.random.default_rng(0)
        self.array = rng.random((chunked.SIDE, chunked.SIDE), dtype=np.float32)
        self.weights = chunked._weights()
        self.x = self.da.from_array(self.array, chunks=chunks)


class DaskThreaded(_Chunked):
    """fastcorr.dask.correlate on the threaded scheduler, and fastcorr.ndimage in memory."""

    def time_fastcorr_dask(self, chunks):
        self.fcd.correlate(self.x, self.weights).sum().compute(scheduler="threads")

    def time_fastcorr_ndimage_in_memory(self, chunks):
        from fastcorr import ndimage
        ndimage.correlate(self.array, self.weights).sum()


class DaskImageThreaded(_Chunked):
    """dask_image.ndfilters.correlate (map_overlap over scipy.ndimage), threaded scheduler."""

    def setup(self, chunks):
        try:
            import dask_image.ndfilters
        except ImportError as exc:
            raise NotImplementedError(f"dask-image is not installed ({exc})")
        super().setup(chunks)
        self.correlate = dask_image.ndfilters.correlate

    def time_dask_image(self, chunks):
        self.correlate(self.x, self.weights).sum().compute(scheduler="threads")
