"""The web page: `sulfml serve` runs a FastAPI application with one HTML page and a JSON API under `/api`.

`sulfml.server.app.create_app(predictor)` builds the application; `sulfml.server.app.serve` runs it with
uvicorn. The JSON answers are built by `sulfml.server.payloads`, which the tests call too. Nothing here is
imported by `import sulfml`: FastAPI is loaded only when the server is used.
"""
