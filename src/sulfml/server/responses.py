"""The typed answers of the web API: one pydantic model per route, so the OpenAPI schema (`/api/docs`)
documents every field with its type, unit and meaning.

The routes send the JSON-ready dicts of `sulfml.server.payloads` as they are built: validating 5,000 rows
with their neighbours per request would cost about a third of the request, so `tests/server/test_app.py`
holds every route's answer to its model instead. Numbers a row does not have are `null`, never NaN: every
model refuses NaN and infinities (`allow_inf_nan=False`), so a payload that let one through fails those
tests rather than a client's JSON parser, and a field no model names is refused there too, except in the
rows, which keep extra columns (`input_<name>` of an upload) as they come.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sulfml.parse.state import STATES
from sulfml.server.limits import Limits
from sulfml.server.materials import PlotPoint
from sulfml.service.known import BASES
from sulfml.workflows.screen import RANKS

LOG10_SIGMA = "log10 of the ionic conductivity σ in S/cm"
INTERVAL = "the calibrated interval (its coverage, 0.9 for the shipped models: `coverage` of /api/about)"
NOT_PREDICTED = "null for a row that could not be predicted"


class Strict(BaseModel):
    """A response part: NaN and infinities are refused (JSON has neither; the API answers null), and so are
    fields it does not name (an answer that grew a field must document it)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class Open(Strict):
    """A response part that keeps fields it does not name (they are passed on as they are)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="allow")


class Problem(Strict):
    """A refused or failed request."""

    detail: str = Field(description="why, in words")


# The error answers every route may give (413 and 500 from the middleware and the catch-all handler).
ERRORS: dict[int | str, dict] = {
    413: {"model": Problem, "description": "the request body is larger than the server takes"},
    422: {"model": Problem, "description": "a request that cannot be predicted: `detail` says why"},
    500: {"model": Problem, "description": "an internal error (logged by the server)"},
}


class Health(Strict):
    """The server is up: the models are loaded before it answers at all."""

    status: Literal["ok"]


class ModelSummary(Strict):
    """One target's loaded model, from its card."""

    registered_model: str | None = Field(description="the MLflow registered model name (null: not registered)")
    registered_version: int | str | None = Field(description="its registered version")
    alias: str | None = Field(description="the registry alias it was loaded by, e.g. champion")
    config: str | None = Field(description="the training configuration's name")
    preset: str | None = Field(description="the feature preset")
    trained_at: str | None = Field(description="when it was trained (ISO 8601)")
    n_train: int | None = Field(description="training materials")
    metrics: dict[str, float | None] = Field(description="cross-validation metrics (cv_mae in the target's "
                                                         "unit: decades of σ, or eV)")
    package_version: str | None = Field(description="the sulfml version that trained it")
    features: int = Field(description="the model's input features")


class PinnedFile(Strict):
    """A downloaded data file, pinned to its commit and checksum."""

    file: str
    commit: str
    sha256: str


class DataSource(Strict):
    """A training data source."""

    name: str
    licence: str | None
    citation: str | None
    files: list[PinnedFile] = Field(description="the pinned files (empty for the bundled review table)")


class ScreenOption(Strict):
    """One setting of a dopant screen (`sulfml.workflows.screen.ScreenOptions`)."""

    default: float | int | str | None
    choices: list[str] | None = Field(description="the values it may take (null: any of its type)")
    help: str


class RankChoice(Strict):
    """One way to rank a screen's candidates."""

    label: str = Field(description="the form's label")
    description: str = Field(description="what it orders by")


class ScreenSettings(Strict):
    """The screen's settings with their defaults, choices and meaning, and the rankings."""

    options: dict[str, ScreenOption]
    ranks: dict[str, RankChoice]


class About(Strict):
    """The loaded models, their data sources and this server's limits."""

    version: str = Field(description="the sulfml package version")
    source: str = Field(description="where the models were loaded from (a directory or a registry alias)")
    models: dict[str, ModelSummary] = Field(description="per target: log10_sigma (S/cm, log10) and ea_eV (eV)")
    sources: list[DataSource]
    temperature_range_K: list[float] = Field(min_length=2, max_length=2,
                                             description="[lowest, highest] temperature (K) of the training "
                                                         "measurements")
    range_from_data: bool = Field(description="false: the models' cards carry no range; a default is shown")
    limits: Limits = Field(description="what one request may ask for")
    states: list[str] = Field(description=f"the states a request may name ({', '.join(STATES)})")
    coverage: float | None = Field(description="the intervals' nominal coverage, from the models' card (null: "
                                               "no interval calibration)")
    screen: ScreenSettings = Field(description="the dopant screen's settings, as its form shows them")


class Measurement(Strict):
    """One paper's room-temperature value behind a known material."""

    paper: str | None = Field(description="DOI or review reference")
    log10_sigma: float | None = Field(description=LOG10_SIGMA)


