#!/usr/bin/env python3
"""PyTorch peer of `spindle bench`: the same model, data, global batch, initialisation scheme and
optimiser as the Spindle run that wrote the spec, trained with PyTorch on the CPU.

  torch_peer.py check                            prints torch's version (exit 0 when torch imports)
  torch_peer.py train   --spec S --out O --system pytorch|pytorch-ddp
  torch_peer.py profile --spec S --out O         per-layer forward/backward times at the spec's batch
  torch_peer.py peak    --out O [--size N] [--dtype float32|bfloat16]
                                                 matmul peak of this process's threads
  torch_peer.py describe --spec S --out O        each layer's entries, output shape, weight std

`pytorch` runs one process; it first times a few steps with each thread count of the spec's
`threads` list (each in its own process, since OpenBLAS-pthread takes its thread count from
OPENBLAS_NUM_THREADS when it loads) and trains with the fastest. `pytorch-ddp` runs one process per
worker with one thread each, DistributedDataParallel over gloo on 127.0.0.1; worker r of W takes
examples [r B/W, (r+1) B/W) of every global batch of B, so the averaged gradient is the global
batch's mean, as in Spindle.

With the spec's `precision` "bf16" (Spindle's `model.precision: bf16`), `pytorch` and `pytorch-ddp`
train as a PyTorch user would: forward and loss under `torch.autocast(device_type="cpu",
dtype=torch.bfloat16)`, backward outside it (autograd follows autocast's casts), parameters,
gradients and the optimiser in float32 (as Spindle's master copy). `compute_precision` in the output
says what the products computed in, read from the logits' dtype of the first step (autocast leaves
them float32 where it does not apply); test evaluation runs in float32 on the master weights, as
Spindle's does.

Times cover the training steps only (forward, loss, backward, optimiser, the batch gathered from
the in-memory training set); test evaluation after each epoch is not timed. The spec is written by
io.spindle.bench.TorchPeer; the output is one JSON object.
"""
import argparse
import gzip
import json
import os
import socket
import struct
import subprocess
import sys
import time

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    import numpy as np
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_data(spec):
    import numpy as np
    import torch
    d = spec["data"]
    shape = input_shape(spec)

    def part(images, labels, limit):
        x = read_idx(d[images]).reshape(-1, *shape)
        y = read_idx(d[labels]).astype(np.int64)
        if limit > 0:
            x, y = x[:limit], y[:limit]
        # the same decoding as Spindle's: pixel byte p -> p / 255f
        return torch.from_numpy(x.astype(np.float32) / np.float32(255.0)), torch.from_numpy(y)

    train = part("train_images", "train_labels", d.get("train_limit", 0))
    test = part("test_images", "test_labels", 0)
    return train, test


def input_shape(spec):
    i = spec["input"]
    if i["type"] == "image":
        return (i["channels"], i["height"], i["width"])
    return (i["features"],)


def activation(name):
    import torch.nn as nn
    return {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "identity": nn.Identity,
        "leaky_relu": lambda: nn.LeakyReLU(0.01),
    }[name]()


def init_weight(w, scheme, fan_in, fan_out):
    """Spindle's (DL4J's) weight initialisations; biases are 0."""
    import math
    import torch
    with torch.no_grad():
        if scheme == "he_normal":
            w.normal_(0.0, math.sqrt(2.0 / fan_in))
        elif scheme == "he_uniform":
            a = math.sqrt(6.0 / fan_in)
            w.uniform_(-a, a)
        elif scheme == "xavier_normal":
            w.normal_(0.0, math.sqrt(2.0 / (fan_in + fan_out)))
        elif scheme == "xavier_uniform":
            a = math.sqrt(6.0 / (fan_in + fan_out))
            w.uniform_(-a, a)
        elif scheme == "lecun_normal":
            w.normal_(0.0, math.sqrt(1.0 / fan_in))
        elif scheme == "lecun_uniform":
            a = math.sqrt(3.0 / fan_in)
            w.uniform_(-a, a)
        else:
            raise ValueError(f"weightInit {scheme} is not supported by the PyTorch peer")


