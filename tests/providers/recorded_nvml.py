"""A stand-in for ``libnvidia-ml.so.1`` that answers from a recorded machine.

Installed as ``pynvml.nvmlLib`` (the handle pynvml keeps for the loaded library), it
receives the same ctypes arguments the real C functions get and writes its answers into
them, so pynvml's wrappers and the provider above them run exactly as on a GPU machine.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pynvml
import pytest

from tests.providers.recorded import DATA

SUCCESS = 0
NOT_FOUND = 6  # NVML_ERROR_NOT_FOUND
INVALID_ARGUMENT = 2


def _out(ref: Any, value: int) -> None:
    """Write through a ``byref(c_int/c_uint)`` argument."""
    ref._obj.value = value


def _handle_index(handle: Any) -> int:
    return int(ctypes.cast(handle, ctypes.c_void_p).value or 0) - 1


class RecordedNvmlLibrary:
    """The NVML C functions the provider reaches, answering from ``data/nvml/<name>.json``."""

    def __init__(self, name: str) -> None:
        self.recording: dict[str, Any] = json.loads((DATA / "nvml" / f"{name}.json").read_text())
        self.errors: dict[str, int] = self.recording.get("errors", {})
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., int]:
        if not name.startswith("nvml"):
            raise AttributeError(name)
        implementation = getattr(self, f"_{name}", None)
        if implementation is None:
            raise AttributeError(name)  # pynvml turns this into FUNCTION_NOT_FOUND

        def call(*args: Any) -> Any:
            self.calls.append(name)
            if name in self.errors:
                return self.errors[name]
            return implementation(*args)

        return call

    def _gpu(self, handle: Any) -> dict[str, Any]:
        return self.recording["gpus"][_handle_index(handle)]  # type: ignore[no-any-return]

    def _nvmlInitWithFlags(self, flags: int) -> int:
        return SUCCESS

    def _nvmlShutdown(self) -> int:
        return SUCCESS

    def _nvmlErrorString(self, code: int) -> bytes:
        text: str = pynvml.NVMLError._errcode_to_string.get(code, f"error {code}")
        return text.encode()

    def _nvmlSystemGetCudaDriverVersion_v2(self, out: Any) -> int:
        _out(out, self.recording["cuda"])
        return SUCCESS

    def _nvmlSystemGetDriverVersion(self, buffer: Any, size: Any) -> int:
        buffer.value = self.recording["driver"].encode()
        return SUCCESS

    def _nvmlDeviceGetCount_v2(self, out: Any) -> int:
        _out(out, len(self.recording["gpus"]))
        return SUCCESS

    def _nvmlDeviceGetHandleByIndex_v2(self, index: Any, out: Any) -> int:
        if not 0 <= index.value < len(self.recording["gpus"]):
            return INVALID_ARGUMENT
        ctypes.c_void_p.from_buffer(out._obj).value = index.value + 1
        return SUCCESS

    def _nvmlDeviceGetCudaComputeCapability(self, handle: Any, major: Any, minor: Any) -> int:
        gpu = self._gpu(handle)
        if "error" in gpu:
            return int(gpu["error"])
        _out(major, gpu["capability"][0])
        _out(minor, gpu["capability"][1])
        return SUCCESS

    def _nvmlDeviceGetUUID(self, handle: Any, buffer: Any, size: Any) -> int:
        buffer.value = self._gpu(handle)["uuid"].encode()
        return SUCCESS

    def _nvmlDeviceGetName(self, handle: Any, buffer: Any, size: Any) -> int:
        buffer.value = self._gpu(handle)["name"].encode()
        return SUCCESS


@contextmanager
def recorded_nvml(monkeypatch: pytest.MonkeyPatch, name: str) -> Iterator[RecordedNvmlLibrary]:
    """Make pynvml use the recorded library instead of loading ``libnvidia-ml.so.1``."""
    library = RecordedNvmlLibrary(name)
    with monkeypatch.context() as patch:
        patch.setattr(pynvml, "nvmlLib", library)
        patch.setattr(pynvml, "_nvmlGetFunctionPointer_cache", {})
        yield library
