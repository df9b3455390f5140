"""XGBoost models evaluated through XGBoost's C library with `ctypes`, without importing the `xgboost` package.

`import xgboost` takes about 1.5 s here because the package imports scikit-learn and SciPy; the shared library
it wraps loads in a few milliseconds. Large prediction batches therefore call the library directly: the same
calls `xgboost.Booster.load_model` and `Booster.inplace_predict` make, so the predictions are the same
numbers. tests/model/test_native.py checks them bit for bit against the Python package.

When the library cannot be found or lacks a function, `NativeUnavailable` is raised and callers fall back to
the `xgboost` package.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import json
import sys
import weakref
from pathlib import Path

import numpy as np

from sulfml.cpus import available_cpus
from sulfml.errors import InternalError

_ulong = ctypes.c_uint64  # XGBoost's bst_ulong
_handle = ctypes.c_void_p
_int = ctypes.c_int

# Each function's return type and argument types, from xgboost's c_api.h; every function but the first returns
# 0 on success and -1 on failure, with the reason in XGBGetLastError.
_SIGNATURES = {
    "XGBGetLastError": (ctypes.c_char_p, []),
    "XGBoosterCreate": (_int, [ctypes.POINTER(_handle), _ulong, ctypes.POINTER(_handle)]),
    "XGBoosterFree": (_int, [_handle]),
    "XGBoosterLoadModelFromBuffer": (_int, [_handle, ctypes.c_void_p, _ulong]),
    "XGBoosterSetParam": (_int, [_handle, ctypes.c_char_p, ctypes.c_char_p]),
    "XGBoosterGetNumFeature": (_int, [_handle, ctypes.POINTER(_ulong)]),
    "XGBoosterPredictFromDense": (_int, [
        _handle,                                  # booster
        ctypes.c_char_p,                          # JSON __array_interface__ of the rows
        ctypes.c_char_p,                          # JSON prediction config
        _handle,                                  # proxy DMatrix carrying a base margin; NULL for none
        ctypes.POINTER(ctypes.POINTER(_ulong)),   # out: shape of the result
        ctypes.POINTER(_ulong),                   # out: number of dimensions
        ctypes.POINTER(ctypes.POINTER(ctypes.c_float)),  # out: results, in a buffer the booster owns
    ]),
}

# What Booster.inplace_predict(X, missing=np.nan, predict_type="value") sends: transformed values from all
# trees, NaN as the missing-value marker, no caching (json.dumps writes NaN, which XGBoost's parser reads).
_PREDICT_CONFIG = json.dumps({"type": 0, "training": False, "iteration_begin": 0, "iteration_end": 0,
                              "missing": float("nan"), "strict_shape": False, "cache_id": 0}).encode()


class NativeUnavailable(InternalError):
    """XGBoost's shared library, or a function in it, cannot be found or loaded."""


def _library_names() -> list[str]:
    """The file names the library has on this platform, as xgboost's libpath.py lists them."""
    if sys.platform == "win32":
        return ["xgboost.dll"]
    if sys.platform == "darwin":
        return ["libxgboost.dylib"]
    if sys.platform == "cygwin":
        return ["cygxgboost.dll"]
    return ["libxgboost.so"]


def _library_candidates() -> list[Path]:
    """Existing library files, most likely first: in the installed package (`lib/`), next to an editable
    install's source tree, then in the Python prefix (conda installs it there). Mirrors xgboost's libpath.py
    without importing the package."""
    dirs: list[Path] = []
    spec = importlib.util.find_spec("xgboost")  # locates the package without importing it
    for package in (spec.submodule_search_locations or []) if spec else []:
        dirs += [Path(package) / "lib", Path(package).parent.parent / "lib"]
    prefix = Path(sys.base_prefix)
    dirs.append(prefix / "lib")
    if sys.platform == "win32":
        dirs += [prefix / "bin", prefix / "Library" / "bin", prefix / "Library" / "lib"]
    return [d / name for d in dirs for name in _library_names() if (d / name).is_file()]


