"""The "Known materials" answers of the web API: the data table, loaded once on first use, and the search's
records as a typed response (`GET /api/materials`).

The search itself is `sulfml.data.search.search`; this module only loads the table, adds what the page
plots (1000/T of each point, the fit's line) and says so when the data cannot be had.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from sulfml.errors import DataUnavailableError, UserError

if TYPE_CHECKING:
    from sulfml.data.search import MaterialRecord
    from sulfml.data.table import DataTable

log = logging.getLogger("sulfml.server")

MAX_MATERIALS = 200
LINE_POINTS = 24
# After a failed load, the next request tries again only after this long (a download is not retried per keystroke).
RETRY_AFTER_S = 60.0


class DataUnavailable(DataUnavailableError):
    """The measured data cannot be loaded (no data directory, a missing or altered file, no network)."""


class PlotPoint(BaseModel):
    """A point of the Arrhenius plot."""

    inv_T: float = Field(description="1000 / T (1/K)")
    log10_sigma: float


class ArrheniusFitModel(BaseModel):
    """The material's σ(T) fitted in the σT form, log10(σT) = A − Ea / (k ln10 T)."""

    ea_eV: float
    log10_prefactor: float = Field(description="A: log10 of σT's prefactor (σ in S/cm, T in K)")
    log10_sigma_rt: float = Field(description="the fit's log10 σ at 298.15 K")
    r2: float
    n_points: int
    temperature_min_K: float
    temperature_max_K: float
    line: list[PlotPoint] = Field(description="the fit over the temperatures fitted, for the plot")


class MeasurementModel(BaseModel):
    """One measurement as its source gives it."""

    log10_sigma: float = Field(description="log10 σ (S/cm); an upper bound when censored")
    sigma_S_cm: float
    temperature_K: float | None = Field(description="null: the source says room temperature only")
    room_temperature: bool
    ea_eV: float | None
    paper: str | None = Field(description="the paper (a supporting-information DOI counts as its paper)")
    doi: str | None
    source: str
    source_row_id: str
    state: str
    censored: bool
    space_group: int | None = Field(description="the polymorph's space group, when the row's source, a "
                                                "polymorph name or the material's only polymorph gives one")
    inv_T: float = Field(description="1000 / T for the plot (25 °C when no temperature is stated)")


class PolymorphModel(BaseModel):
    """One polymorph of a material: its room-temperature median over its own papers."""

    space_group: int | None
    log10_sigma: float
    censored: bool
    n_papers: int


class MaterialModel(BaseModel):
    """A measured material (composition, additive, state) with every measurement."""

    material_key: str
    formula: str
    composition_key: str
    additive: str | None
    state: str
    space_group: int | None = Field(description="the space group every measurement names, else null")
    polymorphs: list[PolymorphModel] = Field(description="per space group the data name (null: the rows that "
                                                         "name none), the same aggregation; empty when none")
    family: str | None
    log10_sigma: float | None = Field(description="median over papers of log10 σ at room temperature, one "
                                                  "value per paper (the table's one aggregation rule)")
    censored: bool
    n_papers: int
    log10_sigma_min: float | None
    log10_sigma_max: float | None
    ea_eV: float | None
    measurements: list[MeasurementModel]
    arrhenius: ArrheniusFitModel | None = Field(description="present with σ at three or more temperatures")


class QueryModel(BaseModel):
    """How the search text was read."""

    text: str
    kind: str = Field(description="formula, elements, family or doi")
    value: str
    description: str


class MaterialsResponse(BaseModel):
    """The measured materials a search finds, most documented first."""

    query: QueryModel
    limit: int
    materials: list[MaterialModel]


class TableSource:
    """The data table, built once on first use (from `data_dir`, else $SULFML_DATA_DIR, else the user cache,
    downloading the pinned files) and shared by every request; or a table given ready-made."""

    def __init__(self, data_dir: str | Path | None = None, table: DataTable | None = None) -> None:
        self.data_dir, self._table = data_dir, table
        self._lock = threading.Lock()
        self._failure: tuple[float, str] | None = None

    def get(self) -> DataTable:
        """The table; blocks while another request builds it.

        Raises:
            DataUnavailable: the data cannot be had (the reason is kept for `RETRY_AFTER_S` seconds).
        """
        with self._lock:
            if self._table is not None:
                return self._table
            if self._failure is not None and time.monotonic() - self._failure[0] < RETRY_AFTER_S:
                raise DataUnavailable(self._failure[1])
            from sulfml.data.table import build_table

            try:
                self._table = build_table(self.data_dir)
            except (UserError, OSError) as exc:
                reason = str(exc) or type(exc).__name__
                log.warning("measured data not available: %s", reason)
                self._failure = (time.monotonic(), reason)
                raise DataUnavailable(reason) from None
            return self._table


def _material(record: MaterialRecord) -> dict[str, Any]:
    from sulfml.service.physics import ROOM_T_K

    item = asdict(record)
    for m in item["measurements"]:
        m["inv_T"] = 1000.0 / (m["temperature_K"] or ROOM_T_K)
    fit = record.arrhenius
    if fit is not None:
        lo, hi = fit.temperature_min_K, fit.temperature_max_K
        kelvins = [1 / (1 / hi + (1 / lo - 1 / hi) * i / (LINE_POINTS - 1)) for i in range(LINE_POINTS)]
        item["arrhenius"]["line"] = [{"inv_T": 1000.0 / t, "log10_sigma": fit.log10_sigma_at(t)} for t in kelvins]
    return item


def materials(table: DataTable, text: str, limit: int) -> dict[str, Any]:
    """The answer of `GET /api/materials`: the query as read and the matching materials (`MaterialsResponse`).

    Raises:
        InputError: the text reads as nothing.
    """
    from sulfml.data.search import read_query, search

    query = read_query(table, text)
    records = search(table, query, limit=limit)
    return {"query": asdict(query), "limit": limit,
            "materials": [_material(r) for r in records]}
