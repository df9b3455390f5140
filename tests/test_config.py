"""Run configs: checked strictly when read (every refusal names the file and the key), round-trip through TOML."""

from __future__ import annotations

import pytest

from sulfml.config import (
    SCHEMA,
    SECTION_CLASSES,
    TARGETS,
    DomainConfig,
    RunConfig,
    default_config_path,
    shipped_configs,
)
from sulfml.errors import ConfigError, UserError

# The smallest full config in the current layout; the refusal tests below change one line of it.
GOOD = """\
name = "t"
seed = 3

[data]
sources = ["review", "obelix"]
aggregation = "median-log10"

[features]
preset = "composition-v1"

[censoring]
strategy = "substitute"
log10_value = -15.0

[cv]
n_splits = 4
group_by = "paper"
interval_coverage = 0.8

[domain]
k = 3
n_features = 16
quantile = 0.9

[targets.log10_sigma]
n_estimators = 30
learning_rate = 0.2

[targets.log10_sigma.knn]
k = 5

[targets.ea_eV]
objective = "reg:absoluteerror"
max_depth = 3
"""


def load(tmp_path, text: str, name: str = "my.toml") -> RunConfig:
    path = tmp_path / name
    path.write_text(text)
    return RunConfig.from_toml(path)


def refused(tmp_path, text: str, *fragments: str) -> str:
    """The message of the `ConfigError` reading `text` raises; it names the file and holds every fragment."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, "bad.toml")
    message = str(info.value)
    assert message.startswith("bad.toml: "), message
    for fragment in fragments:
        assert fragment in message, message
    assert "--" not in message  # library messages never name command-line options
    return message


def test_a_full_config_reads_into_its_sections(tmp_path):
    cfg = load(tmp_path, GOOD)
    assert (cfg.name, cfg.seed, cfg.preset) == ("t", 3, "composition-v1")
    assert cfg.data.sources == ("review", "obelix") and cfg.cv.n_splits == 4
    assert cfg.domain == DomainConfig(k=3, n_features=16, quantile=0.9)
    # the kNN sub-table is filled with its defaults; a target without one has none
    assert cfg.params["log10_sigma"] == {"n_estimators": 30, "learning_rate": 0.2, "knn": {"k": 5, "folds": 5}}
    assert cfg.params["ea_eV"] == {"objective": "reg:absoluteerror", "max_depth": 3}


def test_missing_sections_and_keys_take_the_defaults(tmp_path):
    assert load(tmp_path, "") == RunConfig()
    assert RunConfig().domain == DomainConfig(k=5, n_features=32, quantile=0.95)
    assert load(tmp_path, "[cv]\nn_splits = 3\n").cv.group_by == "paper"


def test_an_integer_is_read_as_a_float(tmp_path):
    cfg = load(tmp_path, GOOD.replace("log10_value = -15.0", "log10_value = -15"))
    assert cfg.censoring.log10_value == -15.0 and isinstance(cfg.censoring.log10_value, float)


@pytest.mark.parametrize(("old", "new", "fragments"), [
    # unknown sections and keys, with a did-you-mean hint and the known names
    ("[features]", "[featurs]", ["[featurs]: unknown section, did you mean features?", "[features]", "[cv]"]),
    ("n_splits = 4", "n_split = 4",
     ["[cv] n_split: unknown key, did you mean n_splits? (known: n_splits, group_by, interval_coverage)"]),
    ("seed = 3", "sed = 3", ["sed: unknown key, did you mean seed?"]),
    ("[targets.ea_eV]\n", "[targets.sigma]\n", ["[targets] sigma: unknown target, did you mean log10_sigma?",
                                                "known: log10_sigma, ea_eV"]),
    ("max_depth = 3", "max_dept = 3",
     ["[targets.ea_eV] max_dept: unknown XGBoost parameter, did you mean max_depth?"]),
    ("[targets.log10_sigma.knn]\nk = 5", "[targets.log10_sigma.knn]\nkk = 5",
     ["[targets.log10_sigma.knn] kk: unknown key, did you mean k? (known: k, folds)"]),
    # settings that live elsewhere say where
    ("max_depth = 3", "knn_k = 20", ["[targets.ea_eV] knn_k: moved to [targets.ea_eV.knn] k"]),
    ("max_depth = 3", "random_state = 1", ["[targets.ea_eV] random_state:", "top-level seed"]),
    # wrong types; a boolean is not an integer, a float is not an integer
    ("n_splits = 4", "n_splits = true", ["[cv] n_splits: expected an integer, got a boolean (true)"]),
    ("n_splits = 4", "n_splits = 4.0", ["[cv] n_splits: expected an integer, got a float (4.0)"]),
    ("n_splits = 4", 'n_splits = "4"', ["[cv] n_splits: expected an integer, got a string ('4')"]),
    ("learning_rate = 0.2", 'learning_rate = "fast"', ["[targets.log10_sigma] learning_rate: expected a number"]),
    ('name = "t"', "name = 1", ["name: expected a string, got an integer (1)"]),
    ('sources = ["review", "obelix"]', 'sources = "review"', ["[data] sources: expected a list of strings"]),
    ('preset = "composition-v1"', 'preset = ["composition-v1"]', ["[features] preset: expected a string, got a list"]),
    ("[targets.log10_sigma.knn]\nk = 5", "knn = 5", ["[targets.log10_sigma.knn]: expected a table"]),
    # unknown values of a choice, with a hint
    ('aggregation = "median-log10"', 'aggregation = "medain"',
     ["[data] aggregation: unknown value 'medain', did you mean 'median-log10'?",
      "known: median-log10, median-log10-one-per-paper"]),
    ('preset = "composition-v1"', 'preset = "composition-v3"', ["[features] preset: unknown value 'composition-v3'",
                                                               "chemistry-v1"]),
    ('group_by = "paper"', 'group_by = "papers"', ["[cv] group_by: unknown value 'papers', did you mean 'paper'?"]),
    ('strategy = "substitute"', 'strategy = "drop"', ["[censoring] strategy: unknown value 'drop' (known: substitute)"]),
    ('sources = ["review", "obelix"]', 'sources = ["review", "obelx"]',
     ["[data] sources: unknown value 'obelx', did you mean 'obelix'?"]),
    ('objective = "reg:absoluteerror"', 'objective = "reg:absolute"',
     ["[targets.ea_eV] objective: unknown value 'reg:absolute', did you mean 'reg:absoluteerror'?"]),
    # values out of range
    ("n_splits = 4", "n_splits = 1", ["[cv] n_splits: 1 is out of range (must be ≥ 2)"]),
    ("interval_coverage = 0.8", "interval_coverage = 1.0",
     ["[cv] interval_coverage: 1.0 is out of range (must be > 0 and < 1)"]),
    ("quantile = 0.9", "quantile = 0", ["[domain] quantile: 0.0 is out of range (must be > 0 and ≤ 1)"]),
    ("[targets.log10_sigma.knn]\nk = 5", "[targets.log10_sigma.knn]\nk = -1", ["[targets.log10_sigma.knn] k: -1"]),
    ("seed = 3", "seed = -3", ["seed: -3 is out of range (must be ≥ 0)"]),
    ("learning_rate = 0.2", "learning_rate = 0.0", ["[targets.log10_sigma] learning_rate: 0.0 is out of range"]),
    ("log10_value = -15.0", "log10_value = nan", ["[censoring] log10_value: expected a finite number"]),
    ('sources = ["review", "obelix"]', "sources = []", ["[data] sources: expected at least one value"]),
    ('sources = ["review", "obelix"]', 'sources = ["review", "review"]', ["[data] sources: listed more than once"]),
])
def test_each_kind_of_mistake_is_refused_naming_the_file_and_the_key(tmp_path, old, new, fragments):
    assert old in GOOD
    refused(tmp_path, GOOD.replace(old, new, 1), *fragments)


def test_a_config_error_is_a_user_error_and_names_unreadable_files(tmp_path):
    assert issubclass(ConfigError, UserError)
    refused(tmp_path, "name = \n", "not valid TOML")
    with pytest.raises(ConfigError, match="config file not found"):
        RunConfig.from_toml(tmp_path / "missing.toml")


def test_from_dict_names_its_source():
    with pytest.raises(ConfigError, match=r"^config: \[targets\] band_gap: unknown target"):
        RunConfig.from_dict({"targets": {"band_gap": {}}})
    with pytest.raises(ConfigError, match=r"^x: \[cv\] n_split"):
        RunConfig.from_dict({"cv": {"n_split": 3}}, source="x")


def test_with_params_checks_the_parameters():
    cfg = RunConfig()
    assert cfg.with_params("ea_eV", {"max_depth": 2, "knn": {"k": 4}}).params["ea_eV"] == {
        "max_depth": 2, "knn": {"k": 4, "folds": 5}}
    with pytest.raises(ConfigError, match=r"\[targets.ea_eV\] max_dept: unknown XGBoost parameter"):
        cfg.with_params("ea_eV", {"max_dept": 2})


def test_round_trip(tmp_path):
    for cfg in (RunConfig(), load(tmp_path, GOOD)):
        assert RunConfig.from_dict(cfg.to_dict()) == cfg
        back = RunConfig.from_toml(cfg.write(tmp_path / "c.toml"))
        assert back == cfg and back.digest == cfg.digest


def test_every_shipped_config_loads_and_round_trips(tmp_path):
    shipped = shipped_configs()
    assert {"default", "tuned", "tuned-log10_sigma", "tuned-ea_eV"} <= set(shipped)
    for name, path in shipped.items():
        cfg = RunConfig.from_toml(path)
        assert RunConfig.from_dict(cfg.to_dict()) == cfg, name
        assert RunConfig.from_toml(cfg.write(tmp_path / f"{name}.toml")) == cfg, name
        assert set(cfg.params) == set(TARGETS)
        if name == "smoke":  # the one-minute check of an installation, not a model to predict with
            assert cfg.params["log10_sigma"]["n_estimators"] <= 50 and cfg.cv.n_splits == 3
            continue
        # both targets use the kNN target features (issue 7); Ea with the absolute-error objective
        assert cfg.params["log10_sigma"]["knn"] == {"k": 5, "folds": 5}, name
        assert cfg.params["ea_eV"]["knn"] == {"k": 20, "folds": 5}, name
        assert cfg.params["ea_eV"]["objective"] == "reg:absoluteerror", name
        assert cfg.domain == DomainConfig(), name


def test_default_config():
    cfg = RunConfig.from_toml(default_config_path())
    assert cfg.preset == "chemistry-v3" and cfg.cv.group_by == "paper"
    assert cfg.with_params("ea_eV", {"max_depth": 2}).digest != cfg.digest


def test_the_schema_matches_the_sections_and_the_layers_it_names():
    from sulfml.data.table import AGGREGATIONS, SOURCES
    from sulfml.featurize.presets import PRESETS

    for section, cls in SECTION_CLASSES.items():
        assert set(SCHEMA[section]) == set(cls.__dataclass_fields__), section
    assert SCHEMA["data"]["aggregation"].choices() == tuple(AGGREGATIONS)
    assert SCHEMA["data"]["sources"].choices() == tuple(SOURCES)
    assert set(SCHEMA["features"]["preset"].choices()) == set(PRESETS)


# ----------------------------------------------------------------------------------------------------------
# [data] extra: the user's own measurement files


def _with_extra(text: str) -> str:
    return GOOD.replace('aggregation = "median-log10"', f'aggregation = "median-log10"\n{text}', 1)


def test_extra_files_are_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mine.csv").write_text("formula,sigma_S_cm\n")
    (tmp_path / "other.csv").write_text("formula,sigma_S_cm\n")
    path = tmp_path / "conf" / "run.toml"
    path.write_text(_with_extra('extra = ["mine.csv", "../other.csv"]'))
    monkeypatch.chdir(tmp_path)  # not the config's directory: it plays no part
    cfg = RunConfig.from_toml(path)
    assert cfg.data.extra == (str(tmp_path / "conf" / "mine.csv"), str(tmp_path / "other.csv"))
    # the files are part of the config: its digest, and a round trip keeps them
    assert cfg.digest != load(tmp_path, GOOD).digest
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert RunConfig.from_toml(cfg.write(tmp_path / "elsewhere" / "c.toml")) == cfg


def test_a_config_without_extra_files_keeps_its_layout():
    assert "extra" not in RunConfig().to_dict()["data"]


@pytest.mark.parametrize(("line", "fragments"), [
    ('extra = ["nope.csv"]', ["[data] extra: file not found: 'nope.csv'"]),
    ('extra = "mine.csv"', ["[data] extra: expected a list of strings, got a string ('mine.csv')"]),
    ("extra = []", ["[data] extra: expected at least one value"]),
    ('extra = ["mine.csv", "./mine.csv"]', ["[data] extra: listed more than once"]),
    ('extra = ["."]', ["[data] extra: is a directory, not a file: '.'"]),
    ('extras = ["mine.csv"]', ["[data] extras: unknown key, did you mean extra?"]),
])
def test_a_bad_extra_entry_is_refused_naming_the_file_and_the_key(tmp_path, line, fragments):
    (tmp_path / "mine.csv").write_text("formula,sigma_S_cm\n")
    refused(tmp_path, _with_extra(line), *fragments)


def test_with_extra_adds_files_after_the_configs_own(tmp_path, monkeypatch):
    from sulfml.errors import InputError

    monkeypatch.chdir(tmp_path)
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("formula,sigma_S_cm\n")
    cfg = load(tmp_path, _with_extra('extra = ["a.csv"]'))
    assert cfg.with_extra([]) is cfg
    more = cfg.with_extra(["b.csv"])
    assert more.data.extra == (str(tmp_path / "a.csv"), str(tmp_path / "b.csv")) and more.digest != cfg.digest
    with pytest.raises(InputError, match="measurements file not found: nope.csv"):
        cfg.with_extra(["nope.csv"])
    with pytest.raises(ConfigError, match=r"\[data\] extra: listed more than once"):
        cfg.with_extra(["a.csv"])


# ----------------------------------------------------------------------------------------------------------
# [targets.<target>.neural]: the optional network blended with a target's trees (sulfml.model.blend)


def test_the_neural_table_is_off_when_absent_and_fills_its_defaults(tmp_path):
    assert load(tmp_path, GOOD).neural_targets == ()
    cfg = load(tmp_path, GOOD + "\n[targets.ea_eV.neural]\nepochs = 5\n")
    assert cfg.neural_targets == ("ea_eV",)
    assert cfg.neural("ea_eV") == {"enabled": True, "blend": "cv", "epochs": 5} and cfg.neural("log10_sigma") is None
    assert RunConfig.from_dict(cfg.to_dict()) == cfg  # round trip
    off = load(tmp_path, GOOD + "\n[targets.ea_eV.neural]\nenabled = false\nepochs = 5\n")
    assert off.neural_targets == () and off.neural("ea_eV") is None
    fixed = load(tmp_path, GOOD + "\n[targets.log10_sigma.neural]\nblend = 1\n")
    assert fixed.neural("log10_sigma")["blend"] == 1.0 and fixed.digest != cfg.digest


@pytest.mark.parametrize("line, fragments", [
    ('blend = "cvv"', ["my.toml", "[targets.log10_sigma.neural] blend", "'cvv'", "did you mean 'cv'"]),
    ("blend = 1.5", ["[targets.log10_sigma.neural] blend", "out of range"]),
    ("blend = true", ["[targets.log10_sigma.neural] blend", "expected a number or 'cv'"]),
    ("enabled = 1", ["[targets.log10_sigma.neural] enabled", "true or false"]),
    ("epochs = 0", ["[targets.log10_sigma.neural] epochs", "out of range"]),
    ("dropout = 1.0", ["[targets.log10_sigma.neural] dropout", "out of range"]),
    ("d_modle = 32", ["[targets.log10_sigma.neural] d_modle", "did you mean d_model"]),
])
def test_a_bad_neural_setting_is_refused_naming_the_file_and_the_key(tmp_path, line, fragments):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, GOOD + f"\n[targets.log10_sigma.neural]\n{line}\n")
    for fragment in fragments:
        assert fragment in str(info.value)


def test_the_neural_keys_are_the_networks_parameters():
    from dataclasses import fields

    from sulfml.config import NEURAL_NETWORK_KEYS
    from sulfml.model.neural import NetworkParams

    assert set(NEURAL_NETWORK_KEYS) == {f.name for f in fields(NetworkParams)}
    assert set(SCHEMA["targets.log10_sigma.neural"]) == {"enabled", "blend", *NEURAL_NETWORK_KEYS}
