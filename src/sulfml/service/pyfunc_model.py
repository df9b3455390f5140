"""The MLflow pyfunc model, logged as a model from code: a `Predictor` built from the bundle artifact.

MLflow runs this file when it loads the model (`mlflow.pyfunc.load_model`, `mlflow models serve`,
`mlflow.pyfunc.spark_udf`), so it holds no state of its own and nothing is ever pickled: the bundle is
JSON (and a neural member's arrays, read with `allow_pickle=False`), checked (schema, checksums, no pickles)
exactly as `sulfml predict` checks a bundle directory.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from sulfml.service.serving import pyfunc_output


class SulfmlModel(PythonModel):
    """log10 σ and Ea with intervals, the domain check and the nearest known materials, per input row."""

    def load_context(self, context: Any) -> None:
        from sulfml.service.predictor import Predictor

        self.predictor = Predictor.from_dir(context.artifacts["bundle"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        return pyfunc_output(self.predictor, model_input)


set_model(SulfmlModel())
