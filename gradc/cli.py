"""`gradc info | devices | dump SCRIPT.py --out DIR | cache ls|clear`."""
from __future__ import annotations

import argparse
import os
import runpy
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="gradc", description="gradc: inspect devices, kernels and the kernel cache")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="version, default device, cache location")
    sub.add_parser("devices", help="list the devices gradc can run on")
    dump = sub.add_parser("dump", help="run a script and write every generated kernel's source to a folder")
    dump.add_argument("script")
    dump.add_argument("--out", required=True)
    cache = sub.add_parser("cache", help="list or clear the on-disk kernel cache")
    cache.add_argument("action", choices=["ls", "clear"])
    a, script_args = p.parse_known_args(argv)  # what dump does not know goes to the script
    if script_args and a.cmd != "dump":
        p.error(f"unrecognized arguments: {' '.join(script_args)}")

    import gradc
    from gradc import cache as disk

    if a.cmd == "info":
        print(f"gradc {gradc.__version__}")
        try:
            d = gradc.get_default_device()
            print(f"default device: {d} ({d.backend.description})")
        except RuntimeError as e:
            print(f"default device: none ({e})")
        print(f"kernel cache: {disk.cache_root()} ({len(disk.entries())} entries)")
    elif a.cmd == "devices":
        for d, desc in gradc.devices():
            print(f"{str(d):<10} {desc}")
    elif a.cmd == "dump":
        os.environ["GRADC_DUMP_DIR"] = a.out
        sys.argv = [a.script, *script_args]
        runpy.run_path(a.script, run_name="__main__")
        print(f"kernels written to {a.out}", file=sys.stderr)
    elif a.cmd == "cache":
        if a.action == "ls":
            for path in disk.entries():
                print(f"{path.stat().st_size:>10}  {path}")
        else:
            print(f"removed {disk.clear()} cached programs from {disk.cache_root()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
