"""The pooled element embedding (MEGNet-16) of preset chemistry-v3: one NumPy kernel, its matminer wrapper,
and the shipped vectors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.chem.elements import EMBEDDING_PATH, EMBEDDINGS, element_embedding, element_tables
from sulfml.featurize import assemble, descriptors, rules
from sulfml.featurize.electrolyte import ElementEmbedding
from sulfml.featurize.presets import featurize, get_preset


def _naive(comp: dict[str, float]) -> list[float]:
    """Mean and spread written out element by element, from the shipped JSON itself."""
    table = json.loads(EMBEDDING_PATH.read_text())["megnet16"]
    symbols = element_tables().symbols
    vecs = [table[symbols.index(el)] for el in comp]
    total = sum(comp.values())
    w = [a / total for a in comp.values()]
    mean = [sum(wi * v[j] for wi, v in zip(w, vecs, strict=True)) for j in range(16)]
    std = [math.sqrt(sum(wi * (v[j] - mean[j]) ** 2 for wi, v in zip(w, vecs, strict=True))) for j in range(16)]
    return mean + std


COMPS = [{"Li": 6, "P": 1, "S": 5, "Cl": 1}, {"Li": 3, "P": 1, "S": 4}, {"Li": 10, "Ge": 1, "P": 2, "S": 12},
         {"Li": 2, "S": 1}, {"Li": 1}]


def test_kernel_equals_the_element_by_element_definition():
    got = descriptors.embedding_features(COMPS, "megnet16")
    assert got.shape == (len(COMPS), 32)
    np.testing.assert_allclose(got, [_naive(c) for c in COMPS], rtol=0, atol=1e-12)
    assert np.all(got[-1, 16:] == 0)  # one element: no spread


def test_an_element_without_a_vector_gives_nan_not_a_partial_average():
    vectors = element_embedding("megnet16")
    missing = [s for s, row in zip(element_tables().symbols, vectors, strict=True) if np.isnan(row).any()]
    assert "Am" in missing and "Li" not in missing
    got = descriptors.embedding_features([{"Li": 1, "Am": 1}, {}], "megnet16")
    assert np.isnan(got).all()


def test_matminer_wrapper_calls_the_kernel_and_mixes_with_magpie():
    from matminer.featurizers.base import MultipleFeaturizer
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Composition

    f = ElementEmbedding("megnet16")
    assert f.feature_labels() == list(rules.embedding_labels("megnet16"))
    np.testing.assert_array_equal(f.featurize(Composition("Li6PS5Cl")), descriptors.embedding_features([COMPS[0]],
                                                                                                "megnet16")[0])
    mixed = MultipleFeaturizer([ElementProperty.from_preset("magpie"), f])
    row = mixed.featurize(Composition("Li3PS4"))
    assert len(row) == len(mixed.feature_labels()) == 132 + 32
    np.testing.assert_allclose(row[-32:], _naive(COMPS[1]), atol=1e-12)


def test_chemistry_v3_is_chemistry_v2_plus_the_embedding():
    v2, v3 = get_preset("chemistry-v2").feature_names(), get_preset("chemistry-v3").feature_names()
    assert v3 == [*v2, *rules.embedding_labels("megnet16")]
    assert not any(ch in name for name in v3 for ch in "[]<")
    frame = pd.DataFrame({"composition": COMPS[:3], "state": ["crystalline", "glass", None]})
    # the matminer path (featurizers one after the other) and the vectorized path agree
    pd.testing.assert_frame_equal(featurize(frame, "chemistry-v3"), assemble.featurize_frame(frame, "chemistry-v3"))


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["Li", "P", "S", "Cl", "Ge", "Si", "O", "Br", "I", "Sn"]),
                       st.integers(1, 40), min_size=1, max_size=5),
       st.sampled_from(["0.1", "0.25", "3", "7", "0.001"]))
def test_the_same_composition_at_any_scale_gives_the_same_row(comp, factor):
    from decimal import Decimal

    scaled = {el: float(Decimal(a) * Decimal(factor)) for el, a in comp.items()}
    a = assemble.preset_features([comp], "chemistry-v3")
    b = assemble.preset_features([scaled], "chemistry-v3")
    np.testing.assert_array_equal(a, b)


def test_shipped_vectors_equal_the_elementembeddings_package():
    pytest.importorskip("elementembeddings")
    from sulfml.chem.build import build_element_embeddings

    assert json.loads(EMBEDDING_PATH.read_text()) == build_element_embeddings()
    assert set(EMBEDDINGS) == {"megnet16"}
