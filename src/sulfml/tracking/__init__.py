"""MLflow runs and registry aliases, and the model bundle on disk (XGBoost JSON + JSON card)."""
