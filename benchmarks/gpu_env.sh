# Sourced at the start of every GPU command (see benchmarks/RESULTS.md):
#   source benchmarks/gpu_env.sh
# Installs the carried wheels once into /tmp/site and makes `ranksuite` importable from this checkout.
if [ ! -f /tmp/site/.done ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && touch /tmp/site/.done
fi
mkdir -p /tmp/shim && ln -sfn "$PWD" /tmp/shim/ranksuite
export PYTHONPATH=/tmp/shim:/tmp/site HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export RANKSUITE_CACHE=/tmp/ranksuite-cache PYTHONUNBUFFERED=1
