"""What users run: training, tuning, screening and the benchmarks, on top of the prediction service."""
