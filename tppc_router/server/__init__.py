"""The gateway server: ``create_app(settings)`` builds the FastAPI app (see :mod:`.app`)."""

from .app import create_app

__all__ = ["create_app"]