@functools.cache
def _library() -> ctypes.CDLL:
    """XGBoost's shared library with the functions used here typed; loaded once per process.

    Raises:
        NativeUnavailable: no candidate file loads, or one lacks a function used here.
    """
    candidates = _library_candidates()
    errors = []
    for path in candidates:
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:  # e.g. the OpenMP runtime it links against is missing
            errors.append(f"{path}: {exc}")
            continue
        try:
            for name, (restype, argtypes) in _SIGNATURES.items():
                function = getattr(lib, name)
                function.restype, function.argtypes = restype, argtypes
        except AttributeError as exc:  # too old a library
            errors.append(f"{path}: {exc}")
            continue
        return lib
    if not candidates:
        raise NativeUnavailable(f"XGBoost's shared library ({', '.join(_library_names())}) was not found")
    raise NativeUnavailable("XGBoost's shared library could not be loaded: " + "; ".join(errors))


def _check(lib: ctypes.CDLL, status: int, error: type[Exception] = RuntimeError) -> None:
    """Raise `error` with the first line of XGBoost's message if a C call failed."""
    if status != 0:
        message = (lib.XGBGetLastError() or b"").decode("utf-8", "replace").strip()
        raise error(message.splitlines()[0] if message else "XGBoost reported an error without a message")


class NativeBooster:
    """A loaded XGBoost model, predicting like `xgboost.Booster.inplace_predict` without the Python package."""

    def __init__(self, lib: ctypes.CDLL, handle: ctypes.c_void_p, num_features: int) -> None:
        """Take ownership of a loaded booster handle; use `from_bytes` to make one."""
        self._lib = lib
        self._handle = handle
        self._num_features = num_features
        # A finalizer rather than __del__: it runs once, also at exit, and holds no reference to self.
        weakref.finalize(self, lib.XGBoosterFree, handle)

    @classmethod
    def from_bytes(cls, data: bytes) -> NativeBooster:
        """Load a model from the bytes of an XGBoost model file (JSON or UBJSON), already checked by the caller.

        Raises:
            NativeUnavailable: XGBoost's library cannot be loaded.
            ValueError: XGBoost refuses the bytes; the message is the first line of XGBoost's reason.
        """
        data = bytes(data)  # a bytearray or memoryview too; no copy when it already is bytes
        lib = _library()
        handle = _handle()
        _check(lib, lib.XGBoosterCreate(None, 0, ctypes.byref(handle)))
        try:
            _check(lib, lib.XGBoosterLoadModelFromBuffer(handle, data, len(data)), ValueError)
            # Never more threads than this process may use (XGBoost would take every core it sees).
            _check(lib, lib.XGBoosterSetParam(handle, b"nthread", str(available_cpus()).encode()))
            features = _ulong()
            _check(lib, lib.XGBoosterGetNumFeature(handle, ctypes.byref(features)))
        except BaseException:
            lib.XGBoosterFree(handle)
            raise
        return cls(lib, handle, int(features.value))

    @property
    def num_features(self) -> int:
        """How many feature columns the model takes."""
        return self._num_features

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions for the rows of `X` (NaN = missing), computed from `X` as C-contiguous float32.

        Returns:
            float32 predictions, bit-identical to `Booster.inplace_predict(X32, missing=np.nan)`; one value per
            row for a single-target regression model.

        Raises:
            ValueError: `X` is not 2-D with `num_features` columns.
            RuntimeError: XGBoost reports a failure (its message's first line).
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self._num_features:
            raise ValueError(f"expected rows of {self._num_features} features, got shape {X.shape}")
        if len(X) == 0:
            return np.empty(0, np.float32)
        # The same JSON array interface xgboost's Python package sends; XGBoost reads the rows in place.
        interface = json.dumps(X.__array_interface__).encode()
        shape, dims = ctypes.POINTER(_ulong)(), _ulong()
        result = ctypes.POINTER(ctypes.c_float)()
        _check(self._lib, self._lib.XGBoosterPredictFromDense(
            self._handle, interface, _PREDICT_CONFIG, None, ctypes.byref(shape), ctypes.byref(dims),
            ctypes.byref(result)))
        out_shape = tuple(int(shape[i]) for i in range(dims.value))
        # Copy: the buffer belongs to the booster and is overwritten by its next prediction.
        return np.ctypeslib.as_array(result, shape=out_shape).copy()
