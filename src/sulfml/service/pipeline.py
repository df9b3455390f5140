"""The one predict pipeline: a batch of input rows through a fixed sequence of stages to the output table.

Stages, in order: temperatures → structures (CIF rows) → parse (each distinct text once) → featurize →
models (both targets, their distances and neighbours) → intervals and temperature → notes → table.
Every kind of input (formulas, files, CIFs, screening candidates) arrives as one frame; a bad row gets an
`error` and no numbers and never stops the others. `sulfml.service.predictor.Predictor` is its entry point.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sulfml.chem.batch import CompositionBatch, composition_batch
from sulfml.chem.composition import KeyedComposition
from sulfml.chem.elements import element_tables
from sulfml.chem.polymorphs import space_group_of_name
from sulfml.chem.space_groups import SpaceGroupError, space_group_label, space_group_number
from sulfml.cpus import available_cpus, one_blas_thread
from sulfml.errors import InputError
from sulfml.featurize import assemble
from sulfml.featurize.family import row_families
from sulfml.parse.state import CRYSTALLINE, UNKNOWN, StateError, implied_state, normalize_state, reading_note
from sulfml.service.known import known_materials
from sulfml.service.physics import ROOM_T_K, SHIFT_NOTE_FROM_K, arrhenius_shift, temperature_kelvin
from sulfml.service.structure import (
    bvse_check,
    bvse_disagreements,
    no_structure,
    reduced_formula,
    structure_fields,
)

if TYPE_CHECKING:
    from sulfml.model.domain import DomainModel
    from sulfml.parse.bulk import ParsedBatch
    from sulfml.tracking.bundle import Bundle

OUTPUT_COLUMNS = [
    "input", "formula", "state", "space_group", "basis", "log10_sigma", "sigma_S_cm", "log10_sigma_lo", "log10_sigma_hi",
    "measured_log10_sigma", "measured_n_papers", "measured_range", "ea_eV", "ea_lo", "ea_hi", "measured_ea_eV",
    "bvse_barrier_eV", "bvse_dimension", "temperature_K", "in_domain", "warning", "error", "neighbors",
]
N_NEIGHBORS = 3
PARALLEL_FROM = 2048  # rows from which the two targets are predicted in two threads
ONE_BLAS_THREAD_FROM = 1024  # rows from which BLAS runs on one thread (`sulfml.cpus.one_blas_thread`)


@dataclass
class Prediction:
    """A predicted batch as columns, with the nearest training materials as indices.

    `frame()` gives the output table; `frame(describe)` puts `neighbor_texts(describe)`, the CSV cell of
    `neighbors`, in its place without building the per-row dicts (the streaming writers use it).
    """

    columns: dict[str, Any]
    neighbor_idx: list[list[int]]  # per row: indices into the domain's training materials ([] for failed rows)
    neighbor_dist: list[list[float]]
    domain: DomainModel | None

    def __len__(self) -> int:
        return len(self.columns["input"])

    def neighbors(self) -> list[list[dict]]:
        """The `neighbors` column: the labelled nearest training materials of each row ([] for failed rows)."""
        if self.domain is None:
            return [[] for _ in range(len(self))]
        return self.domain.neighbors(self.neighbor_idx, self.neighbor_dist)

    def neighbor_texts(self, describe: Callable[[dict], str]) -> list[str]:
        """One text per row from `describe(label dict)` per training material (cached per material)."""
        if self.domain is None:
            return [""] * len(self)
        domain = self.domain
        # each material described once per stream, not once per chunk; then one lookup per neighbour
        texts = _descriptions(domain, describe)
        for j in set(itertools.chain.from_iterable(self.neighbor_idx)) - texts.keys():
            texts[j] = describe(domain.material(j))
        text = texts.__getitem__
        return ["; ".join(map(text, row)) for row in self.neighbor_idx]

    def frame(self, describe: Callable[[dict], str] | None = None) -> pd.DataFrame:
        """The output table; with `describe`, the `neighbors` column is `neighbor_texts(describe)`."""
        cols = dict(self.columns)
        cols["neighbors"] = self.neighbors() if describe is None else self.neighbor_texts(describe)
        # whole numbers or None (a float column would print 62.0)
        cols["space_group"] = pd.Series(cols["space_group"], dtype=object)
        return pd.DataFrame(cols, columns=[c for c in OUTPUT_COLUMNS if c in cols])


_DESCRIBED: dict[tuple[int, Callable], tuple[DomainModel, dict[int, str]]] = {}


def _descriptions(domain: DomainModel, describe: Callable[[dict], str]) -> dict[int, str]:
    """The texts `describe` gave the training materials of `domain` so far (a stream's chunks share them). The
    entry holds the domain itself, so its id cannot be reused by another object while cached."""
    hit = _DESCRIBED.get((id(domain), describe))
    if hit is None or hit[0] is not domain:
        if len(_DESCRIBED) >= 8:  # a process predicts with a few bundles; tests make many
            _DESCRIBED.clear()
        hit = _DESCRIBED[(id(domain), describe)] = (domain, {})
    return hit[1]


class _FeatureRows:
    """The distinct feature rows of a batch: whole-batch parses (`ParsedBatch` blocks) and single rows
    (dicts from `parse_formula`, with a CIF's structure columns), in the order they were added."""

    def __init__(self) -> None:
        self.parts: list[Any] = []  # (ParsedBatch, row indices, states) blocks or lists of dicts
        self.n = 0

    def add_dict(self, feat: dict) -> int:
        if not self.parts or not isinstance(self.parts[-1], list):
            self.parts.append([])
        self.parts[-1].append(feat)
        self.n += 1
        return self.n - 1

    def add_parsed(self, parsed: ParsedBatch, rows: np.ndarray, states: list[str]) -> np.ndarray:
        self.parts.append((parsed, rows, states))
        self.n += len(rows)
        return np.arange(self.n - len(rows), self.n)

    def dicts(self) -> list[dict]:
        """Every feature row as the dict `presets.featurize` reads (structure presets need it)."""
        symbols = element_tables().symbols
        feats = []
        for part in self.parts:
            if isinstance(part, list):
                feats += part
                continue
            parsed, rows, states = part
            for r, state in zip(rows, states, strict=True):
                comp = {symbols[j]: float(x) for j, x, p in zip(parsed.index[r], parsed.amount[r],
                                                                 parsed.present[r], strict=True) if p}
                feats.append({"composition": comp, "notation": "glass" if parsed.glass[r] else "plain",
                              "tags": "", "family": None, "state": state} | no_structure())
        return feats

    def batch(self) -> tuple[CompositionBatch, list, list, list, list]:
        """(CompositionBatch, notation, tags, family, state) of every feature row, for the vectorized
        featurizer."""
        blocks, notation, tags, family, state = [], [], [], [], []
        for part in self.parts:
            if isinstance(part, list):
                blocks.append(composition_batch([f["composition"] for f in part]))
                notation += [f.get("notation") for f in part]
                tags += [f.get("tags") for f in part]
                family += [f.get("family") for f in part]
                state += [f.get("state") for f in part]
                continue
            parsed, rows, states = part
            blocks.append(CompositionBatch(parsed.index[rows], parsed.amount[rows], parsed.present[rows]))
            notation += np.where(parsed.glass[rows], "glass", "plain").tolist()
            tags += [""] * len(rows)
            family += [None] * len(rows)
            state += states
        return CompositionBatch.concat(blocks), notation, tags, family, state


@dataclass
class _Batch:
    """Rows on their way through the stages. `live` marks rows without an error so far."""

    bundle: Bundle
    texts: list[str]  # what each row asks for: a formula, or "" when a CIF gives the composition
    temps: list[Any]
    cifs: list[str]
    states: list[Any]  # each row's own state cell (None or blank: what the formula implies)
    known_first: bool = True  # answer materials the training data hold with their measurements
    sgs: list[Any] = field(default_factory=list)  # each row's space group cell, then its number (None: unknown)
    out: dict[str, Any] = field(init=False)
    live: np.ndarray = field(init=False)
    room_log10_sigma: np.ndarray = field(init=False)
    bvse_computed: np.ndarray = field(init=False)
    # Rows with notes only, in the order the warning shows them: composition notes, then structure notes.
    domain_notes: dict[int, list[str]] = field(default_factory=dict)
    structure_notes: dict[int, list[str]] = field(default_factory=dict)
    read_notes: dict[int, str] = field(default_factory=dict)  # a state cell read as another word ('amorphous')
    structures: dict[int, dict] = field(default_factory=dict)  # row -> structure columns (structure presets)
    cif_amounts: dict[int, dict[str, float]] = field(default_factory=dict)
    feature_rows: _FeatureRows = field(default_factory=_FeatureRows)
    feat_of: np.ndarray = field(init=False)  # row -> feature row, -1 for rows without features
    feat_key: dict[int, str] = field(default_factory=dict)  # feature row -> its material key (known first)

    def __post_init__(self) -> None:
        n = len(self.texts)
        self.out = {c: [None] * n for c in OUTPUT_COLUMNS}
        self.out["input"] = [t or c for t, c in zip(self.texts, self.cifs, strict=True)]
        self.out["warning"] = [""] * n
        self.out["error"] = [""] * n
        self.out["measured_n_papers"] = np.zeros(n, np.int64)  # 0 for every row the data do not answer
        self.out["bvse_barrier_eV"] = np.full(n, np.nan)  # the physics cross-check of CIF rows
        self.out["bvse_dimension"] = np.full(n, np.nan)
        self.room_log10_sigma = np.full(n, np.nan)  # the answer at 25 °C, which the BVSE check judges
        self.bvse_computed = np.zeros(n, bool)
        self.live = np.ones(n, bool)
        self.feat_of = np.full(n, -1)
        if not self.sgs:
            self.sgs = [None] * n

    def fail(self, i: int, reason: str) -> None:
        self.out["error"][i] = reason
        self.live[i] = False


def run(inputs: pd.DataFrame, bundle: Bundle, known_first: bool = True) -> Prediction:
    """Predict every row of `inputs`, in order, through the stages (`finish` after `prepare`).

    Args:
        inputs: a `formula` column, optional `temperature_C` (blank: 25 °C) and `cif` (path) columns.
            A row with a CIF and no formula takes its composition from the structure.
        bundle: the models.
        known_first: answer a material the training data hold with its measurements (`sulfml.service.known`);
            False gives the models' own answers for every row.
    """
    return finish(prepare(inputs, bundle, known_first))


@dataclass
class Prepared:
    """A batch read, parsed and featurized by `prepare`, waiting for the models in `finish`.

    The two halves exist so that a stream can prepare one batch (mostly Python) while the models run on
    another (mostly C, `sulfml.service.predictor.Predictor.stream`).
    """

    batch: _Batch
    keep: np.ndarray  # the rows with a feature row
    X: np.ndarray | None  # the feature rows; None when there are none or featurizing failed


def prepare(inputs: pd.DataFrame, bundle: Bundle, known_first: bool = True) -> Prepared:
    """The stages before the models (temperatures, states, space groups, structures, parse, featurize);
    arguments as `run`'s."""
    n = len(inputs)

    def column(name: str) -> list:
        return inputs[name].tolist() if name in inputs.columns else [None] * n

    batch = _Batch(bundle, [_text(t) for t in column("formula")], column("temperature_C"),
                   [_text(c).strip() for c in column("cif")], column("state"), known_first, column("space_group"))
    _read_temperatures(batch)
    _read_states(batch)
    _read_space_groups(batch)
    _read_structures(batch)
    _parse(batch)
    keep = np.flatnonzero(batch.feat_of >= 0)
    return Prepared(batch, keep, _featurize(batch, keep) if len(keep) else None)


def finish(prepared: Prepared) -> Prediction:
    """The models' stages (both targets, intervals, known first, temperature, the domain) and the notes."""
    batch = prepared.batch
    n = len(batch.texts)
    prediction = Prediction(batch.out, [[] for _ in range(n)], [[] for _ in range(n)], None)
    far: dict[int, str] = {}
    shifted: dict[int, list[str]] = {}
    if prepared.X is not None:
        far, shifted = _predict(batch, prediction, prepared.X, prepared.keep)
    for i, note in bvse_disagreements(batch.out["bvse_barrier_eV"], batch.bvse_computed,
                                      batch.room_log10_sigma).items():
        batch.structure_notes.setdefault(i, []).append(note)
    for i in sorted(far.keys() | batch.read_notes.keys() | batch.domain_notes.keys() | batch.structure_notes.keys()
                    | shifted.keys()):
        notes = ([far[i]] if i in far else []) + ([batch.read_notes[i]] if i in batch.read_notes else []) \
            + batch.domain_notes.get(i, []) + batch.structure_notes.get(i, []) + shifted.get(i, [])
        batch.out["warning"][i] = "; ".join(notes)
    return prediction


def feature_matrix(bundle: Bundle, formulas: Sequence[str], states: Sequence[str | None]
                   ) -> tuple[np.ndarray, list[str | None]]:
    """The feature rows the models predict `formulas` from, by this pipeline's own stages (states, parse,
    featurize; compositions only, no CIF).

    Args:
        bundle: the models.
        formulas: the texts, as `run` reads them.
        states: each row's state (None: what its formula implies).

    Returns:
        (matrix with one row per formula in the σ model's feature order, NaN rows for the ones that cannot be
        predicted; the error per formula, None where it was read).
    """
    n = len(formulas)
    batch = _Batch(bundle, list(formulas), [None] * n, [""] * n, list(states))
    _read_states(batch)
    _parse(batch)
    names = bundle.models["log10_sigma"].card["feature_names"]
    X = np.full((n, len(names)), np.nan)
    if batch.feature_rows.n:
        built = features(batch.feature_rows, bundle)
        rows = np.flatnonzero(batch.feat_of >= 0)
        X[rows] = built[batch.feat_of[rows]]
    return X, [batch.out["error"][i] or None for i in range(n)]


def network_rows(bundle: Bundle, formulas: Sequence[str], states: Sequence[str | None]
                 ) -> tuple[CompositionBatch, list[str]]:
    """The compositions and states a neural member reads for `formulas`, by this pipeline's own stages (as
    `feature_matrix` builds the trees' rows).

    Raises:
        InputError: a formula that cannot be predicted (its error).
    """
    n = len(formulas)
    batch = _Batch(bundle, list(formulas), [None] * n, [""] * n, list(states))
    _read_states(batch)
    _parse(batch)
    failed = [batch.out["error"][i] for i in range(n) if batch.feat_of[i] < 0]
    if failed:
        raise InputError(failed[0] or "the formula cannot be predicted")
    comps, _, _, _, row_states = batch.feature_rows.batch()
    take = batch.feat_of.tolist()
    rows = CompositionBatch(comps.index[take], comps.amount[take], comps.present[take])
    return rows, [row_states[j] for j in take]


def _text(value: Any) -> str:
    if type(value) is str:
        return value
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _read_temperatures(batch: _Batch) -> None:
    """Kelvin per row (each distinct cell read once); an unusable temperature fails its row."""
    seen: dict[Any, tuple[float | None, str]] = {}
    kelvin = batch.out["temperature_K"]
    for i, cell in enumerate(batch.temps):
        if cell is None:
            kelvin[i] = ROOM_T_K
            continue
        key = cell if isinstance(cell, str) else repr(cell)
        if key not in seen:
            seen[key] = temperature_kelvin(cell)
        value, why = seen[key]
        if value is None:
            batch.fail(i, why)
        else:
            kelvin[i] = value


def _read_states(batch: _Batch) -> None:
    """Each row's own state (None where blank: the formula decides); a word that names no state fails its
    row."""
    seen: dict[str, tuple[str | None, str, str | None]] = {}
    for i, cell in enumerate(batch.states):
        text = _text(cell).strip()
        if text not in seen:
            try:
                seen[text] = (normalize_state(text) if text else None, "", reading_note(text))
            except StateError as exc:
                seen[text] = (None, str(exc), None)
        state, error, note = seen[text]
        if error:
            batch.fail(i, error)
        elif note:
            batch.read_notes[i] = note
        batch.states[i] = state


def _read_space_groups(batch: _Batch) -> None:
    """Each row's own space group (a number or a Hermann-Mauguin symbol; None where blank); a cell that names
    no space group fails its row."""
    seen: dict[str, tuple[int | None, str]] = {}
    for i, cell in enumerate(batch.sgs):
        if cell is None or (not isinstance(cell, str) and pd.isna(cell)):  # blank: NaN, None, pd.NA
            batch.sgs[i] = None
            continue
        key = cell if isinstance(cell, str) else repr(cell)
        if key not in seen:
            try:
                seen[key] = (space_group_number(cell), "")
            except SpaceGroupError as exc:
                seen[key] = (None, str(exc))
        number, error = seen[key]
        if error:
            batch.fail(i, error)
        batch.sgs[i] = number


def _state_of(given: str | None, implied: tuple[str, str], uses_state: bool) -> tuple[str, list[str]]:
    """The state a row is predicted in, and the note that says where it came from."""
    state, why = implied
    if given is None:
        if state == UNKNOWN:
            return UNKNOWN, []
        return state, [f"state {state}: {why}" + ("" if uses_state else
                                                   " (this model does not take the state as an input)")]
    notes = [] if uses_state else [f"this model does not take the state as an input: {given} is not used"]
    if state not in (UNKNOWN, given):
        notes.append(f"state {given} as given, although {why} ({state})")
    return given, notes


def _read_structures(batch: _Batch) -> None:
    """CIF rows: the structure's composition (when no formula is given), lattice columns, notes."""
    uses_structure = batch.bundle.uses_structure
    for i in np.flatnonzero(batch.live).tolist():
        cif = batch.cifs[i]
        if not cif:
            continue
        try:
            fields, amounts, notes = structure_fields(cif)
        except (OSError, ValueError) as exc:
            batch.fail(i, f"cannot read CIF {cif!r}: {exc}")
            continue
        row_notes = batch.structure_notes.setdefault(i, [])
        row_notes += notes
        check = bvse_check(cif)
        row_notes += check.notes
        batch.out["bvse_barrier_eV"][i], batch.out["bvse_dimension"][i] = check.barrier_eV, check.dimension
        batch.bvse_computed[i] = check.computed
        found = fields["space_group_number"]
        if found == found:  # the CIF's symmetry names the polymorph unless the row gives its own
            if batch.sgs[i] is None:
                batch.sgs[i] = int(found)
            elif batch.sgs[i] != int(found):
                row_notes.append(f"space group {space_group_label(batch.sgs[i])} as given, although the CIF's "
                                 f"symmetry is {space_group_label(int(found))}")
        if uses_structure:
            batch.structures[i] = fields
        else:
            row_notes.append(
                f"the model reads the composition only (preset {batch.bundle.preset}): the CIF gave the "
                "composition, the space group and the BVSE check")
        if batch.texts[i].strip():
            batch.cif_amounts[i] = amounts
        else:
            batch.texts[i] = reduced_formula(amounts)


def _parse(batch: _Batch) -> None:
    """Each distinct text read once: plain formulas and glasses for the whole batch at once in NumPy, the rest
    by the full notation parser; then the composition's domain notes, and the feature row of each row."""
    from sulfml.parse.bulk import read_many

    rows = np.flatnonzero(batch.live)
    unique, inverse = _distinct_rows(batch, rows)
    parsed = read_many([t for t, *_ in unique])
    elements = batch.bundle.elements
    u_formula: list = list(parsed.formula)
    u_in_domain, u_notes = _domain_of_parsed(parsed, elements)
    u_error = [""] * len(unique)
    u_composition: list[dict | None] = [None] * len(unique)
    u_feat: list[dict | None] = [None] * len(unique)  # the parser's feature dict of deferred texts
    u_additive: list[str | None] = [None] * len(unique)
    deferred = np.flatnonzero(~parsed.ok).tolist()
    if deferred:  # what the fast reader leaves: the full parser, one text at a time
        from sulfml.parse.formula import parse_formula

        for u in deferred:
            p = parse_formula(unique[u][0])
            if not p.ok:
                u_error[u] = p.error or "unreadable formula"
                continue
            assert p.composition is not None  # p.ok: the text was read into a composition
            u_formula[u] = p.formula
            u_composition[u] = p.composition
            u_additive[u] = p.additive
            u_in_domain[u], u_notes[u] = composition_notes(p.composition, elements, p.additive)
            u_notes[u] = [*p.notes, *(u_notes[u] or [])]  # the parser's notes (a likely typing slip) first
            u_feat[u] = {"composition": p.composition, "notation": p.notation, "tags": ";".join(p.tags),
                         "family": None}
    uses_state = assemble.uses_state(batch.bundle.preset)
    u_state: list[str] = [UNKNOWN] * len(unique)
    u_state_notes: list[list[str]] = [[]] * len(unique)
    states_seen: dict[tuple, tuple[str, list[str]]] = {}
    for u, (_, given, has_cif, sg) in enumerate(unique):
        if u_error[u]:
            continue
        feat = u_feat[u]
        notation = feat["notation"] if feat else ("glass" if parsed.glass[u] else "plain")
        # a CIF or a space group says the row is a crystal
        key = (notation, feat["tags"] if feat else "", given, has_cif or sg is not None)
        if key not in states_seen:
            states_seen[key] = _state_of(given, implied_state(key[0], key[1], crystal_structure=key[3]),
                                         uses_state)
        u_state[u], u_state_notes[u] = states_seen[key]
    u_sg = [sg for *_, sg in unique]
    for u, feat in enumerate(u_feat):
        if feat and feat["tags"] and u_sg[u] is None and not u_error[u] and u_state[u] == CRYSTALLINE:
            # β-Li3PS4: the polymorph word names the space group by the shipped table
            u_sg[u], note = space_group_of_name(feat["composition"], feat["tags"])
            if note:
                u_state_notes[u] = [*u_state_notes[u], note]
    u_key = _material_keys(batch, parsed, unique, u_error, u_composition, u_additive, u_state, u_state_notes, u_sg)
    fast_rows = np.flatnonzero(parsed.ok)
    fast_feat = np.full(len(unique), -1)
    feature_rows = batch.feature_rows
    u_dict_feat = np.full(len(unique), -1)
    uses_structure = batch.bundle.uses_structure
    failed = np.array([bool(e) for e in u_error], dtype=bool)[inverse]
    for i, u in zip(rows[failed].tolist(), inverse[failed].tolist(), strict=True):
        batch.fail(i, u_error[u])
    rows, inverse = rows[~failed], inverse[~failed]
    # Each column written whole from the distinct texts' values; the loops below visit the rows with more.
    for name, values in (("formula", u_formula), ("in_domain", u_in_domain), ("state", u_state),
                         ("space_group", u_sg)):
        _scatter(batch.out[name], rows, values, inverse)
    noted = np.array([bool(u_notes[u] or u_state_notes[u]) for u in range(len(unique))], dtype=bool)
    for i, u in zip(rows[noted[inverse]].tolist(), inverse[noted[inverse]].tolist(), strict=True):
        batch.domain_notes[i] = [*u_state_notes[u], *(u_notes[u] or [])]
    for k in np.flatnonzero(np.isin(rows, list(batch.cif_amounts))).tolist():
        i, u = int(rows[k]), int(inverse[k])
        given = u_composition[u]
        comp = given if given is not None else _parsed_composition(parsed, u)
        if not same_composition(comp, batch.cif_amounts[i]):
            from sulfml.parse.formula import display_formula  # occupancy sums: 4.000000000000001, 1/3

            batch.structure_notes.setdefault(i, []).append(
                f"the CIF's composition {display_formula(batch.cif_amounts[i])} differs from the formula; the "
                "formula is used")
    # Feature rows in the order of the rows: structure rows one each, a deferred text's dict once, the fast
    # reader's rows as one block where the first of them comes.
    u_dict = np.array([f is not None for f in u_feat], dtype=bool)
    u_has_sg = np.array([sg is not None for sg in u_sg], dtype=bool)
    structured = np.isin(rows, list(batch.structures))
    if uses_structure:
        structured |= (~u_dict | u_has_sg)[inverse]
    fast = ~structured & ~u_dict[inverse]
    visit = structured | ~fast
    visit[np.flatnonzero(fast)[:1]] = True
    for k in np.flatnonzero(visit).tolist():
        i, u = int(rows[k]), int(inverse[k])
        if structured[k]:
            # structure presets featurize row by row with each row's own structure columns
            feat = (u_feat[u] or _parsed_feature(parsed, u)) | {"state": u_state[u]}
            structure = batch.structures.get(i, no_structure())
            if u_sg[u] is not None:
                structure = structure | {"space_group_number": u_sg[u]}
            batch.feat_of[i] = feature_rows.add_dict(feat | structure)
        elif not fast[k]:
            deferred_feat = u_feat[u]
            assert deferred_feat is not None  # not fast: a deferred text's dict
            if u_dict_feat[u] < 0:
                u_dict_feat[u] = feature_rows.add_dict(deferred_feat | {"state": u_state[u]} | no_structure())
            batch.feat_of[i] = u_dict_feat[u]
        else:
            fast_feat[fast_rows] = feature_rows.add_parsed(parsed, fast_rows, [u_state[j] for j in fast_rows.tolist()])
    batch.feat_of[rows[fast]] = fast_feat[inverse[fast]]
    keyed = np.isin(inverse, list(u_key))
    for i, u in zip(rows[keyed].tolist(), inverse[keyed].tolist(), strict=True):
        batch.feat_key[int(batch.feat_of[i])] = u_key[u]


def _scatter(column: list, rows: np.ndarray, values: list, inverse: np.ndarray) -> None:
    """column[rows[k]] = values[inverse[k]] for every k."""
    picked = list(map(values.__getitem__, inverse.tolist()))
    if len(rows) == len(column):  # every row (rows are distinct and sorted)
        column[:] = picked
        return
    for i, v in zip(rows.tolist(), picked, strict=True):
        column[i] = v


def _distinct_rows(batch: _Batch, rows: np.ndarray) -> tuple[list[tuple], np.ndarray]:
    """The distinct (text, state, has a CIF, space group) of the rows, in first-seen order, and each row's.

    A text given in two states is two feature rows; a CIF says the row is a crystal.
    """
    texts = [batch.texts[i] for i in rows.tolist()] if len(rows) < len(batch.texts) else batch.texts
    others = [[batch.states[i] for i in rows.tolist()], [bool(batch.cifs[i]) for i in rows.tolist()],
              [batch.sgs[i] for i in rows.tolist()]]
    if all(len(set(col)) <= 1 for col in others):  # one state, CIF and space group throughout: the text decides
        position = {t: j for j, t in enumerate(dict.fromkeys(texts))}
        inverse = np.fromiter(map(position.__getitem__, texts), np.int64, len(texts))
        rest = tuple(col[0] for col in others) if texts else ()
        return [(t, *rest) for t in position], inverse
    keys = list(zip(texts, *others, strict=True))
    unique = list(dict.fromkeys(keys))
    position = {k: j for j, k in enumerate(unique)}
    return unique, np.fromiter((position[k] for k in keys), np.int64, len(keys))


def _material_keys(batch: _Batch, parsed: ParsedBatch, unique: list, u_error: list[str],
                   u_composition: list[dict | None], u_additive: list[str | None], u_state: list[str],
                   u_state_notes: list[list[str]], u_sg: list[int | None]) -> dict[int, str]:
    """The material key of each distinct text that the training data may hold (known first), by one hash.

    A text given without a state, whose formula implies none, takes the state of its composition when the
    data hold that composition in one state only (a chemist typing Li10GeP2S12 means the measured material);
    when they hold it in several, a note says which, and the model answers for the state unknown. A crystal
    without a space group takes its composition's when the data hold it in one only; with several, the
    measured answer pools them (`KnownMaterials.lookup`), and the notes say so.
    """
    from sulfml.chem.composition import key_variants, material_key

    known = known_materials(batch.bundle)
    if not known.index:
        return {}
    maybe = known.candidates(parsed)  # rows whose element set no training material has cannot be known
    keys: dict[int, str] = {}
    for u in range(len(unique)):
        if u_error[u] or not (maybe[u] or u_composition[u] is not None):
            continue
        given = u_composition[u]
        comp = given if given is not None else _parsed_composition(parsed, u)
        try:
            variants = key_variants(comp)
        except ValueError:
            continue
        for variant in variants:
            base = material_key(variant, u_additive[u], UNKNOWN).rpartition("@")[0]
            states = known.states_of.get(base)
            if states is not None:
                break
        else:
            continue
        if u_state[u] == UNKNOWN and unique[u][1] is None and UNKNOWN not in states:
            if len(states) == 1:
                u_state[u] = states[0]
                u_state_notes[u] = [f"state {states[0]}: the only state the training data hold for this "
                                    "composition"]
            else:
                u_state_notes[u] = [f"measured as {' and '.join(states)}: give the state to answer with "
                                    "those measurements"]
        key = f"{base}@{u_state[u]}"
        groups = known.space_groups(key)
        if u_sg[u] is None and len(groups) == 1 and groups[0] is not None:
            u_sg[u] = groups[0]
            u_state_notes[u] = [*u_state_notes[u], f"space group {space_group_label(groups[0])}: the only one "
                                                   "the training data hold for this composition"]
        elif u_sg[u] is not None:
            key = f"{key}#{u_sg[u]}"
        note = known.space_group_note(key)
        if note:
            u_state_notes[u] = [*u_state_notes[u], note]
        keys[u] = key
    return keys


def _parsed_composition(parsed: ParsedBatch, u: int) -> dict[str, float]:
    symbols = element_tables().symbols
    return {symbols[j]: float(x) for j, x, p in zip(parsed.index[u], parsed.amount[u], parsed.present[u],
                                                     strict=True) if p}


def _parsed_feature(parsed: ParsedBatch, u: int) -> dict:
    return {"composition": _parsed_composition(parsed, u), "notation": "glass" if parsed.glass[u] else "plain",
            "tags": "", "family": None}


def _domain_of_parsed(parsed: ParsedBatch, elements: set[str]) -> tuple[list, list]:
    """`composition_notes` of every row of a `ParsedBatch` (notes only where there are any)."""
    tables = element_tables()
    n = len(parsed.ok)
    known = np.zeros(len(tables.symbols), bool)
    known[[tables.index[e] for e in elements if e in tables.index]] = True
    has_li = (parsed.present & (parsed.index == tables.index["Li"])).any(1)
    unseen = (parsed.present & ~known[parsed.index]).any(1)
    in_domain = (has_li & ~unseen).tolist()
    notes: list = [None] * n
    for r in np.flatnonzero(parsed.ok & ~(has_li & ~unseen)).tolist():
        comp = {tables.symbols[j]: 1.0 for j, p in zip(parsed.index[r], parsed.present[r], strict=True) if p}
        in_domain[r], notes[r] = composition_notes(comp, elements, None)
    return in_domain, notes


def composition_notes(composition: dict, elements: set[str], additive: str | None) -> tuple[bool, list[str]]:
    """(in domain, notes) from the composition alone: no Li or unseen elements put it outside; a composite's
    additive is noted last."""
    notes = []
    if "Li" not in composition:
        notes.append("no lithium: outside what the model knows")
    unseen = sorted(set(composition) - elements)
    if unseen:
        notes.append(f"elements never seen in training: {', '.join(unseen)}")
    in_domain = not notes
    if additive:
        notes.append(f"composite: predicted for the host only, additive {additive!r} ignored")
    return in_domain, notes


def same_composition(a: dict, b: dict) -> bool:
    """Whether a formula and a CIF describe the same composition (`KeyedComposition`'s one rule)."""
    return KeyedComposition.from_dict(a) == KeyedComposition.from_dict(b)


def _featurize(batch: _Batch, keep: np.ndarray) -> np.ndarray | None:
    """The feature matrix of the batch's feature rows; a featurizer failure fails its rows, not the batch."""
    try:
        return features(batch.feature_rows, batch.bundle)
    except Exception as exc:
        for i in keep.tolist():
            batch.fail(i, f"featurization failed: {exc}")
            batch.feat_of[i] = -1
        return None


def features(rows: _FeatureRows, bundle: Bundle) -> np.ndarray:
    """The model's feature matrix (columns as the card's `feature_names`) of the batch's feature rows.

    Composition presets come whole from the vectorized featurizer; for others (structure features) the
    columns it does not cover come from `sulfml.featurize.presets.featurize`.
    """
    names = bundle.models["log10_sigma"].card["feature_names"]
    try:
        covered = assemble.covered_columns(bundle.preset)
    except KeyError:
        covered = []
    position = {c: j for j, c in enumerate(covered)}
    missing = [c for c in names if c not in position]
    slow = None
    if missing:
        from sulfml.featurize.presets import featurize

        slow = featurize(pd.DataFrame(rows.dicts()), bundle.preset, columns=missing).to_numpy(float)
        if not covered:
            return slow
    comps, notation, tags, family, state = rows.batch()
    data = assemble.preset_features(comps, bundle.preset, notation, tags, family, state)
    if not missing and covered == names:
        return data
    X = np.empty((len(data), len(names)))
    for j, c in enumerate(names):
        X[:, j] = data[:, position[c]] if c in position else slow[:, missing.index(c)]  # type: ignore[index]
    return X


def _predict(batch: _Batch, prediction: Prediction, X: np.ndarray, keep: np.ndarray
             ) -> tuple[dict[int, str], dict[int, list[str]]]:
    """Both targets, intervals, σ at the row's temperature and the neighbours, written into the columns.

    Returns:
        The out-of-domain note of rows too far from the training materials, and the temperature notes.
    """
    out, bundle = batch.out, batch.bundle
    names = bundle.models["log10_sigma"].card["feature_names"]
    sig_m, ea_m = bundle.models["log10_sigma"], bundle.models["ea_eV"]
    # A model with a neural member blends its trees with the network, which reads the feature rows'
    # compositions and states (`LoadedModel.blend`); its interval was calibrated on that blend.
    comps, states = None, None
    if sig_m.network is not None or ea_m.network is not None:
        comps, _, _, _, states = batch.feature_rows.batch()

    def model_and_domain(m: Any, n_neighbors: int) -> tuple:
        pred, knn = m.predict_with_knn(X)
        if m.network is not None:
            pred = m.blend(pred, comps, states)
        if n_neighbors or m.calibration.uses_domain_distance:
            distances = m.domain.distance_array(X, names, n_neighbors)
        else:  # only the σ model's domain judges rows and lists neighbours; this one's interval does not use it
            distances = (np.full(len(X), np.nan), np.zeros((len(X), 0), int), np.zeros((len(X), 0)))
        return pred.astype(float), *distances, _knn_distance(m, knn)

    # BLAS's idle threads spin after each product and slow XGBoost's and the k-d tree's threads; a small
    # batch runs none of those (and BLAS keeps small products on one thread itself).
    with one_blas_thread() if len(X) >= ONE_BLAS_THREAD_FROM else contextlib.nullcontext():
        if len(X) >= PARALLEL_FROM and available_cpus() > 1:
            # The two targets in two threads: NumPy, SciPy and XGBoost release the GIL in their heavy parts.
            ea_job = _worker().submit(model_and_domain, ea_m, 0)
            log_u, dist_u, nn_idx_u, nn_dist_u, knn_sig_u = model_and_domain(sig_m, N_NEIGHBORS)
            ea_u, ea_dist_u, _, _, knn_ea_u = ea_job.result()
        else:
            log_u, dist_u, nn_idx_u, nn_dist_u, knn_sig_u = model_and_domain(sig_m, N_NEIGHBORS)
            ea_u, ea_dist_u, _, _, knn_ea_u = model_and_domain(ea_m, 0)
    hw_sig_u = sig_m.calibration.halfwidth(log_u, dist_u, knn_sig_u)
    hw_ea_u = ea_m.calibration.halfwidth(ea_u, ea_dist_u, knn_ea_u)
    rt = _RoomTemperature(log_u, log_u - hw_sig_u, log_u + hw_sig_u, ea_u, np.maximum(ea_u - hw_ea_u, 0.0),
                          ea_u + hw_ea_u)
    known_u = _known_first(batch, rt, X, names, hw_sig_u, hw_ea_u, nn_idx_u, nn_dist_u)
    f = batch.feat_of[keep]
    log_rt, ea, dist, ea_lo, ea_hi = rt.log10_sigma[f], rt.ea[f], dist_u[f], rt.ea_lo[f], rt.ea_hi[f]
    batch.room_log10_sigma[keep] = log_rt
    temps = np.array([out["temperature_K"][i] for i in keep.tolist()], float)
    log_t = arrhenius_shift(log_rt, ea, temps)
    # The band at T carries both bands: the RT band, shifted by the Ea in [ea_lo, ea_hi] that moves it most.
    shifts = np.stack([arrhenius_shift(0.0, e, temps) for e in (ea_lo, ea_hi)])
    lo_t = rt.lo[f] + shifts.min(axis=0)
    hi_t = rt.hi[f] + shifts.max(axis=0)
    columns = {"log10_sigma": log_t, "sigma_S_cm": 10 ** log_t, "log10_sigma_lo": lo_t,
               "log10_sigma_hi": hi_t, "ea_eV": ea, "ea_lo": ea_lo, "ea_hi": ea_hi,
               "measured_log10_sigma": known_u.log10_sigma[f], "measured_ea_eV": known_u.ea[f]}
    n = len(out["input"])
    for name, values in columns.items():
        col = np.full(n, np.nan)
        col[keep] = values
        out[name] = col
    out["measured_n_papers"][keep] = known_u.n_papers[f]
    basis, ranges = [known_u.basis[u] for u in f.tolist()], [known_u.ranges[u] for u in f.tolist()]
    for j, i in enumerate(keep.tolist()):
        out["basis"][i], out["measured_range"][i] = basis[j], ranges[j]
    prediction.domain = sig_m.domain
    nn_idx, nn_dist = nn_idx_u[f].tolist(), nn_dist_u[f].tolist()
    for j, i in enumerate(keep.tolist()):
        prediction.neighbor_idx[i] = nn_idx[j]
        prediction.neighbor_dist[i] = nn_dist[j]
    far = {}
    threshold = sig_m.domain.threshold
    # A training material is within what the model knows, however far its features put it.
    for j in np.flatnonzero((dist > threshold) & (known_u.n_papers[f] == 0)).tolist():
        i = int(keep[j])
        out["in_domain"][i] = False
        far[i] = (f"far from the training materials: kNN distance {dist[j]:.2f} exceeds "
                  f"{threshold:.2f}, the {sig_m.domain.quantile:.0%} quantile for held-out papers")
    cal = sig_m.calibration
    width = (rt.hi - rt.lo)[f]
    # the width rule judges the model's own answers; a known material's interval is its papers' spread (and a
    # material measured only as an upper bound has no lower end)
    for j in np.flatnonzero(cal.too_wide(width) & (known_u.n_papers[f] == 0)).tolist():
        i = int(keep[j])
        out["in_domain"][i] = False
        far[i] = "; ".join([*([far[i]] if i in far else []), (
            f"interval too wide to use: the log10 σ interval spans {width[j]:.1f} decades, more than "
            f"{cal.max_width:.1f}, the {cal.width_quantile:.0%} quantile of calibration widths within the domain")])
    family = row_families(X[f], names)
    seen = sig_m.card["domain"].get("families")
    if seen is not None:
        for j in np.flatnonzero([fam is not None and fam not in seen for fam in family]).tolist():
            i = int(keep[j])
            out["in_domain"][i] = False
            far[i] = "; ".join([*([far[i]] if i in far else []),
                                f"family {family[j]} never seen in training: outside what the model knows"])
    shifted: dict[int, list[str]] = {}
    t_range = bundle.temperature_range_K
    family_ranges = sig_m.card.get("family_temperature_range_K") or {}
    for j in np.flatnonzero(np.abs(temps - ROOM_T_K) > SHIFT_NOTE_FROM_K).tolist():
        i = int(keep[j])
        notes = shifted[i] = [f"shifted from 298.15 K to {temps[j]:.2f} K with the predicted Ea "
                              "(Arrhenius, σT form)"]
        own = family_ranges.get(family[j])
        span, whose = (own, f" of {family[j]} materials") if own else (t_range, "")
        if span and not span[0] <= temps[j] <= span[1]:
            out["in_domain"][i] = False
            notes.append(f"{temps[j]:.0f} K is outside the {span[0]:.0f}-{span[1]:.0f} K the "
                         f"training measurements{whose} span: an extrapolation")
    return far, shifted


def _knn_distance(model: Any, knn: np.ndarray | None) -> np.ndarray | None:
    """The model's `knn_distance_mean` feature of each row (from the kNN features its prediction computed)
    when its interval calibration uses it, else None."""
    if knn is None or "knn_distance_mean" not in model.calibration.inputs:
        return None
    return knn[:, list(model.card["knn"]["features"]).index("knn_distance_mean")]


@dataclass
class _RoomTemperature:
    """The answers at room temperature per feature row, the model's until known first anchors them."""

    log10_sigma: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    ea: np.ndarray
    ea_lo: np.ndarray
    ea_hi: np.ndarray


@dataclass
class _Measured:
    """What the training data measured, per feature row (NaN, 0, None and `model` where nothing)."""

    log10_sigma: np.ndarray
    n_papers: np.ndarray
    ranges: list[list[float] | None]
    ea: np.ndarray
    basis: list[str]


def _known_first(batch: _Batch, rt: _RoomTemperature, X: np.ndarray, names: Sequence[str], hw_sig: np.ndarray,
                 hw_ea: np.ndarray, nn_idx: np.ndarray, nn_dist: np.ndarray) -> _Measured:
    """Known first (`sulfml.service.known`): feature rows whose material the training data hold answer with its
    measurements (`rt` is updated in place), and list that material first among their neighbours."""
    from sulfml.service.known import MODEL, anchor

    n = len(X)
    measured = _Measured(np.full(n, np.nan), np.zeros(n, np.int64), [None] * n, np.full(n, np.nan), [MODEL] * n)
    if not (batch.feat_key and batch.known_first):
        return measured
    known = known_materials(batch.bundle)
    rows = np.fromiter(batch.feat_key.keys(), np.int64, len(batch.feat_key))
    found = known.lookup(list(batch.feat_key.values()))
    hit = np.array([e is not None for e in found], bool)
    rows, entries = rows[hit], [e for e in found if e is not None]
    if not len(rows):
        return measured
    material = np.fromiter((e.material for e in entries), np.int64, len(entries))
    sig_models = batch.bundle.models
    answers = [known.answer(e) for e in entries]
    papers = [a.sigma_papers for a in answers]
    censored = np.array([a.censored for a in answers], bool)
    sigma = anchor(rt.log10_sigma[rows], hw_sig[rows], papers, censored, known.spread["log10_sigma"],
                   sig_models["log10_sigma"].calibration.confidence)
    rt.log10_sigma[rows], rt.lo[rows], rt.hi[rows] = sigma.value, sigma.lo, sigma.hi
    for r, a, b in zip(rows.tolist(), answers, sigma.basis, strict=True):
        measured.log10_sigma[r] = a.log10_sigma
        measured.ea[r] = np.nan if a.ea is None else a.ea
        measured.n_papers[r] = len(a.sigma_papers)
        measured.ranges[r] = [float(a.sigma_papers.min()), float(a.sigma_papers.max())]
        measured.basis[r] = b
    with_ea = np.array([len(a.ea_papers) > 0 for a in answers], bool)
    if with_ea.any():
        ea_rows = rows[with_ea]
        ea_v = [a.ea_papers for a, w in zip(answers, with_ea, strict=True) if w]
        ea = anchor(rt.ea[ea_rows], hw_ea[ea_rows], ea_v, np.zeros(len(ea_rows), bool), known.spread["ea_eV"],
                    sig_models["ea_eV"].calibration.confidence)
        rt.ea[ea_rows], rt.ea_lo[ea_rows], rt.ea_hi[ea_rows] = ea.value, np.maximum(ea.lo, 0.0), ea.hi
    # The material itself comes first among its neighbours, at its own distance in the domain's space.
    if not nn_idx.shape[1]:
        return measured
    own = sig_models["log10_sigma"].domain.distance_to(X[rows], names, material)
    for r, j, d in zip(rows.tolist(), material.tolist(), own.tolist(), strict=True):
        others = [(i, e) for i, e in zip(nn_idx[r].tolist(), nn_dist[r].tolist(), strict=True) if i != j]
        keep_n = nn_idx.shape[1] - 1
        nn_idx[r] = [j, *(i for i, _ in others[:keep_n])]
        nn_dist[r] = [d, *(e for _, e in others[:keep_n])]
    return measured


@cache
def _worker() -> ThreadPoolExecutor:
    """One helper thread for the whole process: a new thread per chunk would get a new malloc arena each
    time, and the memory of a long stream would grow with its length."""
    return ThreadPoolExecutor(1, thread_name_prefix="sulfml-predict")
