#!/usr/bin/env python3
"""ResNet-20 (He et al. 2016, CIFAR: 3 stages of 16/32/64 channels, 3 basic blocks each, batch norm,
option-A shortcuts) training steps in PyTorch on CIFAR-shaped random input (3x32x32, 10 classes),
SGD with Nesterov momentum 0.9 and weight decay 1e-4 as deploy/examples/cifar10-resnet20.yaml: the
peer of deploy/scripts/resnet20-throughput.sh (Spindle, 2 collective workers x 1 thread, global
batch 128).

  python3 deploy/scripts/resnet20_torch.py --workers 2            # DDP (gloo), 2 processes x 1 thread
  python3 deploy/scripts/resnet20_torch.py --workers 1 --threads 2  # one process, 2 threads
  options: --batch GLOBAL (128) --steps N (40; the first 10 are not timed) --channels-last

Prints the median step's samples/s (global batch / median step time over the ranks' slowest).
Needs python3-torch and libopenblas0-pthread (Debian); OPENBLAS_NUM_THREADS is set per process.
No augmentation or data loading is timed (Spindle's figure includes its augmentation, which runs
in its prefetch thread).
"""
import argparse
import os
import sys
import time


def build(torch, nn, F, width=16, blocks=3):
    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.pad = cout - cin
            self.stride = stride

        def forward(self, x):
            o = F.relu(self.b1(self.c1(x)))
            o = self.b2(self.c2(o))
            s = x
            if self.stride != 1 or self.pad:
                s = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
            return F.relu(o + s)

    class ResNet20(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, width, 3, 1, 1, bias=False)
            self.bn = nn.BatchNorm2d(width)
            layers, cin = [], width
            for i, cout in enumerate([width, 2 * width, 4 * width]):
                for j in range(blocks):
                    layers.append(Block(cin, cout, 2 if i > 0 and j == 0 else 1))
                    cin = cout
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, 10)

        def forward(self, x):
            x = self.layers(F.relu(self.bn(self.stem(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    return ResNet20()


def run(rank, args, port, out):
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build(torch, nn, F)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)  # before DDP takes the gradients' layout
    if args.workers > 1:
        import torch.distributed as dist

        dist.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=args.workers
        )
        model = nn.parallel.DistributedDataParallel(model)
    batch = args.batch // args.workers
    x = torch.randn(batch, 3, 32, 32)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    out.put((rank, times[10:]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--channels-last", action="store_true")
    args = p.parse_args()
    if args.steps <= 10 or args.batch % args.workers:
        sys.exit("resnet20_torch.py: --steps must exceed 10 and --batch divide by --workers")
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    port = 29500 + os.getpid() % 1000
    procs = [ctx.Process(target=run, args=(r, args, port, out)) for r in range(args.workers)]
    for q in procs:
        q.start()
    results = [out.get() for _ in procs]
    for q in procs:
        q.join()
    slowest = [max(t[i] for _, t in results) for i in range(len(results[0][1]))]
    slowest.sort()
    median = slowest[len(slowest) // 2]
    print(
        f"pytorch resnet20: {args.workers} process(es) x {args.threads} thread(s), global batch "
        f"{args.batch}{', channels-last' if args.channels_last else ''}: median step "
        f"{median * 1000:.1f} ms, {args.batch / median:.0f} samples/s"
    )


if __name__ == "__main__":
    main()
