"""The gateway server: ``create_app(settings)`` builds the FastAPI app (see :mod:`.app`)."""

from tppc_router.server.app import create_app

__all__ = ["create_app"]
