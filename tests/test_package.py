"""The package as a user meets it: `import sulfml` without side effects, shipped files found by
importlib.resources, one error root with the exit statuses mapped in one place."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sulfml
from sulfml import errors
from sulfml.cli import main
from sulfml.config import RunConfig, resolve_config, shipped_configs
from sulfml.shipped import shipped_path


def test_import_changes_no_environment_variable_and_loads_nothing_heavy():
    code = ("import os, sys; before = dict(os.environ); import sulfml; "
            "assert dict(os.environ) == before, set(os.environ) ^ set(before); "
            "heavy = {'pandas', 'numpy', 'mlflow', 'xgboost', 'pymatgen', 'matminer'} & set(sys.modules); "
            "assert not heavy, heavy; print(sulfml.__version__)")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == sulfml.__version__


def test_predictor_is_exported_lazily():
    assert sulfml.Predictor.__name__ == "Predictor"
    with pytest.raises(AttributeError):
        _ = sulfml.Nope  # type: ignore[attr-defined]


def test_the_public_api_exports_the_parser_and_the_errors():
    parsed = sulfml.parse_formula("70Li2S-30P2S5")
    assert parsed.ok and parsed.formula == "Li7P3S11"
    assert issubclass(sulfml.InputError, sulfml.UserError) and issubclass(sulfml.UserError, sulfml.SulfmlError)
    assert set(sulfml.__all__) <= set(dir(sulfml)) | {"Predictor", "parse_formula"}
    for name in sulfml.__all__:
        assert getattr(sulfml, name) is not None


def test_shipped_files_are_package_resources_not_checkout_paths():
    root = Path(sulfml.__file__).resolve().parent
    for parts in [("configs", "default.toml"), ("configs", "tuned.toml"), ("data", "sources.toml"),
                  ("data", "review", "su2022_table1.csv"), ("champion", "log10_sigma", "card.json"),
                  ("tracking", "card.schema.json"), ("chem", "element_tables.json"),
                  ("chem", "element_embeddings.json")]:
        path = shipped_path(*parts)
        assert path.is_file() and root in path.resolve().parents
    with pytest.raises(FileNotFoundError, match="reinstall"):
        shipped_path("no", "such.file")


def test_configs_resolve_by_name_or_path(tmp_path):
    assert {"default", "tuned"} <= set(shipped_configs())
    assert resolve_config(None) == shipped_configs()["default"]
    assert resolve_config("tuned") == resolve_config("tuned.toml") == shipped_configs()["tuned"]
    own = tmp_path / "tuned.toml"  # a file the user names wins over the shipped config of that name
    own.write_text(shipped_configs()["tuned"].read_text())
    assert resolve_config(own) == own
    for name in shipped_configs():
        RunConfig.from_toml(resolve_config(name))
    with pytest.raises(errors.ConfigError, match="shipped configs: "):
        resolve_config("tunde")


def _sulfml_classes() -> list[type]:
    """Every class defined anywhere in the sulfml package (each module imported)."""
    import importlib
    import inspect
    import pkgutil

    found = {}
    for info in pkgutil.walk_packages(sulfml.__path__, "sulfml."):
        if info.name.endswith(".__main__"):  # runs the command line when imported
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__.startswith("sulfml"):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


CLASSES = _sulfml_classes()
EXCEPTIONS = [c for c in CLASSES if issubclass(c, BaseException)]


def test_no_class_of_sulfml_shadows_a_pymatgen_core_class():
    # A same-named class with another equality (sulfml's composition equals at 3 decimals of the
    # fractions) is a trap for anyone who mixes the two libraries.
    import pymatgen.core

    pymatgen_names = {n for n in dir(pymatgen.core) if isinstance(getattr(pymatgen.core, n), type)}
    assert {"Composition", "Structure", "Element"} <= pymatgen_names
    clashes = sorted(f"{c.__module__}.{c.__qualname__}" for c in CLASSES if c.__qualname__ in pymatgen_names)
    assert clashes == []


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=[f"{c.__module__}.{c.__qualname__}" for c in EXCEPTIONS])
def test_every_exception_class_of_sulfml_is_under_the_one_root(cls):
    assert issubclass(cls, errors.SulfmlError)


def test_the_walk_finds_the_errors_outside_errors_py():
    names = {c.__qualname__ for c in EXCEPTIONS}
    assert {"FormulaError", "StateError", "NativeUnavailable", "_FeaturizeError", "LimitError"} <= names
    assert len(EXCEPTIONS) >= 20


def _run_unknown_benchmark():
    from sulfml.workflows.benchmarks.registry import run_benchmark

    run_benchmark("no-such-benchmark", None, "unused")  # type: ignore[arg-type]  # refused before any use


def _unknown_preset():
    from sulfml.featurize.presets import get_preset

    get_preset("no-such-preset")


@pytest.mark.parametrize("lookup", [_unknown_preset, _run_unknown_benchmark])
def test_an_unknown_name_is_a_user_error_and_a_key_error(lookup):
    with pytest.raises(errors.UnknownNameError) as caught:
        lookup()
    assert isinstance(caught.value, errors.UserError) and isinstance(caught.value, KeyError)
    assert not str(caught.value).startswith("'")  # the message as written, not KeyError's repr


def test_what_the_user_typed_wrong_is_a_user_error():
    from sulfml.parse.formula import FormulaError
    from sulfml.parse.state import StateError, normalize_state

    assert issubclass(FormulaError, errors.UserError) and issubclass(StateError, errors.UserError)
    with pytest.raises(errors.InputError):
        normalize_state("molten")


def test_a_bundle_with_two_presets_is_a_damaged_bundle_exit_2(tmp_path, capsys):
    dest = tmp_path / "bundle"
    shutil.copytree(shipped_path("champion"), dest)
    card_path = dest / "ea_eV" / "card.json"
    card = json.loads(card_path.read_text())
    card["preset"] = "composition-v2" if card["preset"] != "composition-v2" else "chemistry-v1"
    card_path.write_text(json.dumps(card))
    with pytest.raises(errors.PresetMismatchError, match="different presets"):
        sulfml.Predictor.from_dir(dest)
    assert main(["predict", "--models-dir", str(dest), "Li6PS5Cl"]) == 2
    err = capsys.readouterr().err
    assert "different presets" in err and len(err.strip().splitlines()) == 1


def test_the_command_line_sets_passive_omp_waiting(monkeypatch, capsys):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert main(["parse", "Li3PS4"]) == 0
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
