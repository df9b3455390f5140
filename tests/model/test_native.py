"""NativeBooster predicts bit for bit what xgboost's Python package predicts, without importing it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sulfml.model import native
from sulfml.model.native import NativeBooster, NativeUnavailable
from sulfml.tracking.bundle import shipped_bundle_dir

xgb = pytest.importorskip("xgboost")



def _train(tmp_path: Path, **params) -> tuple[bytes, object, np.ndarray]:
    """A small regressor on noisy rows with missing values: its saved JSON bytes, its booster, its rows."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 12)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) * 2 - np.nan_to_num(X[:, 3]) + rng.normal(scale=0.1, size=200)
    model = xgb.XGBRegressor(n_estimators=30, max_depth=4, n_jobs=1, **params).fit(X, y)
    path = tmp_path / "model.json"
    model.get_booster().save_model(path)
    return path.read_bytes(), model.get_booster(), X


def _reference(booster, X: np.ndarray) -> np.ndarray:
    """What LoadedModel.predict computes today with the xgboost package."""
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    return booster.inplace_predict(X32, missing=np.nan, validate_features=False)


@pytest.mark.parametrize("objective", ["reg:squarederror", "reg:absoluteerror"])
def test_predictions_equal_xgboost_bit_for_bit(tmp_path, objective):
    data, booster, X = _train(tmp_path, objective=objective)
    model = NativeBooster.from_bytes(data)
    assert model.num_features == 12
    X_new = np.random.default_rng(1).normal(size=(500, 12))  # float64, converted like the reference
    X_new[::3, 5] = np.nan
    for rows in (X, X_new, X[:1]):
        got = model.predict(rows)
        assert got.dtype == np.float32
        assert np.array_equal(got, _reference(booster, rows))


def test_zero_rows_give_an_empty_array(tmp_path):
    data, booster, _ = _train(tmp_path)
    got = NativeBooster.from_bytes(data).predict(np.empty((0, 12), np.float32))
    assert got.dtype == np.float32 and got.shape == (0,)
    assert np.array_equal(got, _reference(booster, np.empty((0, 12), np.float32)))


@pytest.mark.parametrize("target", ["log10_sigma", "ea_eV"])
def test_shipped_bundle_models_equal_xgboost(target):
    path = shipped_bundle_dir() / target / "model.json"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    data = path.read_bytes()
    booster = xgb.Booster()
    booster.load_model(bytearray(data))
    model = NativeBooster.from_bytes(data)
    assert model.num_features == booster.num_features()
    X = np.random.default_rng(2).normal(size=(2000, model.num_features)).astype(np.float32)
    X[np.random.default_rng(3).random(X.shape) < 0.05] = np.nan
    assert np.array_equal(model.predict(X), _reference(booster, X))


def test_wrong_width_is_refused(tmp_path):
    data, _, _ = _train(tmp_path)
    model = NativeBooster.from_bytes(data)
    with pytest.raises(ValueError, match="12 features"):
        model.predict(np.zeros((3, 11), np.float32))
    with pytest.raises(ValueError, match="12 features"):
        model.predict(np.zeros(12, np.float32))


def test_garbage_bytes_raise_value_error_with_xgboost_reason():
    with pytest.raises(ValueError) as info:
        NativeBooster.from_bytes(b"not a model")
    with pytest.raises(xgb.core.XGBoostError) as reference:
        xgb.Booster().load_model(bytearray(b"not a model"))
    message = str(info.value)
    assert message and "\n" not in message
    # XGBoost's own first line, minus its timestamp
    assert message.split("] ", 1)[1] == str(reference.value).splitlines()[0].split("] ", 1)[1]


def test_predicting_does_not_import_xgboost_sklearn_or_scipy(tmp_path):
    data, booster, X = _train(tmp_path)
    np.save(tmp_path / "X.npy", X)
    code = (
        "import sys; from pathlib import Path; import numpy as np\n"
        "from sulfml.model.native import NativeBooster\n"
        f"folder = Path({str(tmp_path)!r})\n"
        "model = NativeBooster.from_bytes((folder / 'model.json').read_bytes())\n"
        "np.save(folder / 'native.npy', model.predict(np.load(folder / 'X.npy')))\n"
        "loaded = [m for m in ('xgboost', 'sklearn', 'scipy', 'pandas') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(native.__file__).resolve().parents[2])}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert np.array_equal(np.load(tmp_path / "native.npy"), _reference(booster, X))


@pytest.fixture
def fresh_library():
    """Forget the loaded library before and after the test, so a monkeypatched locator is consulted."""
    native._library.cache_clear()
    yield
    native._library.cache_clear()


def test_missing_library_raises_native_unavailable(tmp_path, monkeypatch, fresh_library):
    data, _, _ = _train(tmp_path)
    monkeypatch.setattr(native, "_library_candidates", lambda: [])
    with pytest.raises(NativeUnavailable, match="not found"):
        NativeBooster.from_bytes(data)


def test_unloadable_library_raises_native_unavailable(tmp_path, monkeypatch, fresh_library):
    fake = tmp_path / "libxgboost.so"
    fake.write_bytes(b"not a shared library")
    monkeypatch.setattr(native, "_library_candidates", lambda: [fake])
    with pytest.raises(NativeUnavailable, match="could not be loaded"):
        NativeBooster.from_bytes(b"{}")


def test_library_without_a_needed_function_raises_native_unavailable(tmp_path, monkeypatch, fresh_library):
    data, _, _ = _train(tmp_path)
    signatures = {**native._SIGNATURES, "XGBoosterNoSuchFunction": native._SIGNATURES["XGBoosterFree"]}
    monkeypatch.setattr(native, "_SIGNATURES", signatures)
    with pytest.raises(NativeUnavailable, match="XGBoosterNoSuchFunction"):
        NativeBooster.from_bytes(data)
