"""Shared fixtures: settings with a session-wide ONNX cache, loaded models, data paths."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from lembed.engine.model import EmbeddingModel
from lembed.settings import Settings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the network: the HF hub is forced offline."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lembed-cache")


@pytest.fixture(scope="session")
def settings(cache_dir: Path) -> Settings:
    return Settings(cache_dir=cache_dir)


@pytest.fixture(scope="session")
def fake_model(settings: Settings) -> EmbeddingModel:
    from lembed.engine.load import load_model

    return load_model(backend="fake", settings=settings)


@pytest.fixture(scope="session")
def onnx_model(settings: Settings) -> EmbeddingModel:
    from lembed.engine.load import load_model

    return load_model(backend="onnx", settings=settings)


@pytest.fixture(scope="session")
def sts_sentences() -> list[str]:
    """A few hundred varied sentences from the STS Benchmark test split."""
    path = DATA / "stsbenchmark" / "sts-test.normalized.tsv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    sentences = [r[1] for r in rows] + [r[2] for r in rows]
    return list(dict.fromkeys(sentences))[::8][:300]


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Point the CLI (which builds its own Settings) at the session cache."""
    monkeypatch.setenv("LEMBED_CACHE_DIR", str(settings.cache_dir))
    yield settings
