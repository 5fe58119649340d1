"""`python -m xolver.llm.llama_server ARGS`: llama-cpp-python's OpenAI-compatible server, safe on AMX CPUs.

llama.cpp built with `-march=native` on a CPU with AMX (Intel Sapphire Rapids and later) puts the weights
in its AMX buffer type, and its AMX matrix multiply crashes the process on the first prompt (a segfault in
`ggml_backend_amx_mul_mat`, llama.cpp issue 20824, open). On such a CPU the weights stay in plain CPU
buffers: the extra buffer types (AMX, and weight repacking) are turned off before the server loads the
model. Elsewhere the server runs as llama-cpp-python ships it.
"""

from __future__ import annotations

from pathlib import Path

from xolver.orphans import exit_with_parent


def cpu_has_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the kernel reports AMX on this CPU (False where there is no /proc/cpuinfo)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    return any(line.startswith("flags") and " amx_int8" in line for line in text.splitlines())


def without_extra_buffer_types() -> None:
    """Make every model llama-cpp-python loads in this process keep its weights in plain CPU buffers."""
    import llama_cpp.llama_cpp as bindings

    defaults = bindings.llama_model_default_params

    def params():  # type: ignore[no-untyped-def] - a ctypes structure
        value = defaults()
        value.use_extra_bufts = False
        return value

    bindings.llama_model_default_params = params


def main() -> None:
    exit_with_parent()  # uvicorn's SIGTERM waits for the requests in flight; a dead client wants none of them
    if cpu_has_amx():
        without_extra_buffer_types()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
