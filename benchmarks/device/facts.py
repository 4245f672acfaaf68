"""Print what the GPU machine has: Python, PyTorch and its GPU, the packages imported."""

import importlib
import platform

import torch

print("python", platform.python_version(), "torch", torch.__version__)
print("cuda", torch.cuda.is_available(), torch.version.cuda)
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(p.name, p.multi_processor_count, "SMs", round(p.total_memory / 2**30, 1), "GiB")
for name in ["edgealloc", "numpy", "scipy", "pydantic", "flwr", "ray", "sklearn", "matplotlib"]:
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # a fact to report, not a reason to stop
        print(name, "NOT IMPORTABLE:", exc)
    else:
        print(name, getattr(module, "__version__", "?"), module.__file__)
