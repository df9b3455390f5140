"""Shared fixtures: every test runs in its own temporary directory with its own MLflow store and cache.

`mini_data_dir` writes a small synthetic data directory in the published file formats (a few dozen
rows with made-up values), so tests never need the real datasets.
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

# XGBoost threads wait passively, as under the command line (which sets this; `import sulfml` does not).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Read before the autouse fixture hides it: CI points this at the local mirror of the real files.
MIRROR = Path(os.environ.get("SULFML_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "datasets")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Run in tmp_path with a private cache and a private sqlite MLflow store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SULFML_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("SULFML_DATA_DIR", raising=False)
    monkeypatch.delenv("SULFML_DATA_URL", raising=False)
    monkeypatch.setenv("GIT_PYTHON_REFRESH", "quiet")
    return tmp_path


@pytest.fixture
def mirror_dir() -> Path:
    """The local mirror of the public datasets; skips when this machine has none."""
    if not (MIRROR / "obelix" / "train.csv").exists():
        pytest.skip(f"no local mirror of the public datasets at {MIRROR}")
    return MIRROR


OBELIX_HEADER = ["ID", "Reduced Composition", "Z", "True Composition", "Ionic conductivity (S cm-1)", "IC (Total)",
                 "IC (Bulk)", "Space group", "Space group #", "a", "b", "c", "alpha", "beta", "gamma", "Family",
                 "DOI", "Checked", "Ref", "Cif ID", "Cif ref_1", "Cif ref_2", "note", "close match",
                 "close match DOI", "ICSD ID", "Laskowski ID", "Liion ID"]

# (formula, family, made-up log10 sigma): enough chemistry for the featurizers and families to matter.
MATERIALS = [
    ("Li6PS5Cl", "argyrodites", -2.7), ("Li6PS5Br", "argyrodites", -2.9), ("Li6PS5I", "argyrodites", -3.6),
    ("Li5.5PS4.5Cl1.5", "argyrodites", -2.1), ("Li10GeP2S12", "LGPS", -1.9), ("Li10SnP2S12", "LGPS", -2.4),
    ("Li10SiP2S12", "LGPS", -2.6), ("Li3PS4", "thio-phosphate", -3.8), ("Li7P3S11", "thio-phosphate", -2.2),
    ("Li4GeS4", "thio-LISICON", -6.6), ("Li3.25Ge0.25P0.75S4", "thio-LISICON", -2.7),
    ("Li4SnS4", "thio-LISICON", -4.2), ("Li7La3Zr2O12", "garnet", -3.9), ("Li6.4La3Zr1.4Ta0.6O12", "garnet", -3.0),
    ("Li6.5La3Zr1.5Nb0.5O12", "garnet", -3.3), ("Li1.3Al0.3Ti1.7(PO4)3", "NASICON", -3.1),
    ("LiTi2(PO4)3", "NASICON", -6.0), ("LiGe2(PO4)3", "NASICON", -7.5), ("Li0.33La0.56TiO3", "perovskites", -3.0),
    ("Li0.5La0.5TiO3", "perovskites", -3.2), ("Li3N", "nitrides", -3.2), ("Li3InCl6", "halides", -2.9),
    ("Li3YCl6", "halides", -3.3), ("Li2ZrCl6", "halides", -3.4), ("Li4SiO4", "LISICON", -8.0),
    ("Li14Zn(GeO4)4", "LISICON", -6.9), ("Li3PO4", "", -9.0), ("LiBH4", "hydrides", -8.0),
    ("Li7SbO6", "hexaoxometalates", -7.2), ("Li5GaO4", "", -9.5),
]


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _cif_text() -> str:
    from pymatgen.core import Lattice, Structure

    s = Structure(Lattice.cubic(4.2), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return s.to(fmt="cif")


def write_mini_data_dir(root: Path) -> Path:
    """Write the synthetic data directory (see module docstring) under `root`; returns it."""
    rng = np.random.default_rng(0)
    obelix = []
    for i, (formula, family, log_s) in enumerate(MATERIALS):
        sigma = "<1E-10" if log_s <= -9 else f"{10 ** (log_s + rng.normal(0, 0.1)):.3e}"
        row = {k: "" for k in OBELIX_HEADER}
        row.update({"ID": f"x{i:02d}", "Reduced Composition": formula, "Z": "1", "True Composition": formula,
                    "Ionic conductivity (S cm-1)": sigma, "Space group": "P 1", "Space group #": "1", "a": "5.0",
                    "b": "5.0", "c": "5.0", "alpha": "90", "beta": "90", "gamma": "90", "Family": family,
                    "DOI": f"10.9999/paper.{i // 2}", "Cif ID": "done" if i == 0 else "not available"})
        obelix.append([row[k] for k in OBELIX_HEADER])
    _write_csv(root / "obelix" / "train.csv", OBELIX_HEADER, obelix[:24])
    _write_csv(root / "obelix" / "test.csv", OBELIX_HEADER, obelix[24:])
    buf = _cif_text().encode()
    with tarfile.open(root / "obelix" / "all_cifs.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("all_randomized_cifs/x00.cif")
        info.size = len(buf)
        tar.addfile(info, io.BytesIO(buf))
    liverpool = []
    for i, (formula, family, log_s) in enumerate(MATERIALS[:20]):
        for t in (25.0, 100.0):
            s = 10 ** (log_s + 0.3 * (t - 25) / 75)
            liverpool.append([len(liverpool) + 1, formula, f"10.8888/liv.{i}", t, f"{s:.3e}", np.log10(s),
                              family.capitalize() or "Other", "Sulfides" if "S" in formula else "Oxides"])
    liverpool.append([len(liverpool) + 1, "Xx2O", "10.8888/liv.bad", 25, "1e-5", -5, "Other", "Oxides"])
    _write_csv(root / "liverpool" / "LiIonDatabase.csv",
               ["ID", "composition", "source", "temperature", "target", "log_target", "family", "ChemicalFamily"],
               liverpool)
    lask = []
    glasses = [("70Li2S-30P2S5", -3.5, 0.38), ("0.75Li2S-0.25P2S5", -3.6, 0.40), ("80Li2S * 20P2S5", -3.3, 0.36),
               ("0.4LiI-0.6Li4SnS4", -3.4, 0.43), ("Li2S-P2S5-LiI", -3.0, 0.30), ("0.2(Li2S) 0.8(GeS2)", -7.0, 0.6),
               ("La0.56Li0.33TiO3-5wt% Al2O3", -3.5, 0.35), ("β-Li3PS4", -3.8, 0.36), ("Li6PS5Cl", "2e3", 0.3),
               ("Li3PS4", "abc", 0.35), ("Li7P3S11", -2.5, 7.5)]
    for i, (formula, log_s, ea) in enumerate(glasses):
        sigma = log_s if isinstance(log_s, str) else f"{10 ** log_s:.2E}"
        lask.append([i, formula, sigma, ea, "", "", f"10.7777/las.{i // 3}"])
    for j, (formula, _family, log_s) in enumerate(MATERIALS[:20]):
        ea = round(0.25 + 0.05 * -log_s / 3 + rng.normal(0, 0.02), 3)
        lask.append([len(lask), formula, f"{10 ** (log_s + rng.normal(0, 0.2)):.2E}", ea, "", "",
                     f"10.7777/las.{10 + j // 2}"])
    _write_csv(root / "laskowski" / "laskowski_with_dois.csv",
               ["Unnamed: 0", "Structure", "σ(RT)(S cm-1)", "Ea (eV)", "space group", "ICSD Entry", "DOI"], lask)
    return root


@pytest.fixture
def mini_data_dir(tmp_path, monkeypatch) -> Path:
    """A synthetic data directory; sha256 checks are off since its files are not the pinned ones."""
    monkeypatch.setenv("SULFML_VERIFY", "0")
    return write_mini_data_dir(tmp_path / "data")


SMALL_CONFIG = """
name = "small"
seed = 7
[data]
sources = ["review", "obelix", "liverpool", "laskowski"]
[features]
preset = "composition-v1"
[censoring]
strategy = "substitute"
log10_value = -15.0
[cv]
n_splits = 3
group_by = "paper"
[targets.log10_sigma]
n_estimators = 30
max_depth = 3
learning_rate = 0.2
[targets.ea_eV]
n_estimators = 30
max_depth = 3
learning_rate = 0.2
"""


@pytest.fixture
def small_config(tmp_path) -> Path:
    """A quick training config for the mini data."""
    path = tmp_path / "small.toml"
    path.write_text(SMALL_CONFIG)
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    """Train once on the mini data into a private store; yields its paths. Shared by predict tests."""
    from sulfml.workflows.train import train

    root = tmp_path_factory.mktemp("trained")
    config = root / "small.toml"
    config.write_text(SMALL_CONFIG)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SULFML_CACHE_DIR", str(root / "cache"))
        mp.setenv("SULFML_VERIFY", "0")
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        data = write_mini_data_dir(root / "data")
        uri = f"sqlite:///{root / 'mlflow.db'}"
        results = train(config, data_dir=data, tracking_uri=uri, models_dir=root / "models", log=lambda s: None)
    return {"root": root, "uri": uri, "models": root / "models", "data": data, "config": config,
            "results": results}


def random_network(seed: int, y_center: float = -5.0, y_scale: float = 2.0):
    """A `NetworkWeights` of the forward's shapes with random weights, reading the state one-hot: what a fit
    of the neural member exports, without torch and in no time (`sulfml.model.neural_forward`)."""
    from sulfml.featurize.rules import STATE_LABELS
    from sulfml.model.neural_forward import NetworkWeights

    rng = np.random.default_rng(seed)
    d, ff, n_freq, ctx = 8, 12, 2, len(STATE_LABELS)
    arrays = {"element_embedding": rng.normal(size=(118, d)),
              "fraction.weight": rng.normal(size=(d, 4 * n_freq + 2)), "fraction.bias": rng.normal(size=d),
              "norm.weight": np.ones(d), "norm.bias": np.zeros(d),
              "head1.weight": rng.normal(size=(d, d + ctx)), "head1.bias": rng.normal(size=d),
              "head2.weight": rng.normal(size=(1, d)) / d, "head2.bias": np.zeros(1)}
    for name, shape in (("norm1.weight", d), ("norm1.bias", d), ("norm2.weight", d), ("norm2.bias", d),
                        ("qkv.weight", (3 * d, d)), ("qkv.bias", 3 * d), ("out.weight", (d, d)), ("out.bias", d),
                        ("ff1.weight", (ff, d)), ("ff1.bias", ff), ("ff2.weight", (d, ff)), ("ff2.bias", d)):
        arrays[f"layers.0.{name}"] = rng.normal(size=shape) / 2
    meta = {"format": "sulfml-neural-1", "n_layers": 1, "n_heads": 2, "n_freq": n_freq, "y_center": y_center,
            "y_scale": y_scale, "context": list(STATE_LABELS), "params": {"epochs": 1}, "seed": seed, "n_train": 10}
    return NetworkWeights({k: v.astype(np.float32) for k, v in arrays.items()}, meta)


@pytest.fixture
def neural_bundle(tmp_path) -> Path:
    """The shipped champion copied, its log10_sigma model given a random network at weight 0.4 (card section
    and checksum written as training writes them)."""
    import json
    import shutil

    from sulfml.tracking.bundle import shipped_bundle_dir, write_card
    from sulfml.tracking.integrity import NETWORK_FILE

    folder = tmp_path / "neural-bundle"
    shutil.copytree(shipped_bundle_dir(), folder)
    target = folder / "log10_sigma"
    random_network(11).save(target / NETWORK_FILE)
    card = json.loads((target / "card.json").read_text())
    card["neural"] = {"weight": 0.4, "blend": 0.4, "oof_mae": {"network": 1.5, "trees": 1.1, "blend": 1.0},
                      "params": {"epochs": 1}, "context": list(random_network(11).context)}
    write_card({k: v for k, v in card.items() if k != "checksums"}, target)
    return folder


@pytest.fixture
def random_network_weights():
    """`random_network` (seed, y_center, y_scale) as a fixture."""
    return random_network
