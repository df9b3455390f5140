"""The FastAPI application behind `sulfml serve`: one HTML page, and a JSON API under `/api`.

Routes:
    GET  /                   the page (static/index.html, app.js, app.css)
    GET  /api/health         {"status": "ok"} once the models are loaded
    GET  /api/about          the loaded models, their CV numbers, the data sources, the limits
    POST /api/predict        pasted formulas -> one row per formula, in order, bad rows with their error
    POST /api/predict/file   an uploaded CSV, JSON or Parquet file (the request body) -> the same rows
    POST /api/predict/cif    one uploaded CIF file (the request body), optionally with a formula -> its row
    POST /api/detail         one formula: Arrhenius curve and band, nearest known materials, the "why"
    POST /api/screen         a dopant screen: the parent's baseline, the ranked candidates, scatter points
    GET  /api/materials?q=   measured materials by formula, element set, family or DOI, with every measurement
    GET  /api/docs           the OpenAPI documentation (/api/openapi.json)

Each route's `response_model` (`sulfml.server.responses`) documents its answer in the OpenAPI schema, field
by field with units. The model is loaded once, before the application is built, and shared by every request;
predictions run in worker threads, at most `Limits.concurrent` at a time. Every answer is JSON (NaN as null); errors are
`{"detail": "..."}` with 413 (body too large), 422 (a request that cannot be predicted), 503 (the measured
data cannot be loaded) or 500. The data table behind `/api/materials` is loaded on its first request.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr

from sulfml.errors import UserError
from sulfml.parse.state import STATES
from sulfml.server import materials as known
from sulfml.server import payloads, responses
from sulfml.server.limits import LimitError, Limits, ServeError
from sulfml.workflows.screen import DEFAULTS, RANKS, option_help

if TYPE_CHECKING:
    from sulfml.data.table import DataTable
    from sulfml.service.predictor import Predictor

log = logging.getLogger("sulfml.server")

if TYPE_CHECKING:
    State = str
    Rank = str
else:  # the states and rankings the library defines, as the requests' enums
    State = Literal[STATES]
    Rank = Literal[tuple(RANKS)]
Temperature = float | str | None
# A number (230) or a Hermann-Mauguin symbol ("Ia-3d"); read by `payloads.check_space_group` (a bool is no
# space group).
SpaceGroup = StrictInt | StrictFloat | StrictStr | None
SPACE_GROUP_HELP = ("the space group of every row, a number 1-230 or a Hermann-Mauguin symbol such as Ia-3d or "
                    "P4_2/nmc (blank: what a polymorph name in the formula, a CIF or the training data give)")
STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "app.css": "text/css; charset=utf-8"}
# The page loads nothing from elsewhere and runs only its own script: data rendered as text can never run.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class SafeJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped (a lone surrogate from a hostile input cannot break the
    UTF-8 encoding), `<`, `>` and `&` written as \\u escapes (the same strings, but no markup even if a
    browser were made to read the answer as HTML), and NaN as null."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(payloads.json_ready(content), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("ascii")


class PredictRequest(BaseModel):
    """Formulas to predict, one row each, in order."""

    formulas: list[str] = Field(description="one formula per row, e.g. Li6PS5Cl or 70Li2S-30P2S5")
    temperature_C: Temperature = Field(None, description="temperature in °C of every row (blank: 25 °C)")
    state: State | None = Field(None, description="the materials' state, sent to the pipeline's state column")
    space_group: SpaceGroup = Field(None, description=SPACE_GROUP_HELP)


class DetailRequest(BaseModel):
    """One formula to show in detail."""

    formula: str
    temperature_C: Temperature = None
    state: State | None = None
    space_group: SpaceGroup = Field(None, description=SPACE_GROUP_HELP)


class ScreenRequest(BaseModel):
    """A dopant screen of a parent composition (see `sulfml screen`); the settings are `ScreenOptions`'s."""

    parent: str = Field(description="the parent composition, e.g. Li3PS4")
    substitutions: str | dict[str, list[str]] = Field(
        description="dopants per site: 'P=Si,Ge; S=Cl' (co-dopants as Si+Ge) or {\"P\": [\"Si\", \"Ge\"]}")
    max_fraction: float = Field(DEFAULTS.max_fraction, description=option_help("max_fraction"))
    step: float = Field(DEFAULTS.step, description=option_help("step"))
    top: int = Field(DEFAULTS.top, description=option_help("top"))
    per_dopant: int = Field(DEFAULTS.per_dopant, ge=0, description=option_help("per_dopant"))
    rank: Rank = Field(DEFAULTS.rank, description=option_help("rank"))
    temperature_C: Temperature = Field(DEFAULTS.temperature_c, description=option_help("temperature_c"))
    state: State | None = Field(DEFAULTS.state, description=option_help("state"))


