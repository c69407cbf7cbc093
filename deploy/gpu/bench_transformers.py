"""The reference side of issue 8's training-step benchmark: Hugging Face transformers'
BertForSequenceClassification (BERT-base shape, random initialisation) with the regularizers as
the published code writes them: CosReg as the N x N cosine matrix of the last layer's tokens,
I-STAR as IsoScore* from the singular values of the shrunk covariance of every layer's tokens
(padding included, as published). bf16 autocast for the forward, the regularizers in float32;
AdamW, gradient clipping at 1.0: the same step as bench/train_bench.cc with
ISTAR_BENCH_MODEL=bert-base ISTAR_BENCH_DEVICE=cuda ISTAR_BENCH_PRECISION=bf16.

    python3 deploy/gpu/bench_transformers.py [--steps 30] [--warmup 5]

Prints one line per regularizer: "transformers <regularizer> ms_per_step=... tokens_per_second=...".
"""
import argparse
import math
import time

import torch
from transformers import BertConfig, BertForSequenceClassification

BATCH, SEQ = 32, 128


def published_isoscore_star(points, shrinkage, zeta):
    cov = torch.cov(points.T)
    cov = (1.0 - zeta) * cov + zeta * shrinkage
    eigenvalues = torch.linalg.svdvals(cov)
    n = eigenvalues.numel()
    normalised = eigenvalues * math.sqrt(n) / eigenvalues.norm()
    defect = (normalised - torch.ones_like(normalised)).norm() / math.sqrt(2.0 * (n - math.sqrt(n)))
    k = (n - defect.pow(2) * (n - math.sqrt(n))).pow(2) / (n * n)
    return (n * k - 1.0) / (n - 1.0)


def published_cosreg(points):
    unit = points / points.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cosine = unit @ unit.T
    n = points.shape[0]
    return (cosine.sum() - cosine.diagonal().sum()) / (n * n)


def run(regularizer, steps, warmup):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                        num_attention_heads=12, intermediate_size=3072, num_labels=2)
    model = BertForSequenceClassification(config).cuda().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
    ids = torch.randint(5, config.vocab_size, (BATCH, SEQ), device="cuda")
    lengths = torch.randint(SEQ // 2, SEQ + 1, (BATCH, 1))
    mask = (torch.arange(SEQ).unsqueeze(0) < lengths).long().cuda()
    labels = torch.randint(0, 2, (BATCH,), device="cuda")
    sample = torch.randn(4096, 768, dtype=torch.float64)
    shrinkage = (sample.T @ sample / 4095.0).float().cuda()

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(input_ids=ids, attention_mask=mask, labels=labels,
                        output_hidden_states=True)
        loss = out.loss.float()
        if regularizer == "cosreg":
            points = out.hidden_states[-1].float().reshape(-1, 768)
            loss = loss + 1.0 * published_cosreg(points)
        elif regularizer == "istar":
            points = torch.cat([h.float().reshape(-1, 768) for h in out.hidden_states[1:]])
            loss = loss + -1.0 * (1.0 - published_isoscore_star(points, shrinkage, 0.2))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    print(f"transformers {regularizer} ms_per_step={seconds * 1e3:.2f} "
          f"tokens_per_second={BATCH * SEQ / seconds:.0f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    print(f"gpu: {torch.cuda.get_device_name(0)}; torch {torch.__version__}", flush=True)
    for regularizer in ("baseline", "cosreg", "istar"):
        run(regularizer, args.steps, args.warmup)


if __name__ == "__main__":
    main()
