"""Serving the viewer's pages: a Starlette app under uvicorn, on loopback by default. Files are read again
when they change, so a run still being written can be watched with a reload."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from xolver.view.site import PLOTS, Site


def app(site: Site, plots: Path) -> Starlette:
    """The pages of `site`, its static files, and its plots drawn into `plots` (again when the runs change)."""
    lock = threading.Lock()
    drawn: list[bool] = [False]

    def refresh() -> None:
        with lock:
            if site.refresh():
                drawn[0] = False

    async def page(request: Request) -> Response:
        refresh()
        html = site.render(request.path_params.get("path", ""))
        return HTMLResponse(html) if html is not None else HTMLResponse("no such page", status_code=404)

    async def plot(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in PLOTS:
            return Response(status_code=404)
        refresh()
        with lock:
            if not drawn[0]:
                site.write_plots(plots)
                drawn[0] = True
        path = plots / name
        return FileResponse(path) if path.is_file() else Response(status_code=404)

    return Starlette(
        routes=[
            Mount("/static", StaticFiles(packages=[("xolver.view", "static")])),
            Route("/plots/{name}", plot),
            Route("/", page),
            Route("/{path:path}", page),
        ]
    )


def serve(paths: list[str], *, host: str = "127.0.0.1", port: int = 8765) -> int:
    """Serve until interrupted; the address (with the port picked, for port 0) goes to standard output."""
    import socket

    import uvicorn

    site = Site(paths)
    listener = socket.create_server((host, port))
    bound = listener.getsockname()[1]
    with listener, tempfile.TemporaryDirectory(prefix="xolver-view-") as plots:
        server = uvicorn.Server(uvicorn.Config(app(site, Path(plots)), log_level="warning"))
        print(f"serving {len(site.runs)} runs on http://{host}:{bound}/ (Ctrl-C stops)", flush=True)
        server.run(sockets=[listener])
    return 0
