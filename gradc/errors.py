"""Errors that carry what the user needs to act on."""


class KernelBuildError(RuntimeError):
    """A generated kernel failed to compile: carries the numbered source and the compiler's log."""

    def __init__(self, name: str, source: str, log: str, device: str):
        numbered = "\n".join(f"{i:4d} | {line}" for i, line in enumerate(source.splitlines(), 1))
        super().__init__(f"building kernel {name} for {device} failed.\n--- compiler log ---\n{log.strip()}\n"
                         f"--- source ---\n{numbered}\n--- end ---\nThis is a gradc bug: please report it with "
                         "the source above (GRADC_DUMP_DIR=dir saves every generated kernel).")
        self.name, self.source, self.log = name, source, log
