"""DeepSeek-V3 in plain PyTorch (1.13 and later), the training-mode forward, as the peer of SeekSharp's training step.

The same model as SeekSharp's (docs/architecture.md): MLA with the q LoRA and the decoupled rotary key (interleaved
pairs, YaRN), dense first layers, DeepSeekMoE (sigmoid affinities, e_score_correction_bias for selection only,
group-limited top-k on the top-two sum, normalised and scaled gating weights, shared experts), SwiGLU, RMSNorm, the
MTP module (enorm, hnorm, eh_proj, a decoder block, shared head), and the loss of src/SeekSharp/Training/TrainingLoss.cs:
L = L_main + λ·L_mtp + α·L_bal. Written the way a PyTorch user would write it: nn.Linear, autograd, softmax attention
with a causal mask, a loop over experts with index_select / index_add_. Module names follow the Hugging Face checkpoint,
so a SeekSharp safetensors file loads by name (load_safetensors, load_checkpoint).
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------------- checkpoints

_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_safetensors(path):
    """name -> tensor for a .safetensors file (8-byte header length, JSON header, raw little-endian data)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        t = torch.frombuffer(data, dtype=dtype, count=(end - begin) // torch.tensor([], dtype=dtype).element_size(), offset=begin)
        out[name] = t.reshape(info["shape"]).float().clone()
    return out


def load_checkpoint(model, directory):
    """Copies DIR/model.safetensors into the model by name; every tensor of the file must be used (MTP copies of the
    embedding and head must equal the main model's, which the model shares)."""
    tensors = load_safetensors(f"{directory}/model.safetensors")
    state = model.state_dict()
    used = set()
    with torch.no_grad():
        for name, target in state.items():
            if name not in tensors:
                raise KeyError(f"the checkpoint has no tensor {name}")
            if tuple(tensors[name].shape) != tuple(target.shape):
                raise ValueError(f"{name}: checkpoint {tuple(tensors[name].shape)}, model {tuple(target.shape)}")
            target.copy_(tensors[name])
            used.add(name)
        for k in range(len(model.mtp)):
            pre = f"model.layers.{model.cfg['num_hidden_layers'] + k}."
            for copy, main in ((pre + "embed_tokens.weight", "model.embed_tokens.weight"), (pre + "shared_head.head.weight", "lm_head.weight")):
                if copy in tensors:
                    if not torch.equal(tensors[copy], tensors[main]):
                        raise ValueError(f"{copy} differs from {main}; this peer shares them")
                    used.add(copy)
    unused = set(tensors) - used
    if unused:
        raise KeyError(f"tensors the model does not have: {sorted(unused)[:5]}")


# ---------------------------------------------------------------------------------------------------- blocks

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def yarn_rope(cfg, positions):
    """cos, sin [positions, d_r/2] of the interleaved rotary pairs, and the softmax scale (docs/architecture.md §4.4, §5)."""
    dim, base = cfg["qk_rope_head_dim"], float(cfg.get("rope_theta", 10000))
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    scale = (cfg["qk_nope_head_dim"] + dim) ** -0.5
    attention_factor = 1.0
    rs = cfg.get("rope_scaling")
    if rs and (rs.get("rope_type") or rs.get("type") or "").lower() == "yarn":
        factor = float(rs["factor"])
        original = rs.get("original_max_position_embeddings", 4096)

        def j(rot):
            return dim * math.log(original / (rot * 2 * math.pi)) / (2 * math.log(base))

        low, high = j(rs.get("beta_fast", 32)), j(rs.get("beta_slow", 1))
        if rs.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
        smooth = 1 - ramp
        freqs = freqs / factor * (1 - smooth) + freqs * smooth

        def mscale(s, m):
            return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0

        ms, msa = rs.get("mscale"), rs.get("mscale_all_dim")
        attention_factor = mscale(factor, ms) / mscale(factor, msa) if ms is not None and msa is not None else mscale(factor, 1.0)
        if msa:
            scale *= mscale(factor, msa) ** 2
    angles = torch.outer(torch.arange(positions, dtype=torch.float32), freqs)
    return torch.cos(angles) * attention_factor, torch.sin(angles) * attention_factor, scale


def apply_rope(x, cos, sin):
    """Rotates the adjacent pairs (x_2j, x_2j+1) of x [..., T, heads, d_r] by position·θ'_j."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class Mla(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, self.nh = cfg["hidden_size"], cfg["num_attention_heads"]
        self.dn, self.dr, self.dv, self.dc = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"], cfg["kv_lora_rank"]
        eps, qr = cfg["rms_norm_eps"], cfg.get("q_lora_rank") or 0
        if qr:
            self.q_a_proj = nn.Linear(d, qr, bias=False)
            self.q_a_layernorm = RMSNorm(qr, eps)
            self.q_b_proj = nn.Linear(qr, self.nh * (self.dn + self.dr), bias=False)
        else:
            self.q_proj = nn.Linear(d, self.nh * (self.dn + self.dr), bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(d, self.dc + self.dr, bias=False)
        self.kv_a_layernorm = RMSNorm(self.dc, eps)
        self.kv_b_proj = nn.Linear(self.dc, self.nh * (self.dn + self.dv), bias=False)
        self.o_proj = nn.Linear(self.nh * self.dv, d, bias=False)

    def forward(self, x, rope):
        cos, sin, scale = rope
        b, t, _ = x.shape
        cos, sin = cos[:t], sin[:t]
        q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x))) if hasattr(self, "q_a_proj") else self.q_proj(x)
        q = q.view(b, t, self.nh, self.dn + self.dr)
        q_nope, q_pe = q.split([self.dn, self.dr], dim=-1)
        q = torch.cat([q_nope, apply_rope(q_pe, cos, sin)], dim=-1)                     # [B, T, n_h, d_qk]
        c, k_pe = self.kv_a_proj_with_mqa(x).split([self.dc, self.dr], dim=-1)
        k_pe = apply_rope(k_pe.unsqueeze(2), cos, sin)                                  # [B, T, 1, d_r]
        kv = self.kv_b_proj(self.kv_a_layernorm(c)).view(b, t, self.nh, self.dn + self.dv)
        k_nope, v = kv.split([self.dn, self.dv], dim=-1)
        k = torch.cat([k_nope, k_pe.expand(-1, -1, self.nh, -1)], dim=-1)               # [B, T, n_h, d_qk]
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)               # [B, n_h, T, ·]
        scores = torch.matmul(q, k.transpose(-1, -2)) * scale                           # [B, n_h, T, T]
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        probs = scores.masked_fill(mask, float("-inf")).softmax(dim=-1)
        o = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, self.nh * self.dv)
        return self.o_proj(o)


class Mlp(nn.Module):
    def __init__(self, d, inter):
        super().__init__()
        self.gate_proj = nn.Linear(d, inter, bias=False)
        self.up_proj = nn.Linear(d, inter, bias=False)
        self.down_proj = nn.Linear(inter, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Gate(nn.Module):
    """The router: sigmoid (or softmax) affinities; selection on s + bias within the best groups; weights from s."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        e = cfg["n_routed_experts"]
        self.weight = nn.Parameter(torch.empty(e, cfg["hidden_size"]))
        self.noaux = cfg.get("topk_method") == "noaux_tc"
        if self.noaux:
            self.register_buffer("e_score_correction_bias", torch.zeros(e))

    def forward(self, x):                                                               # x [n, d]
        cfg = self.cfg
        logits = F.linear(x, self.weight)
        scores = logits.sigmoid() if cfg.get("scoring_func") == "sigmoid" else logits.softmax(dim=-1)
        with torch.no_grad():
            sel = scores + self.e_score_correction_bias if self.noaux else scores.clone()
            groups, keep = cfg.get("n_group") or 1, cfg.get("topk_group") or 1
            method = cfg.get("topk_method") or "greedy"
            if groups > 1 and method != "greedy":
                g = sel.view(x.shape[0], groups, -1)
                group_scores = g.topk(2, dim=-1).values.sum(-1) if method == "noaux_tc" else g.max(dim=-1).values
                kept = group_scores.topk(keep, dim=-1).indices
                drop = torch.ones_like(group_scores, dtype=torch.bool).scatter_(1, kept, False)
                sel = g.masked_fill(drop.unsqueeze(-1), float("-inf")).view(x.shape[0], -1)
            indices = sel.topk(cfg["num_experts_per_tok"], dim=-1).indices                # [n, K]
        weights = scores.gather(1, indices)
        if cfg.get("norm_topk_prob"):
            weights = weights / (weights.sum(-1, keepdim=True) + 1e-20)
        return weights * cfg.get("routed_scaling_factor", 1.0), indices, scores


class Moe(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, e = cfg["hidden_size"], cfg["n_routed_experts"]
        self.gate = Gate(cfg)
        self.experts = nn.ModuleList(Mlp(d, cfg["moe_intermediate_size"]) for _ in range(e))
        shared = (cfg.get("n_shared_experts") or 0) * cfg["moe_intermediate_size"]
        self.shared_experts = Mlp(d, shared) if shared else None

    def forward(self, x, routing):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        weights, indices, scores = self.gate(x)
        k = indices.shape[1]
        routing.append((scores.view(shape[0], shape[1], -1), indices.view(shape[0], shape[1], k)))
        y = torch.zeros_like(x)
        flat = indices.flatten()
        counts = torch.bincount(flat, minlength=len(self.experts)).tolist()
        order = flat.argsort()
        start = 0
        for e, count in enumerate(counts):
            if count == 0:
                continue
            slots = order[start:start + count]
            start += count
            rows = slots // k
            out = self.experts[e](x.index_select(0, rows)) * weights.view(-1).index_select(0, slots).unsqueeze(1)
            y.index_add_(0, rows, out)
        if self.shared_experts is not None:
            y = y + self.shared_experts(x)
        return y.view(shape)


class DecoderLayer(nn.Module):
    def __init__(self, cfg, index):
        super().__init__()
        eps = cfg["rms_norm_eps"]
        self.input_layernorm = RMSNorm(cfg["hidden_size"], eps)
        self.self_attn = Mla(cfg)
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], eps)
        moe = (cfg.get("n_routed_experts") or 0) > 0 and index >= cfg.get("first_k_dense_replace", 0) and index % max(1, cfg.get("moe_layer_freq", 1)) == 0
        self.mlp = Moe(cfg) if moe else Mlp(cfg["hidden_size"], cfg["intermediate_size"])

    def forward(self, h, rope, routing):
        h = h + self.self_attn(self.input_layernorm(h), rope)
        x = self.post_attention_layernorm(h)
        return h + (self.mlp(x, routing) if isinstance(self.mlp, Moe) else self.mlp(x))


