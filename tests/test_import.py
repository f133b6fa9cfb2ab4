import subprocess
import sys


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