def build_units(spec):
    """One nn.Sequential per Spindle layer: [dropout of its input] [flatten] op [activation].

    A Spindle layer's dropout drops that layer's inputs (DL4J's convention), so the Dropout module
    comes first in the unit. The output layer's softmax is left to the cross-entropy loss.
    """
    import torch.nn as nn
    shape = input_shape(spec)
    units = []
    for l in spec["layers"]:
        mods = []
        t = l["type"]
        if l.get("dropout", 0) > 0 and t != "dropout":
            mods.append(nn.Dropout(l["dropout"]))
        if t in ("dense", "output"):
            if len(shape) == 3:
                mods.append(nn.Flatten())
                shape = (shape[0] * shape[1] * shape[2],)
            lin = nn.Linear(shape[0], l["units"])
            init_weight(lin.weight, spec["weight_init"], shape[0], l["units"])
            nn.init.zeros_(lin.bias)
            mods.append(lin)
            shape = (l["units"],)
            if t == "dense":
                mods.append(activation(l["activation"]))
            elif l.get("loss") != "cross_entropy" or l["activation"] != "softmax":
                raise ValueError("the PyTorch peer supports a softmax output with cross_entropy loss")
        elif t == "conv2d":
            c, h, w = shape
            k, s, p = l["kernel"], l["stride"], l["padding"]
            conv = nn.Conv2d(c, l["filters"], k, stride=s, padding=p)
            init_weight(conv.weight, spec["weight_init"], c * k * k, l["filters"] * k * k)
            nn.init.zeros_(conv.bias)
            mods.append(conv)
            mods.append(activation(l["activation"]))
            shape = (l["filters"], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        elif t in ("max_pool", "avg_pool"):
            c, h, w = shape
            k, s, p = l["kernel"], l["stride"], l["padding"]
            mods.append((nn.MaxPool2d if t == "max_pool" else nn.AvgPool2d)(k, stride=s, padding=p))
            shape = (c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        elif t == "batch_norm":
            # DL4J: decay 0.9 (PyTorch momentum 0.1), eps 1e-5, scale 1, shift 0
            bn = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(shape[0], eps=1e-5, momentum=0.1)
            mods.append(bn)
        elif t == "dropout":
            mods.append(nn.Dropout(l["dropout"]))
        else:
            raise ValueError(f"layer type {t} is not supported by the PyTorch peer")
        units.append(nn.Sequential(*mods))
    return units


def build_model(spec, seed):
    import torch
    import torch.nn as nn
    torch.manual_seed(seed)
    return nn.Sequential(*build_units(spec))


def optimizer(spec, params):
    import torch
    o = spec["optimizer"]
    wd = spec.get("l2", 0.0)
    if o["type"] == "adam":
        return torch.optim.Adam(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=wd)
    if o["type"] == "sgd":
        return torch.optim.SGD(params, lr=o["lr"], weight_decay=wd)
    if o["type"] == "nesterov":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"], nesterov=True, weight_decay=wd)
    raise ValueError(f"optimizer {o['type']} is not supported by the PyTorch peer")


def set_threads(n):
    import torch
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def compute_context(spec):
    """(context factory, note) for the spec's precision: CPU autocast to bfloat16 for "bf16"."""
    import contextlib
    import torch
    wanted = spec.get("precision", "float32")
    if wanted == "float32":
        return contextlib.nullcontext, None
    if wanted != "bf16":
        raise ValueError(f"precision {wanted!r}: the PyTorch peer computes in float32 or bf16")
    try:
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            pass
    except (AttributeError, RuntimeError) as e:  # torch < 1.10 has no CPU autocast
        return contextlib.nullcontext, f"no CPU autocast to bfloat16 in torch {torch.__version__} ({e}): float32"
    return (lambda: torch.autocast(device_type="cpu", dtype=torch.bfloat16)), None


def precision_name(dtype):
    import torch
    return {torch.bfloat16: "bf16", torch.float32: "float32", torch.float16: "float16"}.get(dtype, str(dtype))


def accuracy(model, test):
    import torch
    x, y = test
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    model.train()
    return correct / len(y)


def train_loop(spec, model, opt, train, test, rank, world, timed_steps_cb=None, max_steps=0, barrier=None):
    """Epochs of global batches; this process takes its share [rank B/W, (rank+1) B/W)."""
    import torch
    import torch.nn.functional as F
    x, y = train
    n = len(y)
    B = spec["batch"]
    epochs = spec["epochs"]
    points = []
    seconds = 0.0
    steps = 0
    examples = 0
    compute, note = compute_context(spec)
    logits_dtype = None
    model.train()
    for e in range(epochs):
        g = torch.Generator().manual_seed(spec["seed"] * 1000 + e)
        order = torch.randperm(n, generator=g)
        if barrier:
            barrier()
        t0 = time.perf_counter()
        for start in range(0, n, B):
            idx = order[start:start + B]
            share = len(idx)
            lo, hi = rank * share // world, (rank + 1) * share // world
            mine = idx[lo:hi]
            xb, yb = x[mine], y[mine]
            opt.zero_grad(set_to_none=True)
            with compute():
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            if logits_dtype is None:
                logits_dtype = logits.dtype
            steps += 1
            examples += share
            if max_steps and steps >= max_steps:
                break
        seconds += time.perf_counter() - t0
        if max_steps and steps >= max_steps:
            break
        acc = accuracy(model.module if hasattr(model, "module") else model, test) if rank == 0 else None
        points.append({"epoch": e + 1, "train_seconds": seconds, "test_accuracy": acc})
    r = {"seconds": seconds, "steps": steps, "examples": examples, "points": points,
         "requested_precision": spec.get("precision", "float32"),
         "compute_precision": precision_name(logits_dtype),
         "master_precision": ",".join(sorted({precision_name(p.dtype) for p in model.parameters()}))}
    if note:
        r["compute_precision_note"] = note
    return r


def compute_per_step(spec, train, batch, steps=30):
    """Seconds of one step's computation (no communication) at `batch` examples, on a throwaway model."""
    import torch
    import torch.nn.functional as F
    model = build_model(spec, spec["seed"])
    opt = optimizer(spec, model.parameters())
    compute, _ = compute_context(spec)
    x, y = train
    xb, yb = x[:batch], y[:batch]

    def step():
        opt.zero_grad(set_to_none=True)
        with compute():
            loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    for _ in range(5):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def child_env(threads):
    env = dict(os.environ)
    for v in THREAD_VARS:
        env[v] = str(threads)
    return env


def run_child(args_list, threads):
    out = subprocess.run([sys.executable, os.path.abspath(__file__)] + args_list,
                         env=child_env(threads), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"torch_peer {' '.join(args_list)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return out.stdout


def cmd_single(spec, out_path, threads, max_steps):
    """One process, `threads` threads (environment set by the parent)."""
    import torch
    set_threads(threads)
    train, test = load_data(spec)
    model = build_model(spec, spec["seed"])
    opt = optimizer(spec, model.parameters())
    r = train_loop(spec, model, opt, train, test, 0, 1, max_steps=max_steps)
    if not max_steps:
        r["compute_seconds_per_step"] = compute_per_step(spec, train, spec["batch"])
    r["threads"] = threads
    r["torch"] = torch.__version__
    with open(out_path, "w") as f:
        json.dump(r, f)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cmd_ddp_worker(spec, out_path, rank, world, port):
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    set_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        train, test = load_data(spec)
        model = DDP(build_model(spec, spec["seed"]))
        opt = optimizer(spec, model.parameters())
        r = train_loop(spec, model, opt, train, test, rank, world, barrier=dist.barrier)
        dist.barrier()
        if rank == 0:
            r["compute_seconds_per_step"] = compute_per_step(spec, train, spec["batch"] // world)
            r["torch"] = torch.__version__
            with open(out_path, "w") as f:
                json.dump(r, f)
    finally:
        dist.destroy_process_group()


def cmd_train(spec, out_path, system):
    import torch
    if system == "pytorch":
        tried = {}
        best = None
        for t in spec["threads"]:
            probe = out_path + f".probe{t}"
            run_child(["single", "--spec", spec["_path"], "--out", probe, "--threads", str(t),
                       "--max-steps", str(spec.get("probe_steps", 60))], t)
            with open(probe) as f:
                p = json.load(f)
            os.remove(probe)
            rate = p["examples"] / p["seconds"]
            tried[str(t)] = rate
            if best is None or rate > tried[str(best)]:
                best = t
        run_child(["single", "--spec", spec["_path"], "--out", out_path, "--threads", str(best)], best)
        with open(out_path) as f:
            r = json.load(f)
        r.update(workers=1, threads_per_worker=best, threads_tried=tried,
                 configuration=f"one process, torch.set_num_threads({best}), "
                               f"{'/'.join(THREAD_VARS)}={best} (fastest of {spec['threads']} over "
                               f"{spec.get('probe_steps', 60)} probe steps)")
    elif system == "pytorch-ddp":
        world = spec["workers"]
        port = free_port()
        procs = []
        for rank in range(world):
            procs.append(subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "ddp-worker", "--spec", spec["_path"],
                 "--out", out_path, "--rank", str(rank), "--world", str(world), "--port", str(port)],
                env=child_env(1), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        errors = []
        for rank, p in enumerate(procs):
            _, err = p.communicate()
            if p.returncode != 0:
                errors.append(f"rank {rank} exited {p.returncode}: {err[-1500:]}")
        if errors:
            raise RuntimeError("; ".join(errors))
        with open(out_path) as f:
            r = json.load(f)
        r.update(workers=world, threads_per_worker=1,
                 configuration=f"{world} processes x 1 thread (torch.set_num_threads(1), "
                               f"{'/'.join(THREAD_VARS)}=1), DistributedDataParallel, gloo on 127.0.0.1")
    else:
        raise ValueError(f"unknown system {system}")
    if r.get("compute_precision") == "bf16":
        r["configuration"] += (", forward and loss under torch.autocast(device_type='cpu', dtype=torch.bfloat16),"
                               " float32 parameters, gradients and optimiser")
    r["system"] = system
    r["blas"] = blas_name()
    with open(out_path, "w") as f:
        json.dump(r, f)


def blas_name():
    try:
        with open("/proc/self/maps") as f:
            libs = {l.split()[-1] for l in f if "blas" in l}
        return ", ".join(sorted(os.path.basename(l) for l in libs))
    except OSError:
        return "unknown"


def openblas_core():
    """The kernel set OpenBLAS chose for this CPU (openblas_get_corename), None without OpenBLAS."""
    import ctypes
    for lib in ("libblas.so.3", "libopenblas.so.0"):
        try:
            get = ctypes.CDLL(lib).openblas_get_corename
        except (OSError, AttributeError):
            continue
        get.restype = ctypes.c_char_p
        return get().decode()
    return None


def timeit(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def cmd_profile(spec, out_path):
    """Per-layer forward and backward times at the spec's profile batch, on this process's threads."""
    import torch
    import torch.nn.functional as F
    prof = spec["profile"]
    threads = prof["threads"]
    set_threads(threads)
    train, _ = load_data(spec)
    batch = prof["batch"]
    reps = prof["steps"]
    units = build_units(spec)
    model = torch.nn.Sequential(*units)
    model.train()
    x, y = train[0][:batch].clone(), train[1][:batch].clone()
    # the gradient arriving at each unit's output, from one full forward and backward pass
    acts = [x]
    for u in units:
        a = u(acts[-1])
        a.retain_grad()
        acts.append(a)
    F.cross_entropy(acts[-1], y).backward()
    grads = [a.grad.detach().clone() for a in acts[1:]]
    rows = []
    ins = [a.detach() for a in acts[:-1]]
    for i, u in enumerate(units):
        inp = ins[i].clone().requires_grad_(i > 0)
        fwd = timeit(lambda: u(inp), reps)

        def backward(u=u, inp=inp, g=grads[i]):
            out = u(inp)
            torch.autograd.backward(out, g)
        # backward alone: a forward (timed apart) then its backward
        both = timeit(backward, reps)
        for p in u.parameters():
            p.grad = None
        rows.append({"layer": i, "phase": "forward", "ms": fwd * 1e3})
        rows.append({"layer": i, "phase": "backward", "ms": max(0.0, both - fwd) * 1e3})
    logits = acts[-1].detach().clone().requires_grad_(True)
    rows.append({"layer": -1, "part": "loss (softmax cross-entropy, forward + backward)", "phase": "loss",
                 "ms": timeit(lambda: F.cross_entropy(logits, y).backward(), reps) * 1e3})
    opt = optimizer(spec, model.parameters())
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    rows.append({"layer": -1, "part": "optimiser (whole model)", "phase": "optimiser",
                 "ms": timeit(opt.step, reps) * 1e3})
    rows.append({"layer": -1, "part": "zero_grad", "phase": "other",
                 "ms": timeit(lambda: opt.zero_grad(set_to_none=True), reps) * 1e3})
    idx = torch.randperm(len(train[1]))[:batch]
    rows.append({"layer": -1, "part": "mini-batch gather", "phase": "copy",
                 "ms": timeit(lambda: (train[0][idx], train[1][idx]), reps) * 1e3})

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    rows.append({"layer": -1, "part": "whole step (forward, loss, backward, optimiser)", "phase": "total",
                 "ms": timeit(step, reps) * 1e3})
    with open(out_path, "w") as f:
        json.dump({"torch": torch.__version__, "threads": threads, "batch": batch, "rows": rows,
                   "blas": blas_name()}, f)


def cmd_describe(spec, out_path):
    """Each unit's entries (parameters and batch-norm running statistics), output shape and weight std."""
    import torch
    units = build_units(spec)
    x = torch.zeros(2, *input_shape(spec))
    out = []
    with torch.no_grad():
        for u in units:
            u.eval()
            x = u(x)
            entries = sum(p.numel() for p in u.parameters())
            entries += sum(b.numel() for n, b in u.named_buffers() if not n.endswith("num_batches_tracked"))
            weights = [p for n, p in u.named_parameters() if n.endswith("weight") and p.dim() > 1]
            out.append({"entries": entries, "out_shape": list(x.shape[1:]),
                        "weight_std": weights[0].std().item() if weights else None,
                        "fan_in": weights[0][0].numel() if weights else None})
    with open(out_path, "w") as f:
        json.dump({"units": out}, f)


def cmd_peak(out_path, size, threads, dtype="float32"):
    import torch
    set_threads(threads)
    dt = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    a, b = torch.rand(size, size).to(dt), torch.rand(size, size).to(dt)
    c = torch.empty(size, size, dtype=dt)
    t = min(timeit(lambda: torch.mm(a, b, out=c), 1, warmup=1) for _ in range(3))
    with open(out_path, "w") as f:
        json.dump({"threads": threads, "size": size, "dtype": dtype,
                   "flops_per_second": 2.0 * size ** 3 / t, "blas_core": openblas_core()}, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["check", "train", "single", "ddp-worker", "profile", "peak", "describe"])
    ap.add_argument("--spec")
    ap.add_argument("--out")
    ap.add_argument("--system")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--rank", type=int)
    ap.add_argument("--world", type=int)
    ap.add_argument("--port", type=int)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    a = ap.parse_args()
    if a.command == "check":
        import torch
        print(torch.__version__)
        return
    if a.command == "peak":
        cmd_peak(a.out, a.size, a.threads, a.dtype)
        return
    with open(a.spec) as f:
        spec = json.load(f)
    spec["_path"] = a.spec
    if a.command == "train":
        cmd_train(spec, a.out, a.system)
    elif a.command == "single":
        cmd_single(spec, a.out, a.threads, a.max_steps)
    elif a.command == "ddp-worker":
        cmd_ddp_worker(spec, a.out, a.rank, a.world, a.port)
    elif a.command == "profile":
        cmd_profile(spec, a.out)
    elif a.command == "describe":
        cmd_describe(spec, a.out)


if __name__ == "__main__":
    main()
