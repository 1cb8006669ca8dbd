"""Token-by-token decoding of a BART decoder with a static KV cache, for writing summaries fast.

transformers' own incremental decoding builds masks, grows a DynamicCache and re-checks its arguments at
every token; for 12-token summaries that bookkeeping costs more than the arithmetic. `StaticDecoder` runs
the same layers (the model's own modules and weights, so autocast and quantisation apply as usual) over
a preallocated cache: the cross-attention keys and values are projected once per batch, each step adds
one row to the self-attention cache. It covers BartForConditionalGeneration, the architecture summae
builds; other (pretrained) seq2seq models keep transformers' loop. Inference only: no dropout, no grad.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def supports(model) -> bool:
    """True for a BART seq2seq whose decoder this module can run: post-norm, no final norm, unscaled or scaled
    word embeddings, learned positions with BART's offset."""
    from transformers import BartForConditionalGeneration

    if type(model) is not BartForConditionalGeneration:
        return False
    decoder = model.get_decoder()
    return (getattr(decoder, "layerdrop", 0.0) == 0.0 and not getattr(model.config, "add_final_layer_norm", False)
            and getattr(decoder.embed_positions, "offset", None) == 2)


class StaticDecoder:
    """decoder = StaticDecoder(model, enc, enc_mask, steps); decoder.step(tokens, t) -> (logits, hidden).

    enc (B, L, D) encoder states, enc_mask (B, L) True on real positions; steps: the most tokens it will decode.
    step(tokens (B,), t) feeds the token at position t and returns the next-token logits (B, V) (final logits
    bias included) and the last layer's hidden state (B, D), as the model's forward would at that position.
    """

    def __init__(self, model, enc: torch.Tensor, enc_mask: torch.Tensor, steps: int):
        self.model = model
        decoder = model.get_decoder()
        self.decoder = decoder
        self.layers = list(decoder.layers)
        first = self.layers[0].self_attn
        self.heads, self.head_dim = first.num_heads, first.head_dim
        batch = enc.shape[0]
        dtype = self._compute_dtype(enc)
        # bf16 on CPU: one query per row as two batched matmuls and a softmax over T, in fp32 (keys and
        # values kept in fp32, contiguous). The CPU flash-attention kernel tiles for long queries and is
        # slower at this one-query shape in bf16; in fp32 the matmul form does not gain, so fp32 keeps SDPA
        # (benchmarks/experiments/attention.py; docs/performance.md, "The fast paths")
        self.matmul_attention = enc.device.type == "cpu" and dtype != torch.float32
        cache_dtype = torch.float32 if self.matmul_attention else dtype
        layout = torch.contiguous_format if self.matmul_attention else torch.preserve_format
        # additive cross-attention mask (B, 1, 1, L): 0 on real positions, -inf on padding
        self.cross_mask = torch.zeros(enc_mask.shape, dtype=cache_dtype, device=enc.device).masked_fill(
            ~enc_mask.bool(), float("-inf"))[:, None, None, :]
        self.cross = [(self._split(layer.encoder_attn.k_proj(enc)).to(cache_dtype, memory_format=layout),
                       self._split(layer.encoder_attn.v_proj(enc)).to(cache_dtype, memory_format=layout))
                      for layer in self.layers]  # per layer: (B, H, L, dh) keys, values
        # per layer, the self-attention's q, k and v projections as one (3D, D) matmul
        self.qkv = [(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]),
                     torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]) if a.q_proj.bias is not None else None)
                    for a in (layer.self_attn for layer in self.layers)]
        shape = (batch, self.heads, steps, self.head_dim)
        self.keys = [torch.empty(shape, dtype=cache_dtype, device=enc.device) for _ in self.layers]
        self.values = [torch.empty(shape, dtype=cache_dtype, device=enc.device) for _ in self.layers]
        self.positions = decoder.embed_positions.weight  # row t + 2 is position t (BART's offset)
        self.bias = getattr(model, "final_logits_bias", None)

    @staticmethod
    def _compute_dtype(enc: torch.Tensor) -> torch.dtype:
        if torch.is_autocast_enabled(enc.device.type):
            return torch.get_autocast_dtype(enc.device.type)
        return enc.dtype

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n * dh) -> (B, n, T, dh): heads first (n = H, or 3H for a fused q/k/v projection)."""
        return x.view(x.shape[0], x.shape[1], -1, self.head_dim).transpose(1, 2)

    def _attend(self, attn, q, keys, values, mask=None):
        """q (B, H, 1, dh) against keys/values (B, H, T, dh) -> the attention's output projection (B, 1, D)."""
        if self.matmul_attention:
            scores = torch.matmul(q.to(keys.dtype), keys.transpose(-1, -2)).mul_(attn.scaling)  # (B, H, 1, T)
            if mask is not None:
                scores = scores.add_(mask)
            out = torch.matmul(scores.softmax(-1), values).to(q.dtype)
        else:
            out = F.scaled_dot_product_attention(q, keys.to(q.dtype), values.to(q.dtype), attn_mask=mask,
                                                 scale=attn.scaling)
        return attn.out_proj(out.transpose(1, 2).reshape(q.shape[0], 1, -1))

    def step(self, tokens: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        decoder = self.decoder
        h = decoder.embed_tokens(tokens[:, None]) + self.positions[t + 2]  # (B, 1, D)
        h = decoder.layernorm_embedding(h)
        for i, layer in enumerate(self.layers):
            q, k, v = self._split(F.linear(h, *self.qkv[i])).chunk(3, dim=1)  # (B, H, 1, dh) each
            self.keys[i][:, :, t: t + 1] = k
            self.values[i][:, :, t: t + 1] = v
            h = layer.self_attn_layer_norm(h + self._attend(layer.self_attn, q, self.keys[i][:, :, : t + 1],
                                                            self.values[i][:, :, : t + 1]))
            keys, values = self.cross[i]
            q = self._split(layer.encoder_attn.q_proj(h))
            h = layer.encoder_attn_layer_norm(h + self._attend(layer.encoder_attn, q, keys, values, self.cross_mask))
            h = layer.final_layer_norm(h + layer.fc2(layer.activation_fn(layer.fc1(h))))
        logits = self.model.lm_head(h[:, 0])  # (B, V)
        if self.bias is not None:
            logits = logits + self.bias.to(logits.dtype)
        return logits, h[:, 0]
