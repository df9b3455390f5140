"""A tampered or damaged model bundle fails to load with a clear message and never runs code from data."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.tracking.bundle import Bundle, BundleError, LoadedModel
from sulfml.tracking.integrity import card_schema, load_json, schema_errors, sha256_bytes


class _Payload:
    """Unpickling this runs os.system: the proof that a loader unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def bundle(trained, tmp_path) -> Path:
    dest = tmp_path / "bundle"
    shutil.copytree(trained["models"], dest)
    return dest


def _card(folder: Path) -> dict:
    return json.loads((folder / "card.json").read_text())


def _write_card(folder: Path, card: dict) -> None:
    (folder / "card.json").write_text(json.dumps(card))


def test_the_intact_bundle_loads(bundle):
    b = Bundle.from_dir(bundle)
    card = b.models["ea_eV"].card
    assert set(card["checksums"]) == {"model.json", "domain.json"}
    assert card["checksums"]["model.json"] == sha256_bytes((bundle / "ea_eV" / "model.json").read_bytes())
    assert schema_errors(card, card_schema()) == []


def test_the_committed_bundle_passes_its_own_checks():
    b = Bundle.from_dir()
    assert {m.target for m in b.models.values()} == {"log10_sigma", "ea_eV"}


@pytest.mark.parametrize("victim", ["model.json", "domain.json", "card.json"])
def test_a_pickle_payload_is_never_unpickled(refused, bundle, tmp_path, capsys, victim):
    marker = tmp_path / f"pwned-{victim}"
    payload = pickle.dumps(_Payload(marker), protocol=pickle.HIGHEST_PROTOCOL)
    (bundle / "log10_sigma" / victim).write_bytes(payload)
    message = refused(bundle, "pickle")
    assert not marker.exists(), message
    with pytest.raises(BundleError):
        LoadedModel.from_dir(bundle / "log10_sigma")
    assert not marker.exists()