class Polymorph(Strict):
    """One polymorph of a known material: the median of its own papers."""

    space_group: int | None = Field(description="international number 1-230 (null: rows naming none)")
    log10_sigma: float | None = Field(description=LOG10_SIGMA + "; an upper bound when censored")
    censored: bool | None = Field(description="every paper gives an upper bound only")
    n_papers: int


class Neighbor(Open):
    """A nearest training material in the model's feature space, with what was measured."""

    formula: str
    state: str | None
    space_group: int | None = Field(description="international number 1-230 (null: not known)")
    log10_sigma: float | None = Field(description="measured " + LOG10_SIGMA + " at room temperature, the median "
                                                  "of `measurements`; an upper bound when censored")
    censored: bool | None = Field(description="every paper gives an upper bound only")
    ea_eV: float | None = Field(description="measured activation energy (eV)")
    sources: str | None = Field(description="the data sources, separated by ;")
    papers: list[str] = Field(description="every paper (DOI or review reference) behind the value")
    n_papers: int
    measurements: list[Measurement]
    polymorphs: list[Polymorph] | None = Field(None, description="present when the data name several space "
                                                                 "groups")
    distance: float = Field(description="distance in the domain's feature space (0: the material itself)")


class PredictionRow(Open):
    """One input row's prediction (`sulfml predict`'s columns); an upload's other columns follow as
    `input_<name>`."""

    input: str | None = Field(description="the text the row asked for (a formula, or the CIF's name)")
    formula: str | None = Field(description="the formula as read (reduced); " + NOT_PREDICTED)
    state: str | None = Field(description=f"the state predicted for ({', '.join(STATES)})")
    space_group: int | None = Field(description="international number 1-230 (null: not known); "
                                                "`space_groups` labels it")
    basis: str | None = Field(description=f"what the answer rests on: {', '.join(BASES)} (a material the training "
                                          "data hold answers with its measurements)")
    log10_sigma: float | None = Field(description=f"{LOG10_SIGMA}, at `temperature_K`; " + NOT_PREDICTED)
    sigma_S_cm: float | None = Field(description="σ in S/cm, 10 ** log10_sigma")
    log10_sigma_lo: float | None = Field(description=f"lower bound of {INTERVAL} of log10_sigma")
    log10_sigma_hi: float | None = Field(description=f"upper bound of {INTERVAL} of log10_sigma")
    measured_log10_sigma: float | None = Field(description="the training data's median over papers at room "
                                                           "temperature, " + LOG10_SIGMA + " (null: not measured)")
    measured_n_papers: int = Field(description="papers behind measured_log10_sigma (0: not a known material)")
    measured_range: list[float] | None = Field(description="[lowest, highest] paper, log10 σ (S/cm)")
    ea_eV: float | None = Field(description="activation energy in eV; " + NOT_PREDICTED)
    ea_lo: float | None = Field(description=f"lower bound of {INTERVAL} of Ea (eV)")
    ea_hi: float | None = Field(description=f"upper bound of {INTERVAL} of Ea (eV)")
    measured_ea_eV: float | None = Field(description="the training data's measured Ea (eV; null: not measured)")
    bvse_barrier_eV: float | None = Field(description="CIF rows: the lowest bond-valence barrier (eV) at which "
                                                      "Li percolates in 3D (null: none below the cut-off, or no CIF)")
    bvse_dimension: float | None = Field(description="CIF rows: the Li network's dimension at the lowest barrier")
    temperature_K: float | None = Field(description="the temperature (K) the row is predicted at")
    in_domain: bool | None = Field(description="within the applicability domain (false: `warning` says why)")
    warning: str = Field(description="notes for the reader, separated by '; ' (empty: none)")
    error: str = Field(description="why the row could not be predicted (empty: it was)")
    neighbors: list[Neighbor] = Field(description="the nearest training materials, nearest first")


class Prediction(Strict):
    """Every row of a request, in order; bad rows keep their place with their `error`."""

    columns: list[str] = Field(description="the rows' columns, in order")
    rows: list[PredictionRow]
    n: int = Field(description="rows")
    failed: int = Field(description="rows with an error")
    space_groups: dict[str, str] = Field(description="label of each space group number of the rows and their "
                                                     "neighbours: {\"62\": \"Pnma (62)\"}")


class FilePrediction(Prediction):
    """The rows of an uploaded file, with what was guessed while reading it."""

    notes: list[str] = Field(description="what was guessed (the encoding, the separator, the column)")


class ArrheniusPoint(Strict):
    """A point of the predicted σ(T) curve."""

    T_K: float = Field(description="temperature (K)")
    inv_T: float = Field(description="1000 / T (1/K)")
    log10_sigma: float | None = Field(description=LOG10_SIGMA)
    lo: float | None = Field(description=f"lower bound of {INTERVAL}")
    hi: float | None = Field(description=f"upper bound of {INTERVAL}")


