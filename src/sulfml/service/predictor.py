"""`Predictor`: a model bundle loaded and verified once, and the one entry point of the predict pipeline.

The command line, `screen`, the benchmarks, the Python API (and later the servers) all predict through it.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sulfml.chem.space_groups import space_group_number
from sulfml.errors import InputError, StoreError
from sulfml.parse.state import StateError, normalize_state
from sulfml.service import pipeline
from sulfml.service.inputs import has_pymatgen, name_structures, pymatgen_frame
from sulfml.service.physics import temperature_kelvin
from sulfml.tracking.bundle import Bundle

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sulfml.service.inputs import PredictInputs

OUTPUT_COLUMNS = pipeline.OUTPUT_COLUMNS
# Frames `Predictor.stream` works on ahead of the one its caller holds: one being prepared, one in the models.
STREAM_AHEAD = 2


@dataclass(frozen=True)
class Predictor:
    """Predicts log10 σ and Ea, with intervals, the domain check and the nearest known materials.

    Build it once with a `from_*` constructor and call `predict` as often as needed: the bundle is read and
    checked (schema, checksums, no pickles) only when the predictor is built.

    Attributes:
        bundle: the two targets' models.
        source: where the bundle came from (a directory, or `models:/NAME@ALIAS` of a registry).

    Example:
        >>> from sulfml import Predictor
        >>> predictor = Predictor.default()
        >>> predictor.predict(["Li6PS5Cl", "70Li2S-30P2S5"])  # doctest: +SKIP
        >>> from pymatgen.core import Composition, Structure
        >>> predictor.predict([Composition("Li3PS4"), Structure.from_file("Li6PS5Cl.cif")])  # doctest: +SKIP
    """

    bundle: Bundle
    source: str

    @classmethod
    def default(cls) -> Predictor:
        """The champion bundle that ships with sulfml."""
        from sulfml.tracking.bundle import shipped_bundle_dir

        return cls.from_dir(shipped_bundle_dir())

    @classmethod
    def from_dir(cls, path: str | Path | None = None) -> Predictor:
        """A bundle directory (`log10_sigma/` and `ea_eV/`, as `sulfml train` exports); None: the shipped one.

        Raises:
            BundleError: missing, damaged or tampered with.
        """
        if path is None:
            return cls.default()
        return cls(Bundle.from_dir(path), str(path))

    @classmethod
    def from_registry(cls, tracking_uri: str | None = None, alias: str = "champion") -> Predictor:
        """The models a registry alias points at (default `champion`), checked like a bundle directory.

        The store is only read (`open_existing`: no database, table or experiment is created), the process's
        environment is left as it was, and the downloaded files are deleted once read: the bundle keeps what
        it needs in memory.

        Raises:
            StoreError: the store cannot be used or has no such alias.
            BundleError: the registered artifacts are damaged or tampered with.
        """
        import os

        from mlflow.exceptions import MlflowException

        from sulfml.tracking.export import download_champions
        from sulfml.tracking.store import open_existing

        environment = dict(os.environ)
        try:
            uri = open_existing(tracking_uri)
            with tempfile.TemporaryDirectory(prefix="sulfml-registry-") as folder:
                try:
                    download_champions(folder, alias=alias)
                except MlflowException as exc:
                    raise StoreError(f"cannot load the models with alias {alias!r} from {uri}: {exc.message}") from exc
                bundle = Bundle.from_dir(folder)
        finally:
            for key in set(os.environ) - set(environment):  # what MLflow's settings added for the download
                del os.environ[key]
        return cls(bundle, f"registry {uri} @{alias}")

    def predict(self, inputs: PredictInputs, temperature_c: float | str | None = None, state: str | None = None,
                known_first: bool = True, space_group: int | str | None = None) -> pd.DataFrame:
        """Predict each input row, in order; a bad row gets an `error` and never stops the others.

        Args:
            inputs: formulas or pymatgen `Composition` and `Structure` objects (one, a list or a pandas
                column), or a frame with a `formula` column of them and optional `temperature_C` (°C, blank:
                25 °C), `state` (crystalline, glass, glass-ceramic; blank: what the formula implies, else
                unknown), `space_group` (a number or a Hermann-Mauguin symbol; blank: what a polymorph name or
                a CIF gives, else unknown) and `cif` (path) columns; a row with a CIF and no formula takes the
                structure's composition. A `Structure` is predicted as the CIF file it writes (its
                composition, space group and BVSE check, exactly as that file gives them), its `input` named
                by its reduced formula.
            temperature_c: the temperature for rows without their own (default 25 °C).
            state: the state for rows without their own.
            known_first: answer a material the training data hold (its composition in its state and space
                group) with its measurements, combined with the model by the rule of `sulfml.service.known`
                (column `basis`); False gives the model's own answer for every row.
            space_group: the space group for rows without their own.

        Returns:
            One row per input with `OUTPUT_COLUMNS`; `neighbors` lists the nearest training materials.

        Raises:
            InputError: `temperature_c` is not a usable temperature, `state` names no state, or the frame has
                no `formula` column.
        """
        if not has_pymatgen(inputs):
            return self.run(as_frame(inputs, temperature_c, state, space_group), known_first).frame()
        with tempfile.TemporaryDirectory(prefix="sulfml-structures-") as folder:
            frame, names = pymatgen_frame(inputs, Path(folder))
            out = self.run(as_frame(frame, temperature_c, state, space_group), known_first).frame()
        return name_structures(out, names)

    def run(self, frame: pd.DataFrame, known_first: bool = True) -> pipeline.Prediction:
        """`predict`'s work on a prepared frame, as columns plus neighbour indices (for streaming writers)."""
        return pipeline.run(frame, self.bundle, known_first)

    def stream(self, frames: Iterable[pd.DataFrame], known_first: bool = True
               ) -> Iterator[tuple[pd.DataFrame, pipeline.Prediction]]:
        """`run` over a stream of prepared frames, in order: each frame with its prediction.

        Three frames are at work at once, each in its own thread: one is read, parsed and featurized
        (`pipeline.prepare`, mostly Python), the one before it goes through the models (`pipeline.finish`,
        mostly C, which lets the others run), and the caller handles the one before that (writes it, say). At
        most `STREAM_AHEAD` frames wait beyond the caller's, so memory stays flat however long the stream.
        """
        with ThreadPoolExecutor(1, thread_name_prefix="sulfml-prepare") as preparing, \
                ThreadPoolExecutor(1, thread_name_prefix="sulfml-finish") as finishing:
            def finished(ready: Future[pipeline.Prepared]) -> pipeline.Prediction:
                return pipeline.finish(ready.result())

            jobs: deque[tuple[pd.DataFrame, Future[pipeline.Prediction]]] = deque()
            for frame in frames:
                ready = preparing.submit(pipeline.prepare, frame, self.bundle, known_first)
                jobs.append((frame, finishing.submit(finished, ready)))
                if len(jobs) > STREAM_AHEAD:
                    done, job = jobs.popleft()
                    yield done, job.result()
            while jobs:
                done, job = jobs.popleft()
                yield done, job.result()

    @property
    def preset(self) -> str:
        """The feature preset both models were trained on."""
        return self.bundle.preset

    @property
    def interval_coverage(self) -> float | None:
        """The nominal coverage of the log10 σ intervals, from the model card (0.9 for the shipped models);
        None for a bundle without an interval calibration."""
        model = self.bundle.models.get("log10_sigma")
        calibration = getattr(model, "calibration", None)
        return None if calibration is None else float(calibration.confidence)


