"""``genmodel dashboard``: start the shipped Streamlit dashboard (needs the dashboard extra)."""

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from genmodel.interfaces.cli.app import app
from genmodel.interfaces.cli.common import fail

APP = Path(__file__).resolve().parent.parent / "dashboard.py"


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    headless: Annotated[bool, typer.Option(help="Do not open a browser.")] = False,
) -> None:
    """Open the what-if dashboard in the browser (pip install 'genmodel[dashboard]')."""
    if not 1 <= port <= 65535:
        fail(f"--port must be between 1 and 65535, got {port}")
    try:
        import plotly  # noqa: F401
        import streamlit  # noqa: F401
    except ImportError:
        fail("the dashboard needs streamlit and plotly: pip install 'genmodel[dashboard]'")
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
               "--browser.gatherUsageStats", "false"]
    if headless:
        command += ["--server.headless", "true"]
    raise typer.Exit(subprocess.call(command))