def test_the_payload_would_have_run(tmp_path):
    """The payload is live: the tests above would notice a loader that unpickles."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("name", ["model.pkl", "scaler.joblib", "extra.cloudpickle", "weights.pickle"])
def test_a_bundle_holding_a_pickle_file_is_refused(refused, bundle, capsys, name):
    (bundle / "ea_eV" / name).write_bytes(pickle.dumps({"a": 1}))
    refused(bundle, name)


def test_a_pickle_under_an_innocent_name_is_refused(refused, bundle):
    (bundle / "ea_eV" / "notes.txt").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    refused(bundle, "notes.txt")


def test_truncated_model_json_fails_its_checksum(refused, bundle, capsys):
    path = bundle / "ea_eV" / "model.json"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    refused(bundle, "does not match the checksum")


def test_truncated_card_is_not_json(refused, bundle, capsys):
    path = bundle / "ea_eV" / "card.json"
    path.write_text(path.read_text()[:100])
    refused(bundle, "not valid JSON")


def test_an_edited_domain_fails_its_checksum(refused, bundle, capsys):
    path = bundle / "log10_sigma" / "domain.json"
    dom = json.loads(path.read_text())
    dom["threshold"] = 1e9  # everything "in domain"
    path.write_text(json.dumps(dom))
    refused(bundle, "domain.json does not match the checksum")


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda c: c.update(feature_names="MagpieData mean Number"), "card.feature_names: expected array"),
    (lambda c: c.update(target="sigma"), "card.target"),
    (lambda c: c["interval"].update(coverage="90%"), "card.interval.coverage: expected number"),
    (lambda c: c["interval"].update(coverage=1.5), "must be below 1"),
    (lambda c: c.pop("preset"), "missing 'preset'"),
    (lambda c: c.update(preset="../../etc"), "card.preset"),
    (lambda c: c["checksums"].update({"model.json": "abc"}), "card.checksums.model.json"),
    (lambda c: c.pop("checksums"), "no checksums"),
    (lambda c: c.update(n_train=True), "card.n_train: expected integer"),
    (lambda c: c["domain"].update(elements=["Li", "<script>"]), "card.domain.elements[1]"),
])
def test_a_card_that_breaks_the_schema_is_refused(refused, bundle, capsys, edit, fragment):
    card = _card(bundle / "ea_eV")
    edit(card)
    _write_card(bundle / "ea_eV", card)
    refused(bundle, fragment)


def test_swapped_target_dirs_are_refused(refused, bundle):
    a, b = bundle / "ea_eV", bundle / "log10_sigma"
    a.rename(bundle / "tmp")
    b.rename(a)
    (bundle / "tmp").rename(b)
    refused(bundle, "card.json is for")


def test_a_missing_file_is_named(refused, bundle, capsys):
    (bundle / "ea_eV" / "domain.json").unlink()
    refused(bundle, "domain.json is missing")


def test_a_checksummed_but_wrong_model_is_refused(refused, bundle):
    """A model.json that is JSON but not a booster, with its checksum updated to match."""
    folder = bundle / "ea_eV"
    (folder / "model.json").write_text('{"learner": "nope"}')
    card = _card(folder)
    card["checksums"]["model.json"] = sha256_bytes((folder / "model.json").read_bytes())
    _write_card(folder, card)
    refused(bundle, "model.json is not an XGBoost model")


# --- reading the checked bytes: the values json reads, the modules a prediction needs -----------------------

# Any JSON value: orjson's range of integers (64 bits; beyond it neither XGBoost nor sulfml's export writes
# one), every float with NaN and the infinities (which json.dumps writes), any text with lone surrogates.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_load_json_reads_what_json_reads(value):
    text = json.dumps(value)
    got, want = load_json(text.encode("utf-8", "surrogatepass")), json.loads(text)
    # repr tells 1 from 1.0 and -0.0 from 0.0, and NaN equals itself there
    assert repr(got) == repr(want)
    assert repr(load_json(text)) == repr(want)


def test_load_json_reads_what_only_json_reads():
    for text in (b'"\xed\xa0\x80"', b"[NaN, -Infinity]", b"\xef\xbb\xbf[1]", "[1]".encode("utf-16")):
        assert repr(load_json(text)) == repr(json.loads(text))


@pytest.mark.parametrize("bad", [b"{", b"[1,]", b"\xff", b"", b"[" * 5000 + b"]" * 5000])
def test_load_json_raises_what_json_raises(bad):
    with pytest.raises((ValueError, RecursionError)) as want:
        json.loads(bad)
    with pytest.raises(want.type, match=re.escape(str(want.value))):
        load_json(bad)


def _walked(schema: dict) -> dict:
    """The same schema with a key the quick test does not know at every level: validated by the full walk."""
    out = {**schema, "description": "walked"}
    if isinstance(schema.get("items"), dict):
        out["items"] = _walked(schema["items"])
    return out


_PLAIN_TYPES = st.sampled_from(["number", "integer", "string", "boolean"])
_SCHEMAS = st.recursive(
    st.builds(lambda t: {"type": t}, _PLAIN_TYPES),
    lambda inner: st.builds(lambda items, lo, n: {"type": "array", "items": items, "minItems": lo, "maxItems": lo + n},
                            inner, st.integers(0, 2), st.integers(0, 3)),
    max_leaves=3)
_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=2),
                       lambda inner: st.lists(inner, max_size=5), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(schema=_SCHEMAS, value=_VALUES)
def test_the_quick_check_of_plain_arrays_finds_what_the_walk_finds(schema, value):
    """Arrays of numbers (the kNN reference set) skip the walk when they pass; the messages are the walk's."""
    top = {"type": "array", "items": schema}
    assert schema_errors([value], top) == schema_errors([value], _walked(top))


def test_a_bundle_without_a_network_loads_without_the_training_modules():
    """Loading a bundle for a prediction imports neither the neural member's code nor the run configuration."""
    import subprocess
    import sys

    import sulfml

    src = str(Path(sulfml.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    code = ("import sys; from sulfml.tracking.bundle import Bundle; b = Bundle.from_dir(); "
            "print(sorted(b.models), [m for m in ('sulfml.config', 'sulfml.model.blend', 'sulfml.model.neural') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.splitlines()[-1] == "['ea_eV', 'log10_sigma'] []"
