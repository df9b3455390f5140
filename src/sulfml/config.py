"""Run configuration: a TOML file (the shipped ones are `sulfml/configs/*.toml`), the only input of a run.

A config is data, checked strictly when it is read: `SCHEMA` below lists every section and key, its type,
and the values it may take, and `RunConfig.from_dict`/`from_toml` refuse anything else (an unknown section or
key, a wrong type, an unknown value, a value out of range) with a `ConfigError` that names the file and the key.

The layout::

    name = "default"              # a label for the run
    seed = 42                     # seeds the folds, XGBoost and the kNN features' inner folds
    [data]                        # which rows a run learns from: public sources, the user's own files (extra)
    [features]                    # preset = the feature preset id
    [censoring]                   # how upper-bound conductivities enter training
    [cv]                          # grouped K-fold cross-validation and the interval coverage
    [domain]                      # the applicability domain (sulfml.model.domain)
    [targets.log10_sigma]         # XGBoost parameters of one target (log10_sigma, ea_eV), and bag = N: the
                                  # mean of N models of different seeds (sulfml.model.bagging) ...
    [targets.log10_sigma.knn]     # ... and its out-of-fold kNN target features (sulfml.model.knn): k, folds
    [targets.log10_sigma.neural]  # ... and the optional neural member blended with its trees (sulfml.model.blend):
                                  # enabled, blend ("cv" or the network's weight), the network's size and schedule

The kNN settings are a sub-table of their target rather than a top-level `[knn]` table: each target's regressor
is described in one place (its trees, then the neighbour features it sees), the kNN settings never mix with the
XGBoost parameter names, and each setting (k and the inner folds) can differ by target.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import math
import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict

import tomli_w

from sulfml.errors import ConfigError, InputError

TARGETS = ("log10_sigma", "ea_eV")
TARGET_ALIASES = {"log10_sigma": "log10_sigma", "sigma": "log10_sigma", "ea": "ea_eV", "ea_eV": "ea_eV"}


def shipped_configs() -> dict[str, Path]:
    """The configs that ship with sulfml, by name (`default`, `tuned`, ...)."""
    from sulfml.shipped import shipped_path

    return {p.stem: p for p in sorted(shipped_path("configs").glob("*.toml"))}


def default_config_path() -> Path:
    """The shipped `default` config."""
    return shipped_configs()["default"]


def resolve_config(name_or_path: str | Path | None) -> Path:
    """A config file: an existing path as given, else a shipped config by name (`tuned` or `tuned.toml`);
    None gives the shipped `default`.

    Raises:
        ConfigError: neither a file nor a shipped config's name.
    """
    if name_or_path is None:
        return default_config_path()
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_configs()
    name = path.name[:-5] if path.name.endswith(".toml") else path.name
    if path.parent == Path(".") and name in shipped:
        return shipped[name]
    raise ConfigError(f"config file not found: {name_or_path} (shipped configs: {', '.join(shipped)})")


@dataclass(frozen=True)
class DataConfig:
    """Which rows a run learns from.

    Attributes:
        sources: the public sources.
        aggregation: how a material's measurements become its value (`sulfml.data.table.AGGREGATIONS`).
        extra: the user's own measurement tables (source `user`, `sulfml.data.loaders.load_user`), as absolute
            paths; a config file names them relative to its own directory.
    """

    sources: tuple[str, ...] = ("review", "obelix", "liverpool", "laskowski")
    aggregation: str = "median-log10-one-per-paper"
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class CensoringConfig:
    """How conductivities published only as an upper bound enter training."""

    strategy: str = "substitute"
    log10_value: float = -15.0


@dataclass(frozen=True)
class CVConfig:
    """Grouped K-fold cross-validation."""

    n_splits: int = 5
    group_by: str = "paper"
    interval_coverage: float = 0.9


@dataclass(frozen=True)
class DomainConfig:
    """The applicability domain (`sulfml.model.domain.DomainModel.fit`).

    Attributes:
        k: neighbours averaged into a material's distance.
        n_features: how many of the model's most important features (by gain) span the distance space.
        quantile: the quantile of held-out training materials' distances that sets the in-domain threshold.
    """

    k: int = 5
    n_features: int = 32
    quantile: float = 0.95


# The kNN sub-table of a target as `RunConfig.from_dict` fills it in (`sulfml.model.estimator.make_regressor`
# reads it): k neighbours (0: plain XGBoost), `folds` inner folds for the training rows' own features.
KNN_DEFAULTS: dict[str, int] = {"k": 0, "folds": 5}
# The neural sub-table of a target as `RunConfig.from_dict` fills it in: a table that is present asks for the
# network unless it says `enabled = false`; `blend = "cv"` chooses the network's weight on the out-of-fold
# predictions (a number fixes it). The network's own keys (`NEURAL_NETWORK_KEYS`) are kept only where given:
# `sulfml.model.neural.NetworkParams` holds their defaults.
NEURAL_DEFAULTS: dict[str, Any] = {"enabled": True, "blend": "cv"}
BLEND_CV = "cv"


# ----------------------------------------------------------------------------------------------------------
# The schema: every section and key a config may hold. Checked by `RunConfig.from_dict`; nothing else is read.


@dataclass(frozen=True)
class Key:
    """What one config key may hold.

    Attributes:
        kind: its TOML type: `str`, `int`, `float`, `bool`, `list` (of strings) or `dict` (a sub-table, whose
            keys are `SCHEMA["<section>.<key>"]`). A boolean is never an integer; an integer is a valid float
            (read as one), a float is never an integer.
        choices: the values it may take (each item's, for a list), or a function that returns them from the
            layer that implements them (imported only when a config is checked).
        ge, gt, le, lt: bounds of a number (≥, >, ≤, <).
        words: strings a number key also takes in place of a number (`blend = "cv"`).
    """

    kind: type
    choices: tuple[str, ...] | Callable[[], Iterable[str]] | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    words: tuple[str, ...] = ()


def _sources() -> tuple[str, ...]:
    from sulfml.data.table import SOURCES

    return tuple(SOURCES)


def _aggregations() -> tuple[str, ...]:
    from sulfml.data.table import AGGREGATIONS

    return tuple(AGGREGATIONS)


def _presets() -> tuple[str, ...]:
    from sulfml.featurize.presets import PRESETS

    return tuple(PRESETS)


# What `sulfml.model.cv.group_labels` and `sulfml.model.train.training_set` implement.
GROUP_BY = ("paper", "composition")
CENSORING_STRATEGIES = ("substitute",)
# XGBoost regression objectives the targets may use.
OBJECTIVES = ("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror", "reg:quantileerror")


class _Bounds(TypedDict, total=False):
    """Bound keywords of `Key`."""

    ge: float
    gt: float
    le: float
    lt: float


_FRACTION: _Bounds = {"gt": 0.0, "le": 1.0}

# The XGBoost regressor parameters a target may set: the ones the shipped configs use and the usual others.
# `tree_method` defaults to "hist"; the seed and the threads are not config settings (see `ELSEWHERE`).
XGBOOST_PARAMS: dict[str, Key] = {
    "objective": Key(str, choices=OBJECTIVES),
    "n_estimators": Key(int, ge=1),
    "learning_rate": Key(float, **_FRACTION),
    "max_depth": Key(int, ge=0),
    "max_leaves": Key(int, ge=0),
    "max_bin": Key(int, ge=2),
    "grow_policy": Key(str, choices=("depthwise", "lossguide")),
    "tree_method": Key(str, choices=("hist", "approx", "exact")),
    "min_child_weight": Key(float, ge=0.0),
    "gamma": Key(float, ge=0.0),
    "max_delta_step": Key(float, ge=0.0),
    "subsample": Key(float, **_FRACTION),
    "sampling_method": Key(str, choices=("uniform", "gradient_based")),
    "colsample_bytree": Key(float, **_FRACTION),
    "colsample_bylevel": Key(float, **_FRACTION),
    "colsample_bynode": Key(float, **_FRACTION),
    "reg_lambda": Key(float, ge=0.0),
    "reg_alpha": Key(float, ge=0.0),
    "num_parallel_tree": Key(int, ge=1),
    "base_score": Key(float),
    "huber_slope": Key(float, gt=0.0),
    "quantile_alpha": Key(float, gt=0.0, lt=1.0),
}

# The network's size and schedule (`sulfml.model.neural.NetworkParams`, whose fields these are; a test keeps the
# two in step) as a target's `[targets.<target>.neural]` table may set them.
NEURAL_NETWORK_KEYS: dict[str, Key] = {
    "d_model": Key(int, ge=1), "n_heads": Key(int, ge=1), "n_layers": Key(int, ge=1), "d_ff": Key(int, ge=1),
    "dropout": Key(float, ge=0.0, lt=1.0), "n_freq": Key(int, ge=1), "epochs": Key(int, ge=1),
    "batch_size": Key(int, ge=1), "lr": Key(float, gt=0.0), "weight_decay": Key(float, ge=0.0),
    "swa_fraction": Key(float, **_FRACTION),
}

SCHEMA: dict[str, dict[str, Key]] = {
    "": {"name": Key(str), "seed": Key(int, ge=0),
         "data": Key(dict), "features": Key(dict), "censoring": Key(dict), "cv": Key(dict), "domain": Key(dict),
         "targets": Key(dict)},
    "data": {"sources": Key(list, choices=_sources), "aggregation": Key(str, choices=_aggregations),
             "extra": Key(list)},
    "features": {"preset": Key(str, choices=_presets)},
    "censoring": {"strategy": Key(str, choices=CENSORING_STRATEGIES), "log10_value": Key(float)},
    "cv": {"n_splits": Key(int, ge=2), "group_by": Key(str, choices=GROUP_BY),
           "interval_coverage": Key(float, gt=0.0, lt=1.0)},
    "domain": {"k": Key(int, ge=1), "n_features": Key(int, ge=1), "quantile": Key(float, **_FRACTION)},
    "targets": {t: Key(dict) for t in TARGETS},
    **{f"targets.{t}": {**XGBOOST_PARAMS, "knn": Key(dict), "bag": Key(int, ge=1), "neural": Key(dict)}
       for t in TARGETS},
    **{f"targets.{t}.knn": {"k": Key(int, ge=0), "folds": Key(int, ge=2)} for t in TARGETS},
    **{f"targets.{t}.neural": {"enabled": Key(bool), "blend": Key(float, ge=0.0, le=1.0, words=(BLEND_CV,)),
                               **NEURAL_NETWORK_KEYS} for t in TARGETS},
}
# The dataclass each plain section fills (`[features]` fills `RunConfig.preset`, `[targets.*]` `RunConfig.params`).
SECTION_CLASSES = {"data": DataConfig, "censoring": CensoringConfig, "cv": CVConfig, "domain": DomainConfig}
# What an unknown key is called in messages, by section ("key" elsewhere); `<target>` stands for a target name.
NOUNS = {"": "key", "targets": "target", "targets.<target>": "XGBoost parameter"}
# Keys that are refused with a pointer to where their setting lives (`{target}`: the target's name).
ELSEWHERE = {
    ("targets.<target>", "knn_k"): "moved to [targets.{target}.knn] k",
    ("targets.<target>", "knn_folds"): "moved to [targets.{target}.knn] folds",
    ("targets.<target>", "random_state"): "not set per target: the top-level seed seeds XGBoost",
    ("targets.<target>", "seed"): "not set per target: the top-level seed seeds XGBoost",
    ("targets.<target>", "n_jobs"): "not a config setting: threads are chosen when a run starts",
    ("targets.<target>", "nthread"): "not a config setting: threads are chosen when a run starts",
    ("", "knn"): "not a section: kNN settings are per target, in [targets.<target>.knn] (k, folds)",
    ("", "preset"): "not a top-level key: the preset is [features] preset",
}
ALIASES = {"targets": TARGET_ALIASES}


def _generic(section: str) -> str:
    """The schema section with the target name replaced by `<target>` (for `NOUNS` and `ELSEWHERE`)."""
    parts = section.split(".")
    if len(parts) > 1 and parts[0] == "targets":
        parts[1] = "<target>"
    return ".".join(parts)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a float ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__} ({value})"


_EXPECTED = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "a list of strings", dict: "a table"}
_BOUNDS = (("ge", "≥", lambda v, b: v >= b), ("gt", ">", lambda v, b: v > b),
           ("le", "≤", lambda v, b: v <= b), ("lt", "<", lambda v, b: v < b))


def _suggest(word: str, known: Iterable[str], aliases: dict[str, str] | None = None, quote: bool = False) -> str:
    """`, did you mean X?` for a misspelt name (or a known alias), else ''. A name is also matched by its first
    dash-separated part, so that 'medain' finds 'median-log10'."""
    candidates: dict[str, str] = {}
    for k in known:
        candidates.setdefault(k, k)
    for k in list(candidates.values()):
        candidates.setdefault(k.split("-")[0], k)
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    match = aliases[word] if aliases and word in aliases else candidates[close[0]] if close else None
    if match is None:
        return ""
    return f", did you mean {match!r}?" if quote else f", did you mean {match}?"


class _Checker:
    """Checks a raw config against `SCHEMA`; every refusal names the source file and the key."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, problem: str):
        raise ConfigError(f"{self.source}: {where}: {problem}")

    @staticmethod
    def where(section: str, key: str, table: bool = False) -> str:
        """`[section] key`, or `[section.key]` for a table (`key` alone at the top level)."""
        if table:
            return f"[{section}.{key}]" if section else f"[{key}]"
        return f"[{section}] {key}" if section else key

    def table(self, raw: dict[str, Any], section: str) -> dict[str, Any]:
        """The checked values of a table (sub-tables checked recursively), floats read as floats."""
        schema = SCHEMA[section]
        out: dict[str, Any] = {}
        for key, value in raw.items():
            spec = schema.get(key)
            if spec is None:
                self.unknown(section, key, value, schema)
            elif spec.kind is dict:
                if not isinstance(value, dict):
                    self.fail(self.where(section, key, table=True), f"expected a table, got {_describe(value)}")
                out[key] = self.table(value, f"{section}.{key}" if section else key)
            else:
                out[key] = self.value(self.where(section, key), value, spec)
        return out

    def unknown(self, section: str, key: str, value: Any, schema: dict[str, Key]):
        generic = _generic(section)
        noun = NOUNS.get(generic, "key")
        table = isinstance(value, dict) and noun == "key"
        where = self.where(section, key, table=table)
        moved = ELSEWHERE.get((generic, key))
        if moved:
            target = section.split(".")[1] if generic.startswith("targets.<target>") else "<target>"
            self.fail(where, moved.format(target=target))
        known = [self.where(section, k, table=True) if spec.kind is dict and noun != "target" else k
                 for k, spec in schema.items()]
        hint = _suggest(key, schema, ALIASES.get(generic))
        self.fail(where, f"unknown {'section' if table else noun}{hint} (known: {', '.join(known)})")

    def value(self, where: str, value: Any, spec: Key) -> Any:
        kind = spec.kind
        if spec.words and isinstance(value, str):
            if value not in spec.words:
                hint = _suggest(value, spec.words, quote=True)
                self.fail(where, f"unknown value {value!r}{hint} (expected {_EXPECTED[kind]} or "
                                 f"{' or '.join(repr(w) for w in spec.words)})")
            return value
        if kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is list:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            ok = isinstance(value, kind)
        if not ok:
            alternatives = "".join(f" or {w!r}" for w in spec.words)
            self.fail(where, f"expected {_EXPECTED[kind]}{alternatives}, got {_describe(value)}")
        if kind is float:
            value = float(value)
            if not math.isfinite(value):
                self.fail(where, f"expected a finite number, got {value!r}")
        if kind is list:
            if not value:
                self.fail(where, "expected at least one value, got an empty list")
            twice = sorted({v for v in value if value.count(v) > 1})
            if twice:
                self.fail(where, f"listed more than once: {', '.join(twice)}")
        if spec.choices is not None:
            choices = tuple(spec.choices() if callable(spec.choices) else spec.choices)
            for item in value if kind is list else [value]:
                if item not in choices:
                    hint = _suggest(item, choices, quote=True)
                    self.fail(where, f"unknown value {item!r}{hint} (known: {', '.join(choices)})")
        bounds = [(sym, getattr(spec, name), test) for name, sym, test in _BOUNDS if getattr(spec, name) is not None]
        if any(not test(value, bound) for _, bound, test in bounds):
            rule = " and ".join(f"{sym} {bound:g}" for sym, bound, _ in bounds)
            self.fail(where, f"{value!r} is out of range (must be {rule})")
        return value


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs besides the data.

    Attributes:
        name: a label for the run.
        seed: seeds the folds and XGBoost.
        data, censoring, cv, domain: see their classes.
        preset: the feature preset id, e.g. `composition-v1`.
        params: per target (`log10_sigma`, `ea_eV`), its `[targets.<target>]` table: XGBoost parameters, and
            under `knn` its kNN target features (`{"k": ..., "folds": ...}`, see `KNN_DEFAULTS`) if it has them,
            under `neural` its neural member (see `NEURAL_DEFAULTS` and `neural`) if it has one.
            This is what `sulfml.model.estimator.make_regressor` takes.
    """

    name: str = "default"
    seed: int = 42
    data: DataConfig = DataConfig()
    censoring: CensoringConfig = CensoringConfig()
    cv: CVConfig = CVConfig()
    domain: DomainConfig = DomainConfig()
    preset: str = "composition-v1"
    params: dict[str, dict[str, Any]] = field(default_factory=lambda: {t: {} for t in TARGETS})

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config", base_dir: str | Path | None = None) -> RunConfig:
        """Build from the TOML layout, checked against `SCHEMA`; missing sections and keys take the defaults.

        Args:
            raw: the parsed TOML.
            source: what messages call the config (the file name, for `from_toml`).
            base_dir: what a relative `[data] extra` path is relative to (default: the current directory).

        Raises:
            ConfigError: an unknown section or key, a wrong type, an unknown value or one out of range, or an
                `[data] extra` file that does not exist; the message names `source` and the key.
        """
        checker = _Checker(source)
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a table of settings, got {_describe(raw)}")
        checked = checker.table(raw, "")
        sections = {s: checked.get(s, {}) for s in SECTION_CLASSES}
        if "sources" in sections["data"]:
            sections["data"]["sources"] = tuple(sections["data"]["sources"])
        if "extra" in sections["data"]:
            sections["data"]["extra"] = _extra_files(sections["data"]["extra"], base_dir, checker)
        targets = checked.get("targets", {})
        params = {}
        for t in TARGETS:
            params[t] = dict(targets.get(t, {}))
            if "knn" in params[t]:
                params[t]["knn"] = {**KNN_DEFAULTS, **params[t]["knn"]}
            if "neural" in params[t]:
                params[t]["neural"] = {**NEURAL_DEFAULTS, **params[t]["neural"]}
        return cls(
            **{k: checked[k] for k in ("name", "seed") if k in checked},
            **{s: SECTION_CLASSES[s](**values) for s, values in sections.items()},
            preset=checked.get("features", {}).get("preset", cls.preset),
            params=params,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        """Read and check a config file (see `from_dict`); messages name the file.

        Raises:
            ConfigError: the file is missing, not TOML, or not a valid config.
        """
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
        return cls.from_dict(raw, source=path.name, base_dir=path.parent)

    def to_dict(self) -> dict[str, Any]:
        """The TOML layout, so that `from_dict(to_dict())` gives the same config."""
        return {
            "name": self.name,
            "seed": self.seed,
            # `extra` only when given, so a config without the user's files keeps its layout and digest
            "data": {"sources": list(self.data.sources), "aggregation": self.data.aggregation,
                     **({"extra": list(self.data.extra)} if self.data.extra else {})},
            "features": {"preset": self.preset},
            "censoring": asdict(self.censoring),
            "cv": asdict(self.cv),
            "domain": asdict(self.domain),
            "targets": {t: copy.deepcopy(p) for t, p in self.params.items()},
        }

    def to_toml(self) -> str:
        """The config as TOML text."""
        return tomli_w.dumps(self.to_dict())

    def write(self, path: str | Path) -> Path:
        """Write the config as TOML."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_toml())
        return path

    @property
    def digest(self) -> str:
        """A short hash of the config's content (with the paths of the user's files, when it has them)."""
        return hashlib.sha256(self.to_toml().encode()).hexdigest()[:12]

    def neural(self, target: str) -> dict[str, Any] | None:
        """The target's `[targets.<target>.neural]` table when it asks for the network (`enabled`), else None:
        `blend` (`"cv"` or the network's weight) and the network's parameters given in the file."""
        table = self.params.get(target, {}).get("neural")
        return dict(table) if table and table.get("enabled") else None

    @property
    def neural_targets(self) -> tuple[str, ...]:
        """The targets whose neural member is enabled."""
        return tuple(t for t in TARGETS if self.neural(t) is not None)

    def with_params(self, target: str, params: dict[str, Any]) -> RunConfig:
        """A copy with one target's `[targets.<target>]` table (XGBoost parameters, `knn`) replaced, checked
        as a file would be.

        Raises:
            ConfigError: the parameters are not valid (the message calls the config by its name).
        """
        changed = replace(self, params={**self.params, target: copy.deepcopy(dict(params))})
        return RunConfig.from_dict(changed.to_dict(), source=f"config {self.name!r}")

    def with_extra(self, paths: Iterable[str | Path]) -> RunConfig:
        """A copy that also learns from the user's measurement files `paths` (relative to the current
        directory), after the config's own `[data] extra`; the same config when `paths` is empty.

        Raises:
            InputError: a file does not exist.
            ConfigError: a file is already in the config, or given twice.
        """
        added = []
        for p in paths:
            if not Path(p).is_file():
                raise InputError(f"measurements file not found: {p}")
            added.append(_absolute(p, None))
        if not added:
            return self
        changed = replace(self, data=replace(self.data, extra=(*self.data.extra, *added)))
        return RunConfig.from_dict(changed.to_dict(), source=f"config {self.name!r}")


def _absolute(path: str | Path, base_dir: str | Path | None) -> str:
    """`path` as an absolute, normalised path; a relative one is relative to `base_dir` (default: the current
    directory)."""
    return os.path.normpath(os.path.join(os.path.abspath(base_dir or os.curdir), path))


def _extra_files(paths: list[str], base_dir: str | Path | None, checker: _Checker) -> tuple[str, ...]:
    """`[data] extra` as absolute paths, each an existing file (the run reads them all, so a missing one
    fails here, before anything is trained)."""
    out = tuple(_absolute(p, base_dir) for p in paths)
    for given, path in zip(paths, out, strict=True):
        if not Path(path).is_file():
            what = "is a directory, not a file" if Path(path).is_dir() else "file not found"
            checker.fail(checker.where("data", "extra"), f"{what}: {given!r} ({path})")
    twice = sorted({p for p in out if out.count(p) > 1})
    if twice:
        checker.fail(checker.where("data", "extra"), f"listed more than once: {', '.join(twice)}")
    return out

