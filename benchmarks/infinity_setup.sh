#!/usr/bin/env bash
# Install infinity-emb 0.0.78 (the peer serve_load.py compares against) in its own venv,
# outside the repo, and lay out the default model with its ONNX graph for its optimum engine.
#
#   bash benchmarks/infinity_setup.sh [VENV_DIR]     (default ~/.cache/lembed-bench/infinity)
#
# Its pins: numpy < 2 and sentence-transformers 3.4.1 (later releases break its imports);
# torch comes from the CPU wheel when the machine has one (pip's find-links), never CUDA.
# The model folder it gets (VENV_DIR/model) is lembed's packaged all-MiniLM-L6-v2 with
# lembed's exported fp32 graph copied to the folder root as model.onnx: optimum 2.x looks
# for the graph there, and both servers then run the very same graph.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/lembed-bench/infinity}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/infinity_emb" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q \
    "infinity-emb[server,optimum,torch]==0.0.78" \
    "sentence-transformers==3.4.1" \
    "numpy<2" \
    "torch==2.13.0+cpu"
fi

# The same graph lembed serves: export it (lembed's cache) and copy it to the folder root.
"$here/.venv/bin/python" - "$venv/model" <<'PY'
import shutil
import sys
from pathlib import Path

from lembed.models.resolve import resolve
from lembed.runtime.export import onnx_graph
from lembed.settings import Settings

target = Path(sys.argv[1])
settings = Settings()
resolved = resolve(settings.model)
graph = onnx_graph(resolved, settings.cache_dir, "none")
if target.exists():
    shutil.rmtree(target)
shutil.copytree(resolved.path, target, ignore=shutil.ignore_patterns("*.onnx", "onnx"))
shutil.copy2(graph, target / "model.onnx")
for extra in graph.parent.glob("model.onnx*data"):
    shutil.copy2(extra, target / extra.name)
print(f"model folder for infinity: {target} (graph {graph})")
PY
"$venv/bin/python" -c "import infinity_emb, numpy, optimum; print('infinity-emb', infinity_emb.__version__, 'numpy', numpy.__version__)"
