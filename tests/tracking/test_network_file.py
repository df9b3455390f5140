"""A neural member's `network.npz` in a bundle: one more checksummed file, checked before it is read, never
unpickled; a bundle without one loads as before."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from sulfml.tracking.bundle import Bundle, LoadedModel, write_card
from sulfml.tracking.integrity import NETWORK_FILE, card_schema, schema_errors, sha256_bytes


class _Payload:
    """Unpickling this runs os.system: the proof that a loader unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _card(folder: Path) -> dict:
    return json.loads((folder / "card.json").read_text())


def test_the_network_loads_with_its_checksum_and_weight(neural_bundle):
    sigma = neural_bundle / "log10_sigma"
    model = LoadedModel.from_dir(sigma)
    card = model.card
    assert card["checksums"][NETWORK_FILE] == sha256_bytes((sigma / NETWORK_FILE).read_bytes())
    assert schema_errors(card, card_schema()) == [] and model.network_weight == 0.4
    assert model.network is not None and model.network.meta["seed"] == 11
    # the other target has none, and weighs the network at 0
    ea = LoadedModel.from_dir(neural_bundle / "ea_eV")
    assert ea.network is None and ea.network_weight == 0.0 and "neural" not in ea.card


def test_the_shipped_champion_has_no_network_and_loads_as_before():
    bundle = Bundle.from_dir()
    assert all(m.network is None and NETWORK_FILE not in m.card["checksums"] for m in bundle.models.values())


def test_a_tampered_network_is_refused_by_its_checksum(refused, neural_bundle, capsys):
    path = neural_bundle / "log10_sigma" / NETWORK_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    refused(neural_bundle, f"{NETWORK_FILE} does not match the checksum in card.json")


def test_a_network_replaced_by_other_weights_is_refused(refused, neural_bundle, capsys, random_network_weights):
    random_network_weights(12).save(neural_bundle / "log10_sigma" / NETWORK_FILE)
    refused(neural_bundle, "does not match the checksum")


def test_a_pickle_under_the_networks_name_is_never_unpickled(refused, neural_bundle, tmp_path, capsys):
    marker = tmp_path / "pwned"
    (neural_bundle / "log10_sigma" / NETWORK_FILE).write_bytes(pickle.dumps(_Payload(marker), protocol=4))
    refused(neural_bundle, "pickle")
    assert not marker.exists()


def test_an_npz_holding_objects_is_refused_even_with_a_matching_checksum(refused, neural_bundle, tmp_path, capsys):
    # a card rewritten to vouch for it: the file is still read with allow_pickle=False
    marker = tmp_path / "pwned"
    sigma = neural_bundle / "log10_sigma"
    np.savez(sigma / NETWORK_FILE, __meta__=np.array(json.dumps({"format": "sulfml-neural-1"})),
             evil=np.array([_Payload(marker)], dtype=object))
    write_card({k: v for k, v in _card(sigma).items() if k != "checksums"}, sigma)
    refused(neural_bundle, NETWORK_FILE)
    assert not marker.exists()


def test_a_network_the_card_does_not_describe_is_refused(refused, neural_bundle, capsys, random_network_weights):
    ea = neural_bundle / "ea_eV"
    random_network_weights(3).save(ea / NETWORK_FILE)
    refused(neural_bundle, f"{NETWORK_FILE} without a neural section")


def test_a_card_with_a_network_needs_its_file(refused, neural_bundle, capsys):
    (neural_bundle / "log10_sigma" / NETWORK_FILE).unlink()
    refused(neural_bundle, NETWORK_FILE)


def test_a_neural_section_out_of_range_breaks_the_schema(refused, neural_bundle, capsys):
    sigma = neural_bundle / "log10_sigma"
    card = _card(sigma)
    card["neural"]["weight"] = 1.5
    (sigma / "card.json").write_text(json.dumps(card))
    refused(neural_bundle, "card.neural.weight: 1.5 is above 1")


def test_other_npz_files_are_still_refused(refused, neural_bundle, capsys, random_network_weights):
    random_network_weights(3).save(neural_bundle / "ea_eV" / "weights.npz")
    refused(neural_bundle, "weights.npz")


@pytest.mark.parametrize("change, fragment", [
    (lambda w: type(w)(w.arrays, {**w.meta, "context": ["a", "b", "c", "d"]}), "not the state one-hot"),
    (lambda w: type(w)({k: v for k, v in w.arrays.items() if k != "head2.weight"}, w.meta), "head2.weight"),
    (lambda w: type(w)(w.arrays, {**w.meta, "format": "other"}), "network format"),
])
def test_a_network_that_does_not_fit_its_card_is_refused_even_when_vouched_for(refused, neural_bundle, capsys,
                                                                               random_network_weights, change,
                                                                               fragment):
    sigma = neural_bundle / "log10_sigma"
    change(random_network_weights(11)).save(sigma / NETWORK_FILE)
    write_card({k: v for k, v in _card(sigma).items() if k != "checksums"}, sigma)
    refused(neural_bundle, fragment)
