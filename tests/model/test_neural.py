"""The neural composition model: a tiny fit, its NumPy forward pass against torch, and the laws it keeps."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.errors import BundleError, InputError
from sulfml.model.neural import NetworkParams, fit_network, train
from sulfml.model.neural_forward import NetworkWeights, encode, forward, fraction_encoding, predict

# A handful of compositions with made-up targets: enough for the network to have something to fit.
COMPOSITIONS = [
    {"Li": 3, "P": 1, "S": 4}, {"Li": 7, "P": 3, "S": 11}, {"Li": 6, "P": 1, "S": 5, "Cl": 1},
    {"Li": 10, "Ge": 1, "P": 2, "S": 12}, {"Li": 7, "La": 3, "Zr": 2, "O": 12}, {"Li": 3, "N": 1},
    {"Li": 2, "S": 1}, {"Li": 1, "I": 1}, {"Li": 6, "P": 1, "S": 5, "Br": 1}, {"Na": 3, "P": 1, "S": 4},
    {"Li": 3, "Y": 1, "Cl": 6}, {"Li": 0.33, "La": 0.56, "Ti": 1, "O": 3},
]
TARGETS = np.array([-3.5, -2.0, -2.7, -1.9, -3.4, -3.0, -9.0, -6.5, -2.9, -4.0, -3.3, -3.0])
STATE = np.eye(2)[np.arange(len(COMPOSITIONS)) % 2]  # a two-column context, as the state one-hot would be
TINY = NetworkParams(d_model=16, n_heads=2, n_layers=1, d_ff=32, epochs=8, batch_size=4, n_freq=3)


@pytest.fixture(scope="module")
def tiny_fit():
    pytest.importorskip("torch")
    return fit_network(COMPOSITIONS, TARGETS, TINY, seed=3, context=STATE, context_names=("a", "b"))


def test_a_fit_exports_weights_that_predict_what_torch_predicts(tiny_fit, tmp_path):
    # the training process compared its own torch answer with the NumPy forward; so does this test, through a file
    path = tmp_path / "net.npz"
    tiny_fit.weights.save(path)
    loaded = NetworkWeights.load(path)
    ours = predict(loaded, COMPOSITIONS, STATE)
    np.testing.assert_allclose(ours, tiny_fit.torch_train_pred, rtol=0, atol=1e-5)
    assert loaded.meta["export_max_abs_diff"] < 1e-5
    assert loaded.context == ("a", "b") and loaded.meta["n_train"] == len(TARGETS)
    # the network learned something: closer to the targets than their mean is
    assert np.mean(np.abs(ours - TARGETS)) < np.mean(np.abs(TARGETS - TARGETS.mean()))


def test_training_is_reproducible_with_its_seed_and_moves_with_another(tiny_fit):
    # in this process (`train`, what the fit's process runs): the same seed gives the same network
    pytest.importorskip("torch")
    enc = encode(COMPOSITIONS)
    again = train(enc, TARGETS, TINY, seed=3, context=STATE, context_names=("a", "b"))[1]
    np.testing.assert_array_equal(again, tiny_fit.torch_train_pred)
    other = train(enc, TARGETS, TINY, seed=4, context=STATE, context_names=("a", "b"))[1]
    assert not np.allclose(other, tiny_fit.torch_train_pred)


def test_the_numpy_forward_equals_torch_on_unseen_compositions(tmp_path):
    # In this process, so that torch's module can be run on compositions the fit never saw (and of another width).
    torch = pytest.importorskip("torch")
    from sulfml.model.neural import _module

    weights, _ = train(encode(COMPOSITIONS), TARGETS, TINY, seed=1, context=STATE, context_names=("a", "b"))
    net = _module(2, TINY)
    state = {k: torch.as_tensor(v) for k, v in weights.arrays.items() if k != "element_embedding"}
    net.load_state_dict({**net.state_dict(), **state})
    # the export keeps the learned embedding as its table (the projection of the element properties)
    table = torch.as_tensor(weights.arrays["element_embedding"])
    net.element_embedding = lambda: table
    net.eval()
    unseen = [{"Li": 5.4, "P": 1, "S": 4.4, "Cl": 1.6}, {"Li": 1}, {"Li": 4, "Ge": 1, "S": 4}]
    ctx = np.eye(2)[[0, 1, 0]]
    enc = encode(unseen)
    with torch.no_grad():
        f32 = torch.float32
        x = net(torch.as_tensor(enc.index), torch.as_tensor(fraction_encoding(enc.fraction, TINY.n_freq), dtype=f32),
                torch.as_tensor(np.where(enc.present, enc.fraction, 0.0), dtype=f32),
                torch.as_tensor(np.where(enc.present, 0.0, -np.inf)[:, None, None, :], dtype=f32),
                torch.as_tensor(ctx, dtype=f32))
    expected = x.double().numpy() * weights.meta["y_scale"] + weights.meta["y_center"]
    np.testing.assert_allclose(forward(weights, enc, ctx), expected, rtol=0, atol=1e-5)


def test_the_forward_module_imports_no_torch():
    code = ("import sys, sulfml.model.neural_forward, sulfml.model.neural; "
            "print(json.dumps(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def _random_weights(seed: int, context: int = 0) -> NetworkWeights:
    """Weights of the forward's shapes, drawn at random: the laws below hold for any weights."""
    rng = np.random.default_rng(seed)
    d, ff, n_freq = 8, 12, 3
    arrays = {"element_embedding": rng.normal(size=(118, d)),
              "fraction.weight": rng.normal(size=(d, 4 * n_freq + 2)), "fraction.bias": rng.normal(size=d),
              "norm.weight": rng.normal(size=d), "norm.bias": rng.normal(size=d),
              "head1.weight": rng.normal(size=(d, d + context)), "head1.bias": rng.normal(size=d),
              "head2.weight": rng.normal(size=(1, d)), "head2.bias": rng.normal(size=1)}
    for i in range(2):
        p = f"layers.{i}"
        arrays |= {f"{p}.norm1.weight": rng.normal(size=d), f"{p}.norm1.bias": rng.normal(size=d),
                   f"{p}.norm2.weight": rng.normal(size=d), f"{p}.norm2.bias": rng.normal(size=d),
                   f"{p}.qkv.weight": rng.normal(size=(3 * d, d)), f"{p}.qkv.bias": rng.normal(size=3 * d),
                   f"{p}.out.weight": rng.normal(size=(d, d)), f"{p}.out.bias": rng.normal(size=d),
                   f"{p}.ff1.weight": rng.normal(size=(ff, d)), f"{p}.ff1.bias": rng.normal(size=ff),
                   f"{p}.ff2.weight": rng.normal(size=(d, ff)), f"{p}.ff2.bias": rng.normal(size=d)}
    meta = {"format": "sulfml-neural-1", "n_layers": 2, "n_heads": 2, "n_freq": n_freq, "y_center": -4.0,
            "y_scale": 2.0, "context": [f"c{i}" for i in range(context)]}
    return NetworkWeights({k: v.astype(np.float32) for k, v in arrays.items()}, meta)


