"""MLflow tracking (store, runs, registry aliases, champion export) and the model bundle on disk
(XGBoost JSON + JSON card)."""
