"""The PyTorch peer of SeekSharp's training step (bench/SeekSharp.Bench/TorchPeer.cs drives it; bench/README.md).

    /usr/bin/python3 bench/peers/train_step.py (--model DIR | --config FILE) [--tokens FILE] [--batch-size 4] [--seq-len 256] [--threads 2]

Builds deepseek_v3.DeepSeekV3 (weights from DIR/model.safetensors, or random from --config), a batch of tokens (int32
little-endian from --tokens, or random) and torch.optim.AdamW with SeekSharp's hyperparameters, prints one JSON line
({"ready": ...}), then answers each command line on stdin with one JSON line on stdout:

    round N MTP   N training steps (forward, loss, backward, clip to norm 1, AdamW at lr 1e-4), with the MTP loss when
                  MTP is 1; answers the seconds of each step and of its parts
    check         the loss parts and gradient norms without and with MTP, then one AdamW step with MTP and the loss
                  parts after it (SeekSharp's side of the check is TrainBench's --check)
    quit

Every parameter has a gradient buffer from the start (zeroed, never set to None), so AdamW updates every parameter at
every step, MTP or not, as SeekSharp's optimiser does.
"""
import argparse
import json
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--model")
ap.add_argument("--config")
ap.add_argument("--tokens")
ap.add_argument("--batch-size", type=int, default=4)
ap.add_argument("--seq-len", type=int, default=256)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--lr", type=float, default=1e-4)
ap.add_argument("--seed", type=int, default=3)
args = ap.parse_args()

# OpenBLAS (Debian's torch calls it for matmuls) reads its thread count from the environment when it loads. OpenMP
# threads that spin while they wait collapse on shared cores (see TorchPeer.cs), so they wait passively.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deepseek_v3 import DeepSeekV3, load_checkpoint, make_optimizer, training_loss  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
cfg = json.load(open(os.path.join(args.model, "config.json") if args.model else args.config))
model = DeepSeekV3(cfg)
if args.model:
    load_checkpoint(model, args.model)
else:
    model.init_weights()
b, t = args.batch_size, args.seq_len
if args.tokens:
    tokens = torch.frombuffer(bytearray(open(args.tokens, "rb").read()), dtype=torch.int32).long()
    if tokens.numel() != b * t:
        raise SystemExit(f"{args.tokens} holds {tokens.numel()} tokens, not {b} x {t}")
    tokens = tokens.view(b, t)
else:
    tokens = torch.randint(0, cfg["vocab_size"], (b, t))
optimizer = make_optimizer(model, lr=args.lr)
for p in model.parameters():
    p.grad = torch.zeros_like(p)


def step(mtp):
    t0 = time.perf_counter()
    optimizer.zero_grad(set_to_none=False)
    loss, parts = training_loss(model, tokens, mtp_lambda=0.3 if mtp else 0.0)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def grads(mtp):
    optimizer.zero_grad(set_to_none=False)
    loss, parts = training_loss(model, tokens, mtp_lambda=0.3 if mtp else 0.0)
    loss.backward()
    norms = {name: p.grad.double().norm().item() for name, p in model.named_parameters()}
    parts["grad_norm"] = sum(v * v for v in norms.values()) ** 0.5
    return parts, norms


def check():
    off, _ = grads(False)
    on, norms = grads(True)
    on["grad_norms"] = norms
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    with torch.no_grad():
        _, after = training_loss(model, tokens, mtp_lambda=0.3)
    return {"mtp_off": off, "mtp_on": on, "after_step": after}


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


reply({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
       "parameters": sum(p.numel() for p in model.parameters())})
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "quit":
        break
    if words[0] == "check":
        reply(check())
    elif words[0] == "round":
        n, mtp = int(words[1]), words[2] == "1"
        times = [step(mtp) for _ in range(n)]
        reply({"steps": n, "mtp": mtp, "seconds": [sum(x) for x in times], "forward": sum(x[0] for x in times),
               "backward": sum(x[1] for x in times), "optimizer": sum(x[2] for x in times)})
    else:
        reply({"error": f"unknown command {words[0]!r}"})
