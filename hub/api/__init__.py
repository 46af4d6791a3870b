"""The hub's FastAPI application: REST API (OpenAPI at /docs, served offline) and web pages."""

from hub.api.app import create_app

__all__ = ["create_app"]
