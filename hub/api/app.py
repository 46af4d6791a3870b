"""Build the FastAPI app around one store (and, when running, the ingest)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from hub.api import routes_core, routes_models
from hub.api.middleware import BodyLimit, SecurityHeaders
from hub.config import HubConfig
from hub.store import Store

WEB = Path(__file__).resolve().parent.parent / "web" / "static"


def create_app(config: HubConfig, store: Store, ingest=None) -> FastAPI:
    app = FastAPI(
        title="OHS hub API",
        version="1",
        description="Pre-shift medical admission records, kiosk fleet and risk models. "
        "Medical values are returned to the medic role only, and every such read is audited.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.config = config
    app.state.store = store
    app.state.ingest = ingest
    app.include_router(routes_core.router)
    app.include_router(routes_models.router)
    from hub.api import routes_medic, routes_risk  # medic tablet, risk-group confirmation
    app.include_router(routes_medic.router)
    app.include_router(routes_risk.router)
    from hub.api import routes_analytics  # exposure and epidemiology from the live data (issue 7)
    app.include_router(routes_analytics.router)
    from hub.api import routes_admin  # conflicts kept for an admin (issue 10)
    app.include_router(routes_admin.router)
    from hub.api import routes_fleet  # kiosk clock offsets, pushed configuration (docs/fleet.md)
    app.include_router(routes_fleet.router)
    from hub.api import routes_alarms, routes_register, routes_stats  # OHS: alarms, risk register, counts
    app.include_router(routes_alarms.router)
    app.include_router(routes_register.router)
    app.include_router(routes_stats.router)
    from hub.api import routes_workers  # the worker registry, norms, rosters pushed to kiosks
    app.include_router(routes_workers.router)
    from hub.api import routes_vaccination  # vaccination records and the calendar picture (seed 000 §2.3.1.8)
    app.include_router(routes_vaccination.router)
    from hub.api import routes_smoking  # the smoking programme from the live data (seed 000 §2.4.1)
    app.include_router(routes_smoking.router)
    from hub.api import routes_exports  # exam journal, FHIR R4, method reports (docs/exports.md)
    app.include_router(routes_exports.router)
    from hub.api import routes_telemetry  # telemetry roll-ups per zone (docs/timeseries.md)
    app.include_router(routes_telemetry.router)
    app.mount("/static", StaticFiles(directory=WEB), name="static")
    _mount_offline_docs(app)
    app.add_middleware(BodyLimit, max_bytes=config.models_api.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: the 413 of BodyLimit gets the headers too

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(WEB / "index.html")

    return app


def _mount_offline_docs(app: FastAPI) -> None:
    """Swagger UI from the swagger-ui-bundle package: kiosks and hubs run without internet."""
    import swagger_ui_bundle

    app.mount("/vendor/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        # Own page instead of get_swagger_ui_html: its start-up script is a file (CSP allows no inline script).
        return HTMLResponse(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{escape(app.title)} — docs</title>
<link rel="stylesheet" href="/vendor/swagger/swagger-ui.css">
<link rel="icon" type="image/png" href="/vendor/swagger/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/vendor/swagger/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>""")
