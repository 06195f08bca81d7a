"""The API docs page with its assets served by the server itself.

FastAPI's default page loads Swagger UI from a public CDN; a self-hosted registry may
have no internet, so the assets come from the ``fastapi-offline`` package instead.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles


def install_docs(app: FastAPI, prefix: str) -> None:
    """Serve the docs page at ``{prefix}/docs`` and its assets below it."""
    assets = f"{prefix}/docs/static"
    directory = files("fastapi_offline").joinpath("static")
    app.mount(assets, StaticFiles(directory=str(directory)), name="docs-static")

    @app.get(f"{prefix}/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{prefix}/openapi.json",
            title="modeldepot API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
        )
