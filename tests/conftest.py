"""Shared fixtures: `device` runs a test once per device gradc finds (every OpenCL device, CUDA, and `cpu`, the numpy
reference interpreter). GRADC_TEST_DEVICES=cpu (a comma-separated list) narrows it, e.g. for a quick run that
compiles nothing."""
import os

import pytest

import gradc

DEVICES = [str(d) for d, _ in gradc.devices()]
if os.environ.get("GRADC_TEST_DEVICES"):
    DEVICES = [d for d in DEVICES if d in os.environ["GRADC_TEST_DEVICES"].split(",")]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture
def opencl():
    """The first OpenCL device, for tests about compiled kernels (sources, programs, build errors)."""
    if not any(d.startswith("opencl") for d in DEVICES):
        pytest.skip("no OpenCL device")
    return gradc.device(next(d for d in DEVICES if d.startswith("opencl")))


def pytest_collection_modifyitems(config, items):
    # test_cuda.py's test_zz_* tests compile every kernel the session scheduled with nvcc: they run after all others
    items.sort(key=lambda item: item.name.startswith("test_zz_"))
