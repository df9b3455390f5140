"""Run configuration read from `experiments/configs/*.toml`: frozen dataclasses, the only input of a run."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from sulfml.errors import ConfigError

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
    """Which rows a run learns from."""

    sources: tuple[str, ...] = ("review", "obelix", "liverpool", "laskowski")
    aggregation: str = "median-log10"


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
class RunConfig:
    """Everything a training run needs besides the data.

    Attributes:
        name: a label for the run.
        seed: seeds the folds and XGBoost.
        data, censoring, cv: see their classes.
        preset: the feature preset id, e.g. `composition-v1`.
        params: XGBoost hyperparameters per target (`log10_sigma`, `ea_eV`).
    """

    name: str = "default"
    seed: int = 42
    data: DataConfig = DataConfig()
    censoring: CensoringConfig = CensoringConfig()
    cv: CVConfig = CVConfig()
    preset: str = "composition-v1"
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Build from the TOML layout (`[data]`, `[features]`, `[censoring]`, `[cv]`, `[targets.*]`)."""
        data = raw.get("data", {})
        targets = raw.get("targets", {})
        unknown = set(targets) - set(TARGETS)
        if unknown:
            raise ValueError(f"unknown targets {sorted(unknown)}; known: {list(TARGETS)}")
        return cls(
            name=raw.get("name", "default"),
            seed=int(raw.get("seed", 42)),
            data=DataConfig(sources=tuple(data.get("sources", DataConfig.sources)),
                            aggregation=data.get("aggregation", DataConfig.aggregation)),
            censoring=CensoringConfig(**raw.get("censoring", {})),
            cv=CVConfig(**raw.get("cv", {})),
            preset=raw.get("features", {}).get("preset", "composition-v1"),
            params={t: dict(targets.get(t, {})) for t in TARGETS},
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        """Read a config file."""
        with open(path, "rb") as fh:
            return cls.from_dict(tomllib.load(fh))

    def to_dict(self) -> dict[str, Any]:
        """The TOML layout, so that `from_dict(to_dict())` gives the same config."""
        return {
            "name": self.name,
            "seed": self.seed,
            "data": {"sources": list(self.data.sources), "aggregation": self.data.aggregation},
            "features": {"preset": self.preset},
            "censoring": asdict(self.censoring),
            "cv": asdict(self.cv),
            "targets": {t: dict(p) for t, p in self.params.items()},
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
        """A short hash of the config's content."""
        return hashlib.sha256(self.to_toml().encode()).hexdigest()[:12]

    def with_params(self, target: str, params: dict[str, Any]) -> RunConfig:
        """A copy with one target's hyperparameters replaced."""
        return replace(self, params={**self.params, target: dict(params)})
