"""The shipped bundle and a test client of the web application on it, shared by the server tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sulfml.server.app import create_app
from sulfml.service.predictor import Predictor


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.default()


@pytest.fixture(scope="module")
def client(predictor) -> TestClient:
    return TestClient(create_app(predictor))
