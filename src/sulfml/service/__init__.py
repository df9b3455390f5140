"""Prediction as a service: the `Predictor`, its one pipeline, and the inputs and outputs around it."""