class BodyLimit:
    """Refuses request bodies over `max_bytes` with 413, whether declared (Content-Length) or streamed.

    Pure ASGI, so a refused body is never read past the limit; an accepted one is buffered (it is at most
    `max_bytes`) and replayed to the application.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, int(declared))
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, None)
                return
            chunks.append(body)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: dict, receive: Any, send: Any, size: int | None) -> None:
        """Answer 413 and close: the rest of the body is not read."""
        what = f"{size:,} bytes" if size is not None else f"more than {self.max_bytes:,} bytes"
        response = SafeJSONResponse(
            {"detail": f"the request body is {what}; this server takes at most {self.max_bytes:,} bytes per "
                       "request (send fewer rows per request or a smaller file)"},
            status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


class NoSniff:
    """Every answer says its own content type is the one to use (`X-Content-Type-Options: nosniff`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Callable[[dict], Awaitable[None]]) -> None:
        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-content-type-options"]
                message = {**message, "headers": [*headers, (b"x-content-type-options", b"nosniff")]}
            await send(message)

        await self.app(scope, receive, sending)


def create_app(predictor: Predictor, limits: Limits | None = None, *, data_dir: str | Path | None = None,
               table: DataTable | None = None) -> FastAPI:
    """The web application around one loaded `Predictor`.

    Args:
        predictor: the models, loaded once and shared by all requests.
        limits: body size, rows per request, screen size (default `Limits()`).
        data_dir: the public datasets for the measured-materials search (default $SULFML_DATA_DIR, else the
            user cache, downloading the pinned files); read on the search's first request.
        table: a data table to search instead (then `data_dir` is not read).
    """
    from sulfml._version import __version__

    limits = limits or Limits()
    gate = threading.BoundedSemaphore(limits.concurrent)
    app = FastAPI(title="sulfml", version=__version__, default_response_class=SafeJSONResponse,
                  docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json",
                  description="Li-ion conductivity (log10 σ) and activation energy (Ea) of solid electrolytes, "
                              "with calibrated intervals (their coverage, from the models' card, in /api/about), the "
                              "applicability domain and the nearest known "
                              "materials.")
    app.state.predictor = predictor
    app.state.limits = limits
    app.state.table = data = known.TableSource(data_dir, table)
    static = files("sulfml.server").joinpath("static")
    pages = {name: static.joinpath(name).read_bytes() for name in STATIC}  # read once, at start-up

    def guarded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with gate:
            return fn(*args, **kwargs)

    async def work(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(guarded, fn, *args, **kwargs)

    @app.exception_handler(LimitError)
    async def _limit(request: Request, exc: LimitError) -> Response:
        return SafeJSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(known.DataUnavailable)
    async def _no_data(request: Request, exc: known.DataUnavailable) -> Response:
        return SafeJSONResponse({"detail": f"the measured data is not available on this server: {exc}"},
                                status_code=503)

    @app.exception_handler(UserError)
    async def _user(request: Request, exc: UserError) -> Response:
        return SafeJSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return SafeJSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s", request.url.path)
        return SafeJSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)

    def page(name: str) -> Callable[[], Awaitable[Response]]:
        async def serve_file() -> Response:
            return Response(pages[name], media_type=STATIC[name], headers=PAGE_HEADERS)
        return serve_file

    app.get("/", include_in_schema=False)(page("index.html"))
    app.get("/static/app.js", include_in_schema=False)(page("app.js"))
    app.get("/static/app.css", include_in_schema=False)(page("app.css"))

    @app.get("/api/health", response_model=responses.Health, responses=responses.ERRORS)
    async def health() -> Any:
        """Whether the server is up (the models are loaded before it answers at all)."""
        return SafeJSONResponse({"status": "ok"})

    @app.get("/api/about", response_model=responses.About, responses=responses.ERRORS)
    async def about() -> Any:
        """The loaded models (registry name, version and alias, or directory), their cross-validation
        numbers, the training data sources with licences and citations, and this server's limits."""
        return SafeJSONResponse(payloads.about(predictor, limits))

    @app.post("/api/predict", response_model=responses.Prediction, responses=responses.ERRORS)
    async def predict(body: PredictRequest) -> Any:
        """Predict each formula: σ (S/cm) and log10 σ with its calibrated interval, Ea with its interval, the
        domain flag and warning, the nearest known materials, the space group (`space_groups` labels those
        of the rows and their neighbours). Bad rows keep their place with an `error`."""
        payloads.check_rows(len(body.formulas), limits)
        temperature = payloads.check_temperature(body.temperature_C)
        space_group = payloads.check_space_group(body.space_group)
        frame = payloads.input_frame(body.formulas, temperature, body.state, space_group)
        return SafeJSONResponse(await work(payloads.predict_rows, predictor, frame))

    @app.post("/api/predict/file", response_model=responses.FilePrediction, responses=responses.ERRORS,
              openapi_extra={"requestBody": {"required": True, "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def predict_file(request: Request, filename: str = "upload.csv", column: str = "formula",
                           temperature_C: str | None = None, state: State | None = None,
                           space_group: str | None = Query(None, description=SPACE_GROUP_HELP)) -> Any:
        """Predict every row of an uploaded file, sent as the request body: CSV (any of , ; tab |
        separators, UTF-8 or Windows-1252), JSON (a list of formulas or of objects) or Parquet, with a
        formula column and optional temperature_C, state and space_group columns (the query's values fill
        their blank cells). Other columns come back as `input_<name>` (a `cif` column too: the server never
        opens a path a request names); the answer's `notes` say what was guessed (e.g. the encoding)."""
        data = await request.body()
        temperature = payloads.check_temperature(temperature_C)
        sg = payloads.check_space_group(space_group)

        def run() -> dict:
            frame, notes = payloads.read_upload(data, filename, column, temperature, state, sg)
            payloads.check_rows(len(frame), limits)
            return payloads.predict_rows(predictor, frame) | {"notes": notes}

        return SafeJSONResponse(await work(run))

    @app.post("/api/predict/cif", response_model=responses.Prediction, responses=responses.ERRORS,
              openapi_extra={"requestBody": {"required": True, "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "chemical/x-cif": {"schema": {"type": "string", "format": "binary"}}}}})
    async def predict_cif(request: Request,
                          filename: str = Query("upload.cif", description="the file's name, shown in the row"),
                          formula: str | None = Query(None, description="the material's formula; it wins over "
                                                                        "the CIF's composition (blank: the CIF's)"),
                          temperature_C: str | None = None, state: State | None = None,
                          space_group: str | None = Query(None, description=SPACE_GROUP_HELP)) -> Any:
        """Predict one crystal structure, a CIF file sent as the request body: the structure gives the
        composition (unless a formula is given) and the space group (unless one is given), and the row
        carries `bvse_barrier_eV` and `bvse_dimension`, the bond-valence site-energy cross-check. The
        file is written to a temporary file of the server's own, deleted after the prediction; a file that
        is not a readable CIF is the row's `error`, an empty one a 422."""
        data = await request.body()
        temperature = payloads.check_temperature(temperature_C)
        sg = payloads.check_space_group(space_group)
        return SafeJSONResponse(await work(payloads.predict_cif, predictor, data, filename, formula, temperature,
                                           state, sg))

    @app.post("/api/detail", response_model=responses.Detail, responses=responses.ERRORS)
    async def detail(body: DetailRequest) -> Any:
        """One formula in detail: its row, log10 σ against 1000/T with the interval band over the
        temperatures the training data span, the nearest known materials' measured values, and the
        features that drove each prediction most (XGBoost `pred_contribs`), in words."""
        temperature = payloads.check_temperature(body.temperature_C)
        space_group = payloads.check_space_group(body.space_group)
        return SafeJSONResponse(await work(payloads.detail, predictor, body.formula, temperature, body.state,
                                           space_group=space_group))

    @app.post("/api/screen", response_model=responses.Screen, responses=responses.ERRORS)
    async def screen(body: ScreenRequest) -> Any:
        """Enumerate charge-balanced dopant substitutions of a parent and rank them against the parent's
        best estimate, its measured value when known (its baseline row first; `p_gain` is the probability of
        beating it); `points` has every candidate for the scatter plot."""
        temperature = payloads.check_temperature(body.temperature_C)
        return SafeJSONResponse(await work(
            payloads.screen_result, predictor, body.parent, body.substitutions, limits, body.max_fraction, body.step,
            body.top, body.per_dopant, body.rank, temperature, body.state))

    @app.get("/api/materials", response_model=known.MaterialsResponse, responses={
        422: {"description": "a search text that reads as nothing: `{\"detail\": ...}` says why"},
        503: {"description": "the measured data cannot be loaded: `{\"detail\": ...}` says why"}})
    async def materials(q: str = Query(description="a formula (Li6PS5Cl, 70Li2S-30P2S5), an element set "
                                                   "(Li-P-S-Cl exactly, Li-P-S* at least), a family (argyrodite) "
                                                   "or a DOI"),
                        limit: int = Query(20, ge=1, le=known.MAX_MATERIALS, description="most materials")) -> Any:
        """Measured materials: each with its room-temperature log10 σ (median over papers, one value per
        paper), the papers' range and Ea, every measurement at any temperature (value, temperature, paper or
        DOI, source, state) and, with σ at three or more temperatures, an Arrhenius fit. A text that reads as
        nothing is a 422; 503 when the data cannot be loaded."""
        def run() -> dict:
            return known.materials(data.get(), q, limit)

        return await run_in_threadpool(run)

    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(NoSniff)
    return app


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(predictor: Predictor, host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None,
          log_level: str = "warning", ready: Callable[[str], object] | None = None,
          data_dir: str | Path | None = None) -> None:
    """Run the application with uvicorn (one process, the model loaded once) until interrupted.

    Args:
        predictor: the models.
        host: the address to bind; loopback by default, anything else is the caller's explicit choice.
        port: the TCP port.
        limits: the request limits.
        log_level: uvicorn's log level.
        ready: called with the page's address once the socket is bound.
        data_dir: the public datasets for the measured-materials search (see `create_app`).
    """
    import socket

    import uvicorn

    app = create_app(predictor, limits, data_dir=data_dir)
    # Bound here, not by uvicorn, so an address in use is an error with a reason rather than an exit.
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    # The "why" needs the xgboost package (a 1.5 s import) and each booster parsed once: done before the server
    # answers, not on a researcher's first click, and not beside the first requests either (an import holds
    # the interpreter's lock: a 10 ms prediction took 20-40 ms while it ran in a thread).
    payloads.warm_up(predictor)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, host=host, port=bound, log_level=log_level, access_log=False,
                            server_header=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    if ready is not None:
        shown = f"[{host}]" if ":" in host else host
        original = server.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets)
            if server.started:
                ready(f"http://{shown}:{bound}/")

        server.startup = startup  # type: ignore[method-assign]
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
