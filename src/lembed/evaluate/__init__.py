"""Evaluation and sizing: retrieval and STS quality on standard data sets, throughput and
latency benchmarks, storage sizing and model recommendations.

Modules: ``datasets`` (BEIR / STS files), ``metrics`` (pytrec_eval, SciPy), ``search``
(exact search per stored dtype; the seam for store-backed retrieval), ``retrieval`` and
``sts`` (variant sweeps), ``report`` (JSON, Markdown, PNG), ``bench``, ``sizing``,
``recommend``. Depends on the engine, never on the server or the CLI.
"""
