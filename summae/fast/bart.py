"""Training fast paths specific to transformers' BART, the architecture summae builds."""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BartForConditionalGeneration


@contextmanager
def cross_projections_once(model, rows: int):
    """Within: a BART decoder's cross-attention projects the keys and values of the first `rows` rows of the
    encoder states only and repeats them, for encoder states that are those rows repeated (enc.repeat(k, 1, 1)).

    The values and every gradient are the same (the repeated rows are equal, so the weights' gradient sums the
    same products, and the encoder's gets the same sum through the first copy), for 1/k of the projections'
    work: the training step decodes the written summaries and the lead targets of one encoder pass. Other
    architectures run as they are.
    """
    projections = [proj for layer in model.get_decoder().layers
                   for proj in (layer.encoder_attn.k_proj, layer.encoder_attn.v_proj)
                   ] if type(model) is BartForConditionalGeneration else []
    if not projections or any(type(proj) is not nn.Linear for proj in projections):
        yield
        return

    def once(proj):
        def forward(states):  # (k * rows, L, D) -> the projection of the first rows, repeated k times
            return F.linear(states[:rows], proj.weight, proj.bias).repeat(states.shape[0] // rows, 1, 1)
        return forward

    for proj in projections:
        proj.forward = once(proj)
    try:
        yield
    finally:
        for proj in projections:
            del proj.forward


def labelled_nll_applies(reconstructor) -> bool:
    return type(reconstructor) is BartForConditionalGeneration


def labelled_nll(reconstructor, inputs_embeds: torch.Tensor, mask: torch.Tensor, dec_in: torch.Tensor,
                 doc_labels: torch.Tensor, pad_id: int) -> torch.Tensor:
    """token_nll(reconstructor logits, doc_labels) with the V-way output head and its softmax run only where a
    label is a document token, not on the padding of the batch's width (the head is the largest matmul of the
    training step)."""
    hidden = reconstructor.model(inputs_embeds=inputs_embeds, attention_mask=mask.long(),
                                 decoder_input_ids=dec_in).last_hidden_state  # (B, L, D)
    keep = doc_labels != pad_id  # (B, L)
    logits = reconstructor.lm_head(hidden[keep]) + reconstructor.final_logits_bias  # (N, V): labelled positions
    return F.cross_entropy(logits.float(), doc_labels[keep])
