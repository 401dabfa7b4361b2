#!/usr/bin/env bash
# gradc on an NVIDIA GPU, offline, in under 10 minutes: install pycuda from .whl/, check the CUDA backend, run the
# test suite with GRADC_DEVICE=cuda, then the benchmarks.
#
#   bash benchmarks/gpu_check.sh            # from the repository root of a machine with a GPU, nvcc and python3
#
# Logs go to $OUT (or /tmp/gradc-gpu-check): gpu_check.log, pytest.log, junit.xml, bench.log.
# Knobs: PYTHON (python3), GPU_CHECK_BUDGET (seconds, 570), GPU_CHECK_WORKERS (pytest-xdist workers, 8; 0: none),
#        GPU_CHECK_PYTEST_ARGS ("-x -q").
#
# What .whl/ must hold (ignored by .gitignore's /.whl/; a device run names `.whl` in its carry):
#   pycuda-2026.1-cp312-cp312-linux_x86_64.whl   pycuda for the target's Python 3.12, built against CUDA 13.0
#   pycuda-2026.1.tar.gz                         its sdist: built there when no wheel fits that python
#   pytools, platformdirs, siphash24 (cp312 manylinux), mako wheels: pycuda's own needs, absent from the image
# How the pycuda wheel is made on a machine with no GPU and no driver (pycuda needs CUDA's headers, not a GPU; this
# was done on the developers' machine, Debian 12, CUDA 13.0, pyenv's Python 3.12.1 with numpy and setuptools, in
# about 5 minutes a build):
#   pip download --no-deps --no-build-isolation --no-binary pycuda pycuda==2026.1 -d .whl
#   tar xzf .whl/pycuda-2026.1.tar.gz -C /tmp && cd /tmp/pycuda-2026.1
#   python3.12 configure.py --cuda-root=/usr/local/cuda --no-cuda-enable-curand --cudadrv-lib-dir=/tmp/cudastub
#   # no libcuda.so there (no driver, no toolkit stub): link against a stand-in named like the driver's. An empty
#   # one is dropped by the linker (--as-needed) and pycuda then fails to import on the GPU machine, so the stand-in
#   # defines every cu* symbol pycuda uses: build once with an empty one to list them, then again.
#   mkdir -p /tmp/cudastub && echo > /tmp/cudastub/stub.c
#   stub() { gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o /tmp/cudastub/libcuda.so /tmp/cudastub/stub.c; }
#   stub && python3.12 setup.py -q build_ext
#   nm -D --undefined-only build/lib*/pycuda/_driver*.so | awk '$2 ~ /^cu/ {print "void " $2 "(void) {}"}' \
#     > /tmp/cudastub/stub.c && stub && rm -rf build
#   python3.12 -m pip wheel --no-deps -w /path/to/repo/.whl .   # readelf -d: NEEDED libcuda.so.1
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl pytools==2026.1.1 platformdirs==4.14.8 siphash24==1.9 mako
# The wheel must match the target's CUDA major version (13 here: driver 580, nvcc 13.0) and Python (3.12).
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET:-570}
WORKERS=${GPU_CHECK_WORKERS:-8}
PYTEST_ARGS=${GPU_CHECK_PYTEST_ARGS:--x -q}
LOG=${OUT:-/tmp/gradc-gpu-check}
mkdir -p "$LOG"
exec > >(tee "$LOG/gpu_check.log") 2>&1
START=$SECONDS
left() { echo $((BUDGET - (SECONDS - START))); }
until_end() { local b=$(( $(left) - $1 )); echo $(( b < 30 ? 30 : b )); }  # seconds left less a reserve, at least 30
step() { echo; echo "=== [$((SECONDS - START))s] $*"; }
export PYTHONUNBUFFERED=1 PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export GRADC_CACHE_DIR=${GRADC_CACHE_DIR:-/tmp/gradc-cache}
failed=0

step "machine"
nvidia-smi -L || { echo "FAIL: no NVIDIA GPU visible (nvidia-smi)"; exit 2; }
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$NVCC" ] || { echo "FAIL: nvcc not found: gradc's CUDA backend builds kernels with it"; exit 2; }
"$NVCC" --version | tail -2
export PATH="$(dirname "$NVCC"):$PATH" CUDA_ROOT=${CUDA_ROOT:-$(dirname "$(dirname "$(readlink -f "$NVCC")")")}
$PY -VV

