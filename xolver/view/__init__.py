"""`xolver view`: recorded runs and solves in the browser, served on this machine or written as static files."""

from xolver.view.server import serve
from xolver.view.site import Site, write_site

__all__ = ["Site", "serve", "write_site"]
