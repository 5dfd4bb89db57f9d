#!/usr/bin/env bash
# Prepare what a GPU run needs, in two ignored folders that travel with the `device` tool's `carry`
# (at most 64 MiB a call, so they go in two back-to-back calls while the machine stays warm):
#   .whl/  wheels the GPU image lacks (polars + runtime, bm25s, ir_measures, pytrec_eval-terrier), for Python 3.12
#   .gpu/  MiniLM in fp16 safetensors (~45 MB) and the SciFact + NFCorpus collections from ../shared/data/ir
# Run here (CPU machine):  bash benchmarks/gpu_prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
mkdir -p .whl .gpu/data
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  polars==2.1.0 polars-runtime-32==2.1.0 bm25s==0.3.16 ir_measures==0.4.3 pytrec_eval-terrier==0.5.11
for ds in scifact nfcorpus; do
  rm -rf ".gpu/data/$ds"; cp -r "../shared/data/ir/$ds" ".gpu/data/$ds"; chmod -R u+w ".gpu/data/$ds"
done
$PY - <<'PY'
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ranksuite.shared.models import resolve_backbone

src, dst = resolve_backbone("minilm"), Path(".gpu/minilm")
shutil.rmtree(dst, ignore_errors=True)
shutil.copytree(src, dst, ignore=shutil.ignore_patterns("model.safetensors", "*.onnx", "openvino", "onnx"))
weights = {k: v.to(torch.float16).contiguous() for k, v in load_file(str(src / "model.safetensors")).items()}
save_file(weights, str(dst / "model.safetensors"), metadata={"format": "pt"})
print("minilm fp16:", sum(f.stat().st_size for f in dst.rglob("*") if f.is_file()) // 2**20, "MiB")
PY
du -sh .whl .gpu
