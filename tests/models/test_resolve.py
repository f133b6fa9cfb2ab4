import shutil
from pathlib import Path

import pytest

from lembed.errors import ModelNotFoundError
from lembed.models.catalog import find
from lembed.models.pull import PullError, pull
from lembed.models.resolve import packaged_path, resolve

PACKAGED = packaged_path(find("all-minilm"))  # type: ignore[arg-type]


def _copy_model(target: Path) -> Path:
    assert PACKAGED is not None
    shutil.copytree(PACKAGED, target)
    return target


def test_default_resolves_to_packaged_with_window_from_model_config() -> None:
    found = resolve("all-minilm")
    assert found.source == "packaged"
    assert found.spec.max_tokens == 256  # sentence_bert_config.json, not tokenizer's 128
    assert found.spec.pooling == "mean"


def test_local_folder_is_described_from_its_files(tmp_path: Path) -> None:
    folder = _copy_model(tmp_path / "my-model")
    found = resolve(str(folder))
    assert found.source == "folder"
    assert found.spec.dim == 384 and found.spec.max_tokens == 256 and found.spec.normalized


def test_local_paths_can_be_disabled(tmp_path: Path) -> None:
    folder = _copy_model(tmp_path / "m")
    with pytest.raises(ModelNotFoundError, match="disabled"):
        resolve(str(folder), allow_paths=False)


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not a model folder"):
        resolve(str(tmp_path))


def test_hf_cache_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "hub" / "models--BAAI--bge-small-en-v1.5"
    _copy_model(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    found = resolve("bge-small-en-v1.5")
    assert found.source == "hf-cache"
    assert found.path == repo / "snapshots" / "abc123"
    assert found.spec.query_prefix.startswith("Represent this sentence")


def test_missing_model_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotFoundError) as err:
        resolve("nomic-embed-text")
    assert "lembed pull nomic-embed-text-v1.5" in err.value.message
    with pytest.raises(ModelNotFoundError, match="lembed pull org/unknown"):
        resolve("org/unknown")


def test_pull_offline_fails_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(PullError) as err:
        pull("nomic-embed-text")
    assert err.value.message.startswith("cannot download nomic-ai/nomic-embed-text-v1.5")
    assert "\n" not in err.value.message