step "install pycuda and gradc (offline)"
if ! $PY -c "import pycuda.driver" 2>/dev/null; then
    # pip takes a wheel from .whl/ that fits this python, else builds pycuda's sdist there (a few minutes):
    # aksetup reads its options from ~/.aksetup-defaults.py. Linking needs a libcuda.so: the toolkit's stub, or
    # the driver's libcuda.so.1 under that name.
    libdir=$CUDA_ROOT/lib64/stubs
    if [ ! -e "$libdir/libcuda.so" ]; then
        libdir=/tmp/gradc-libcuda && mkdir -p $libdir
        so1=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')
        [ -n "$so1" ] && ln -sf "$so1" $libdir/libcuda.so
    fi
    mkdir -p "$HOME"
    printf 'CUDA_ROOT = "%s"\nCUDA_ENABLE_CURAND = False\nCUDADRV_LIB_DIR = ["%s"]\n' "$CUDA_ROOT" "$libdir" \
        > ~/.aksetup-defaults.py
    $PY -m pip install -q --no-build-isolation --no-deps --find-links .whl pycuda pytools platformdirs siphash24 \
        mako || { echo "FAIL: installing pycuda from .whl/ (see above)"; exit 3; }
fi
$PY -m pip install -q --no-build-isolation --no-deps -e . || { echo "FAIL: installing gradc"; exit 3; }
$PY - <<'EOF' || { echo "FAIL: the CUDA backend does not work (see above)"; exit 4; }
import numpy as np, pycuda, gradc
from gradc.backends import cuda
print("pycuda", pycuda.VERSION_TEXT, "| devices:", gradc.devices())
b = gradc.device("cuda").backend
print(b.name, b.description, b.arch, "| cache:", b.disk.dir)
x = np.random.default_rng(0).standard_normal((64, 1000)).astype(np.float32)
t = gradc.tensor(x, device="cuda")
np.testing.assert_allclose((t * 2).exp().sum(1).numpy(), np.exp(x * 2).sum(1), rtol=1e-4)
np.testing.assert_allclose((t @ t.t()).numpy(), x @ x.T, rtol=1e-3, atol=1e-3)
print("smoke test: ok")
EOF

step "tests: GRADC_DEVICE=cuda pytest tests $PYTEST_ARGS (budget $(until_end 60)s)"
xdist=()
if [ "$WORKERS" != 0 ] && $PY -c "import xdist" 2>/dev/null; then
    xdist=(-n "$WORKERS")  # nvcc takes ~0.5 s a kernel: workers build in parallel and share the disk cache
fi
# shellcheck disable=SC2086
GRADC_DEVICE=cuda timeout -k 10 "$(until_end 60)" $PY -m pytest tests $PYTEST_ARGS "${xdist[@]}" \
    -p no:cacheprovider --junitxml="$LOG/junit.xml" 2>&1 | tee "$LOG/pytest.log" | tail -n 60
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || { echo "FAIL: tests (exit $rc$([ "$rc" = 124 ] && echo ', out of time'))"; failed=1; }

step "benchmarks (budget $(until_end 5)s)"
{
    GRADC_DEVICE=cuda timeout -k 5 $(( $(until_end 5) / 2 )) $PY - <<'EOF'
import time
import numpy as np
import gradc

def bench(label, fn, nbytes=None, flops=None, reps=10):
    fn().numpy()  # build (nvcc) and warm up
    gradc.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        r = fn()
        r.realize()
    gradc.synchronize()
    dt = (time.perf_counter() - t0) / reps
    extra = (f"  {nbytes / dt / 1e9:8.1f} GB/s" if nbytes else "") + (f"  {flops / dt / 1e12:7.2f} TFLOP/s" if flops else "")
    print(f"{label:<44} {dt * 1e3:9.3f} ms{extra}")

n = 1 << 24
x = gradc.randn(n, device="cuda")
y = gradc.randn(n, device="cuda")
bench("elementwise (x*y+1).exp() 16M fp32", lambda: (x * y + 1).exp(), nbytes=12 * n)
bench("sum 16M fp32", lambda: x.sum(), nbytes=4 * n)
m = x.reshape(4096, 4096)
bench("row softmax 4096x4096 fp32", lambda: m.softmax(1), nbytes=8 * n)
for s in (1024, 2048):
    a, b = gradc.randn(s, s, device="cuda"), gradc.randn(s, s, device="cuda")
    bench(f"matmul {s}^3 fp32", lambda: a @ b, flops=2 * s**3, reps=5)
EOF
    for f in benchmarks/*.py; do
        [ -e "$f" ] || continue
        [ "$(left)" -gt 20 ] || { echo "skipped $f: out of time"; continue; }
        echo "--- $f"
        GRADC_DEVICE=cuda timeout -k 5 "$(until_end 10)" $PY "$f" || echo "FAIL: $f (exit $?)"
    done
} 2>&1 | tee "$LOG/bench.log"
grep -q "^FAIL" "$LOG/bench.log" && failed=1

step "done in $((SECONDS - START))s: $([ $failed = 0 ] && echo PASS || echo FAIL)"
exit $failed
