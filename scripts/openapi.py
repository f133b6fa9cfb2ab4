"""Write the server's OpenAPI schema to openapi.json (``make openapi``); a test checks it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lembed.engine.load import load_model
from lembed.engine.pool import ModelPool
from lembed.server.app import create_app
from lembed.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def live_schema() -> str:
    """The schema of an app on the fake backend (routes and bodies don't depend on it)."""
    model = load_model(backend="fake", settings=Settings())
    schema = create_app(ModelPool([model])).openapi()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    (ROOT / "openapi.json").write_text(live_schema())
    print("wrote openapi.json", file=sys.stderr)
