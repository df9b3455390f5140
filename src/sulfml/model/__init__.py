"""Estimators, grouped cross-validation, censoring and the applicability domain."""
