"""The command line: info, devices, dump and cache."""
import subprocess
import sys


def gradc_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gradc.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_info_and_devices():
    info, devices = gradc_cli("info"), gradc_cli("devices")
    assert info.returncode == 0 and "gradc" in info.stdout and "kernel cache" in info.stdout
    assert devices.returncode == 0 and "cpu" in devices.stdout


def test_dump_writes_every_kernel_a_script_builds(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import sys, gradc\nx = gradc.ones(5) * float(sys.argv[1])\nprint((x.exp() + 1).sum().item())\n")
    r = gradc_cli("dump", str(script), "--out", str(tmp_path / "k"), "2.5")
    assert r.returncode == 0, r.stderr
    sources = list((tmp_path / "k").iterdir())
    assert sources and all(p.read_text().strip() for p in sources)
    assert abs(float(r.stdout.split()[-1]) - 5 * (2.718281828 ** 2.5 + 1)) < 1e-3


def test_cache_ls():
    r = gradc_cli("cache", "ls")
    assert r.returncode == 0
