"""Mirror of ``modules/devices.py``: the device/dtype globals and helpers the adapter reads (CPU, fp32
as ``--no-half`` on the CPU gives)."""

import contextlib

import torch

cpu = torch.device("cpu")
device = torch.device("cpu")
device_interrogate = torch.device("cpu")
dtype = torch.float32
dtype_vae = torch.float32
dtype_unet = torch.float32
dtype_inference = torch.float32
unet_needs_upcast = False
fp8 = False
gc_calls = []


def torch_gc():
    gc_calls.append(True)


def autocast(disable=False):
    # WebUI returns a null context for fp32, fp8 and the CPU; the fake only runs there.
    return contextlib.nullcontext()


def without_autocast(disable=False):
    return contextlib.nullcontext()
