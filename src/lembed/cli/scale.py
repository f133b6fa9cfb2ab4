"""``lembed index --engine ray``: the options of ``lembed index`` handed to
:func:`lembed.scale.api.index` (the model is loaded by the Ray workers, not here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from lembed.settings import Settings


def index_on_ray(
    paths: list[Path],
    store: str,
    collection: str,
    model: str | None,
    backend: str | None,
    device: str | None,
    boilerplate: float,
    text_field: str,
    batch: int,
    quantization: str,
    as_json: bool,
    settings: Settings,
    ray_options: dict[str, Any],
    common: dict[str, Any],
) -> None:
    from lembed.cli.index_view import ProgressView, print_report, report_json
    from lembed.models.resolve import resolve
    from lembed.scale.api import index
    from lembed.scale.ray_index import RayOptions

    name = resolve(model or settings.model, allow_paths=settings.allow_model_paths).spec.name

    options = RayOptions(
        address=ray_options["address"],
        workers=ray_options["workers"],
        gpus_per_worker=ray_options["gpus_per_worker"],
    )
    with ProgressView() as view:
        report = index(
            paths,
            store=store,
            collection=collection,
            model=model,
            backend=backend,
            device=device,
            boilerplate_share=boilerplate,
            text_field=text_field,
            batch_size=batch,
            quantization=quantization,
            ray=options,
            settings=settings,
            progress=view.update,
            **common,
        )
    if as_json:
        sys.stdout.write(json.dumps(report_json(report, store, collection, name)) + "\n")
    else:
        print_report(report, store, collection, name)
