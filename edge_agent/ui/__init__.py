"""The kiosk screen: a local FastAPI app (``app.create_app``) serving one page of vanilla
HTML/CSS/JS from ``static/`` — no frameworks, no network assets, pictograms inline SVG."""

from .app import create_app

__all__ = ["create_app"]
