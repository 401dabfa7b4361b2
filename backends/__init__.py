"""Device runtimes, one file each: opencl (pyopencl), cuda (pycuda), reference (numpy interpreter, device `cpu`)."""
