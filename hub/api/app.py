"""Build the FastAPI app around one store (and, when running, the ingest)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from hub.api import routes_core, routes_models
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
    app.mount("/static", StaticFiles(directory=WEB), name="static")
    _mount_offline_docs(app)

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
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} — docs",
            swagger_js_url="/vendor/swagger/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger/swagger-ui.css",
            swagger_favicon_url="/vendor/swagger/favicon-32x32.png",
        )