class DetailNeighbor(Neighbor):
    """A nearest training material, placed on the Arrhenius plot."""

    inv_T: float = Field(description="1000 / T of its room-temperature value (1/K)")
    line: list[PlotPoint] | None = Field(None, description="its measured σ carried along its measured Ea (σT "
                                                           "form), when both are known")


class Contribution(Strict):
    """One model input's share of a prediction."""

    feature: str = Field(description="the model's column name")
    description: str = Field(description="the same in words")
    value: float | None = Field(description="the feature's value for this material (null: missing)")
    contribution: float = Field(description="what it adds to the prediction, in the target's unit")


class Explanation(Strict):
    """A prediction at 25 °C split into the average and per-feature contributions (XGBoost pred_contribs)."""

    target: str = Field(description="log10_sigma (decades of S/cm) or ea_eV (eV)")
    prediction: float = Field(description="the trees' own answer at 25 °C: bias + every contribution")
    bias: float = Field(description="the model's starting value")
    top: list[Contribution] = Field(description="the largest contributions, largest first")
    rest: float = Field(description="the sum of all the other contributions")
    network_weight: float = Field(0.0, description="the neural network's share of the model's answer (0: the "
                                                   "trees alone)")
    network_prediction: float | None = Field(None, description="the network's own answer (null: no network)")
    blended: float | None = Field(None, description="the model's answer: (1 − network_weight) · prediction + "
                                                    "network_weight · network_prediction (null: no network)")
    note: str = Field("", description="what the network adds, in words (empty: no network)")


class Detail(Strict):
    """One formula in detail. A row that could not be predicted has only `row` (with its `error`), the range
    and the labels."""

    row: PredictionRow
    temperature_range_K: list[float] = Field(min_length=2, max_length=2,
                                             description="[lowest, highest] temperature (K) the curve spans")
    range_from_data: bool = Field(description="false: the models' cards carry no range; a default is shown")
    space_groups: dict[str, str] = Field(description="label of each space group number of the row and its "
                                                     "neighbours")
    arrhenius: list[ArrheniusPoint] | None = Field(None, description="log10 σ against 1000/T with the interval "
                                                                     "band, 25 °C and the requested temperature "
                                                                     "included")
    neighbors: list[DetailNeighbor] | None = None
    why: dict[str, Explanation] | None = Field(None, description="per target, the features that drove it most "
                                                                 "(null: the formula cannot be read)")


class ScreenRow(Open):
    """The parent's baseline or a ranked candidate."""

    role: str = Field(description="parent (the baseline) or candidate")
    formula: str | None
    substitution: str = Field(description="what replaces what, e.g. P=Si0.25 (empty for the parent)")
    basis: str | None = Field(description=f"{', '.join(BASES)}")
    log10_sigma: float | None = Field(description=LOG10_SIGMA)
    sigma_S_cm: float | None = Field(description="σ in S/cm")
    log10_sigma_lo: float | None = Field(description=f"lower bound of {INTERVAL}")
    log10_sigma_hi: float | None = Field(description=f"upper bound of {INTERVAL}")
    measured_log10_sigma: float | None = Field(description="measured median over papers (null: not measured)")
    measured_n_papers: int | None = Field(description="papers behind the measured value")
    ea_eV: float | None = Field(description="activation energy (eV)")
    p_gain: float | None = Field(description=RANKS["p_gain"] + " (0.5 for the parent)")
    in_domain: bool | None
    score: float | None = Field(description="the value ranked by: " + "; ".join(f"{k}: {v}" for k, v in RANKS.items()))
    warning: str | None


class ScreenPoint(Strict):
    """A predicted candidate on the scatter plot."""

    formula: str
    series: str = Field(description="its dopant combination, e.g. P→Si; S→Cl")
    fraction: float = Field(description="total dopant fraction")
    sites: dict[str, float] = Field(description="the fraction of each substituted site, e.g. {\"P\": 0.25}")
    log10_sigma: float | None = Field(description=LOG10_SIGMA)
    lo: float | None = Field(description=f"lower bound of {INTERVAL}")
    hi: float | None = Field(description=f"upper bound of {INTERVAL}")
    in_domain: bool | None


class Screen(Strict):
    """A dopant screen: the parent's baseline, the ranked top, every candidate's point."""

    columns: list[str]
    rows: list[ScreenRow] = Field(description="the parent first, then the candidates by `rank`")
    counts: dict[str, int] = Field(description="candidates, predicted, failed, same_as_parent, skipped")
    parent_states: dict[str, int] = Field(description="the parent's oxidation state per element")
    residual: float = Field(description="the parent's charge imbalance with those states")
    rank: str = Field(description=f"the ranking ({', '.join(RANKS)})")
    points: list[ScreenPoint]
    coverage: float | None = Field(description="the intervals' nominal coverage, from the models' card")
    reference: float | None = Field(description="the log10 σ p_gain compares with: the parent's best estimate")