class SharedHead(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class MtpLayer(DecoderLayer):
    """MTP module k at model.layers.{L + k}: its block plus enorm, hnorm, eh_proj and shared_head.norm. The embedding and
    the head are the main model's."""

    def __init__(self, cfg, index):
        super().__init__(cfg, index)
        d, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
        self.enorm = RMSNorm(d, eps)
        self.hnorm = RMSNorm(d, eps)
        self.eh_proj = nn.Linear(2 * d, d, bias=False)
        self.shared_head = SharedHead(cfg)


class Inner(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        L = cfg["num_hidden_layers"]
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(cfg, i) for i in range(L)] +
                                    [MtpLayer(cfg, L + k) for k in range(cfg.get("num_nextn_predict_layers") or 0)])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class DeepSeekV3(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Inner(cfg)
        self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        self.rope = yarn_rope(cfg, cfg.get("max_position_embeddings", 4096))

    @property
    def main_layers(self):
        return self.model.layers[:self.cfg["num_hidden_layers"]]

    @property
    def mtp(self):
        return self.model.layers[self.cfg["num_hidden_layers"]:]

    def init_weights(self, std=0.006):
        """N(0, std²) matrices and embedding, norms 1, expert biases 0 (docs/architecture.md §16)."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.dim() == 1:
                    p.fill_(1.0)
                else:
                    p.normal_(0.0, std)
            for name, b in self.named_buffers():
                b.zero_()

    def forward(self, tokens, run_mtp):
        """tokens [B, T] -> (logits [B, T, V], MTP logits per depth [B, T-k-1, V], routing per MoE layer)."""
        routing = []
        h = self.model.embed_tokens(tokens)
        for layer in self.main_layers:
            h = layer(h, self.rope, routing)
        normed = self.model.norm(h)
        logits = self.lm_head(normed)
        mtp_logits = []
        if run_mtp:
            prev, t = normed, tokens.shape[1]
            for k, m in enumerate(self.mtp):
                rows = t - k - 1                                                    # row i embeds t_{i+k+1}
                e = self.model.embed_tokens(tokens[:, k + 1:k + 1 + rows])
                x = m.eh_proj(torch.cat([m.enorm(e), m.hnorm(prev[:, :rows])], dim=-1))
                x = m(x, self.rope, routing)
                mtp_logits.append(self.lm_head(m.shared_head.norm(x)))
                prev = x
        return logits, mtp_logits, routing


def training_loss(model, tokens, mtp_lambda=0.3, balance_alpha=1e-4):
    """L = L_main + λ·L_mtp + α·L_bal as TrainingLoss.Compute defines it (the MTP module runs when λ > 0). Returns the
    total (a tensor to backward) and the parts as floats."""
    cfg = model.cfg
    run_mtp = mtp_lambda > 0 and len(model.mtp) > 0
    logits, mtp_logits, routing = model(tokens, run_mtp)
    b, t = tokens.shape
    vocab = cfg["vocab_size"]
    main = F.cross_entropy(logits[:, :t - 1].reshape(-1, vocab), tokens[:, 1:].reshape(-1))
    total = main
    mtp = torch.zeros(())
    if run_mtp:
        for k, ml in enumerate(mtp_logits):                                         # row i predicts t_{i+k+2}
            scored = t - k - 2
            mtp = mtp + F.cross_entropy(ml[:, :scored].reshape(-1, vocab), tokens[:, k + 2:].reshape(-1))
        mtp = mtp / len(mtp_logits)
        total = total + mtp_lambda * mtp
    bal = torch.zeros(())
    if balance_alpha > 0:
        experts, k = cfg["n_routed_experts"], cfg["num_experts_per_tok"]
        for scores, indices in routing:                                             # per MoE layer, main then MTP
            seq = scores.shape[1]
            with torch.no_grad():
                counts = torch.zeros(b, experts).scatter_add_(1, indices.reshape(b, -1), torch.ones(b, seq * k))
                f = counts * (experts / (k * seq))
            p = (scores / scores.sum(-1, keepdim=True)).mean(1)                     # [B, N_r]
            bal = bal + (f * p).sum(-1).mean()
        total = total + balance_alpha * bal
    return total, {"main": main.item(), "mtp": mtp.item(), "balance": bal.item(), "total": total.item()}


def make_optimizer(model, lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1):
    """AdamW with SeekSharp's OptimizerOptions: decay on matrices and the embedding, none on norms; the expert bias is
    a buffer, never trained."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=betas, eps=eps)