def as_frame(inputs: pd.DataFrame | Sequence[str] | str, temperature_c: float | str | None = None,
             state: str | None = None, space_group: int | str | None = None) -> pd.DataFrame:
    """The input frame of the pipeline from formulas or a frame, with `temperature_c`, `state` and
    `space_group` filling blank cells.

    Raises:
        InputError: `temperature_c` is not a usable temperature, `state` names no state, `space_group` no
            space group, or a frame has neither `formula` nor `cif`.
    """
    if space_group is not None:
        space_group_number(space_group)  # raises SpaceGroupError, an InputError
    if temperature_c is not None and temperature_kelvin(temperature_c)[0] is None:
        raise InputError(f"temperature: {temperature_kelvin(temperature_c)[1]}")
    if state is not None:
        try:
            normalize_state(state)
        except StateError as exc:
            raise InputError(str(exc)) from None
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, pd.DataFrame):
        frame = pd.DataFrame({"formula": list(inputs), "temperature_C": [temperature_c] * len(inputs)})
        if state is not None:
            frame["state"] = state
        if space_group is not None:
            frame["space_group"] = str(space_group)
        return frame
    if "formula" not in inputs.columns and "cif" not in inputs.columns:
        raise InputError(f"the input has no formula column (columns: {', '.join(map(str, inputs.columns))})")
    frame = inputs
    for column, value in (("temperature_C", temperature_c), ("state", state),
                          ("space_group", None if space_group is None else str(space_group))):
        if value is None:
            continue
        frame = frame.copy() if frame is inputs else frame
        if column in frame:
            own = frame[column].map(lambda v: "" if v is None or v != v else str(v).strip())
            frame[column] = frame[column].where(own != "", value)
        else:
            frame[column] = value
    return frame