ELEMENTS = ["Li", "P", "S", "Cl", "Br", "Ge", "Si", "O", "La", "Zr", "I", "N"]
compositions = st.dictionaries(st.sampled_from(ELEMENTS), st.floats(0.01, 20.0), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(comp=compositions, seed=st.integers(0, 3), order=st.randoms(use_true_random=False),
       scale=st.floats(0.01, 100.0))
def test_the_prediction_ignores_element_order_and_scale(comp, seed, order, scale):
    weights = _random_weights(seed)
    items = list(comp.items())
    order.shuffle(items)
    shuffled = dict(items)
    scaled = {el: x * scale for el, x in comp.items()}
    base, perm, times = predict(weights, [comp, shuffled, scaled])
    assert perm == pytest.approx(base, abs=1e-9)
    assert times == pytest.approx(base, abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(comps=st.lists(compositions, min_size=1, max_size=6), seed=st.integers(0, 3))
def test_a_row_predicts_the_same_alone_or_padded_in_a_batch(comps, seed):
    # a batch pads every row to its widest: the padding must change nothing
    weights = _random_weights(seed, context=1)
    ctx = np.arange(len(comps), dtype=float)[:, None]
    together = predict(weights, comps, ctx)
    alone = [predict(weights, [c], ctx[i:i + 1])[0] for i, c in enumerate(comps)]
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-9)


def test_bad_inputs_are_refused(tmp_path):
    weights = _random_weights(0, context=1)
    with pytest.raises(InputError, match="context"):
        predict(weights, [{"Li": 1}])
    with pytest.raises(InputError, match="Xx"):
        encode([{"Li": 1, "Xx": 2}])
    with pytest.raises(InputError):
        fit_network([{"Li": 1}], np.array([1.0, 2.0]), TINY)
    bogus = tmp_path / "bogus.npz"
    np.savez(bogus, __meta__=np.array(json.dumps({"format": "other"})))
    with pytest.raises(BundleError, match="format"):
        NetworkWeights.load(bogus)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __meta__=np.array([{"format": "sulfml-neural-1"}], dtype=object))
    with pytest.raises(BundleError):
        NetworkWeights.load(pickled)


def test_fraction_encoding_is_bounded_and_tells_fractions_apart():
    f = np.array([0.0, 1e-6, 0.01, 0.25, 0.5, 1.0])
    enc = fraction_encoding(f, 4)
    assert enc.shape == (6, 18) and np.all(np.abs(enc) <= 1.0)
    assert np.linalg.matrix_rank(enc[2:]) == 4  # the real fractions are distinct points
