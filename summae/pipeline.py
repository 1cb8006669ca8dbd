"""Train, summarize held-out documents, score them beside Lead baselines: the demo and the benchmarks."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from summae.config import Config
from summae.eval.baselines import baseline_summaries
from summae.eval.bottleneck import frequent_words, reconstruction_rouge, word_order_score
from summae.eval.readability import readability
from summae.eval.rouge import format_table, rouge_scores
from summae.io import BUNDLED_DIR
from summae.model.build import load_for_inference
from summae.runtime import pick_device
from summae.summarize import Summarizer
from summae.tokenization import decode_texts, encode_texts, pad_ids
from summae.train.trainer import Trainer


@dataclass
class EvalSet:
    name: str  # "test", "dev", "duc2003"
    documents: list[str]
    references: list[list[str]]  # references[i]: all references of document i
    duc: bool = False  # DUC rules: recall at 75 bytes
    baselines: dict[str, dict] = field(default_factory=lambda: {"lead8": {"lead": 8}, "lead10": {"lead": 10},
                                                                "prefix75": {"prefix": 75}})


def score_baselines(eval_set: EvalSet) -> dict[str, dict]:
    return {name: rouge_scores(baseline_summaries(eval_set.documents, **kind), eval_set.references, duc=eval_set.duc)
            for name, kind in eval_set.baselines.items()}


def score_model(model_dir: Path, eval_set: EvalSet, *, device: str = "auto", batch_size: int | None = None,
                words: int | None = None, save_to: Path | None = None,
                cuda_graphs: bool = False, span_bonus: float | None = None) -> tuple[dict, list[str], float]:
    """Summaries of eval_set with the default decoding (or --words), their ROUGE, and sentences/s.
    cuda_graphs: as Summarizer's (off by default); span_bonus: instead of the model's summary.span_bonus."""
    summarizer = Summarizer.from_pretrained(model_dir, device=device, cuda_graphs=cuda_graphs)
    if span_bonus is not None:
        summarizer.model.rules.span_bonus = span_bonus
    begin = time.perf_counter()
    hyps = summarizer(eval_set.documents, words=words, batch_size=batch_size)
    rate = len(hyps) / max(time.perf_counter() - begin, 1e-9)
    if save_to is not None:
        save_to.write_text("\n".join(hyps) + "\n", encoding="utf-8")
    return rouge_scores(hyps, eval_set.references, duc=eval_set.duc), hyps, rate


def readability_rows(eval_set: EvalSet, hyps: list[str], lm) -> dict[str, dict]:
    """Readability (summae.eval.readability) of the model's summaries, Lead-8 and the first references."""
    docs = eval_set.documents
    return {"summae": readability(hyps, docs, lm), "lead8": readability(baseline_summaries(docs, lead=8), docs, lm),
            "references": readability([refs[0] for refs in eval_set.references], docs, lm)}


def teacher_summaries(extractor, tokenizer, vocab, model_cfg, documents: list[str], words: int) -> list[str]:
    """The search that train.pseudo=extract distils (summae.train.pseudo), run on held-out documents: how good the
    teacher is, next to the student. Same tokenizer, length and source truncation as the model."""
    ids, _ = encode_texts(tokenizer, documents, model_cfg.max_source_tokens - 1)
    docs = pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=model_cfg.max_source_tokens)
    out = []
    for rows in torch.split(docs, 512):
        picked = extractor.targets(rows, torch.full((rows.shape[0],), words), max_tokens=model_cfg.max_summary_tokens)
        out += decode_texts(tokenizer, picked)
    return [text.strip() for text in out]


@torch.no_grad()
def autoencoder_report(model_dir: Path, documents: list[str], *, device: str = "auto", batch_size: int = 256,
                       samples: int = 10, no_repeat_ngram: int = 0, document_length: bool = False) -> dict:
    """The bottleneck as an auto-encoder on held-out documents: greedy summaries at the default length (fp32),
    the reconstructor's NLL of the document given each (nats per document token), its greedy reconstruction,
    and summae.eval.bottleneck's measures; plus the first `samples` (document, summary, reconstruction)
    triples. no_repeat_ngram: the greedy reconstruction never repeats an n-gram of tokens (0: plain argmax).
    document_length: the greedy reconstruction does not end before the document's number of tokens (the padded
    summary it is compared with is told the document's length too); False: it ends where it picks EOS."""
    cfg, tokenizer, model = load_for_inference(model_dir, with_reconstructor=True)
    model.to(pick_device(device))
    vocab, m = model.vocab, cfg.model
    ids, _ = encode_texts(tokenizer, documents, m.max_source_tokens - 1)
    docs = pad_ids(ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=m.max_source_tokens)  # (N, L)
    summaries, rebuilt, nll_sum, tokens = [], [], 0.0, 0
    for rows in torch.split(docs, batch_size):
        rows = rows.to(model.word_start.device)
        target = torch.full((rows.shape[0],), cfg.summary.default_words, device=rows.device)
        comp_ids, comp_mask = model.compressor_inputs(rows, rows != vocab.pad_id, target)
        summary = model.write_summary(comp_ids, comp_mask, target)  # (B, S)
        counts = (rows != vocab.pad_id).sum(1)  # (B,) document tokens + EOS
        nll_sum += float((model.reconstruction_nll(summary, rows) * counts).sum())
        tokens += int(counts.sum())
        summaries += decode_texts(tokenizer, summary.tolist())
        wanted = (model.rec_target(rows) != vocab.pad_id).sum(1) - 1 if document_length else None  # (B,) no EOS
        rebuilt += decode_texts(tokenizer, model.reconstruct_greedy(summary, max_tokens=rows.shape[1],
                                                                    no_repeat_ngram=no_repeat_ngram,
                                                                    min_tokens=wanted).tolist())
    summaries, rebuilt = [s.strip() for s in summaries], [r.strip() for r in rebuilt]
    return {"reconstruction_nll": round(nll_sum / max(tokens, 1), 4),
            "word_order": round(word_order_score(summaries, documents), 4),
            **reconstruction_rouge(documents, summaries, rebuilt, frequent_words(documents)),
            "triples": [{"document": d, "summary": s, "reconstruction": r}
                        for d, s, r in list(zip(documents, summaries, rebuilt))[:samples]]}


def train_and_score(cfg: Config, out: Path, eval_sets: list, *, device: str = "auto", echo=print,
                    progress: bool = True, lm=None, resume: bool = False) -> dict:
    """The whole job: train into `out`, then score best/ on each evaluation set beside its baselines (and, given
    a headline LM, the readability measures of summae.eval.readability). eval_sets: EvalSets, or functions of
    the trained Config (whose lengths the data may have set) that return one. resume: continue the run in `out`
    from its last/ checkpoint."""
    trainer = Trainer(cfg, out, resume=resume, device=device, echo=echo, progress=progress)
    result = trainer.train()
    cfg = trainer.cfg  # with the settings chosen from the data (summae.train.auto)
    # a set may wait for them: the Lead baselines at the summary length the model chose
    eval_sets = [s(cfg) if callable(s) else s for s in eval_sets]
    report = {"steps": result["step"], "train_seconds": result["train_seconds"],
              "train_docs_per_s": round(result["docs_per_s"], 1), "best_step": result["best_step"],
              "start_step": result["start_step"], "seconds_this_run": result["seconds_this_run"], "sets": {}}
    for eval_set in eval_sets:
        model_scores, hyps, rate = score_model(out, eval_set, device=device,
                                               save_to=out / f"{eval_set.name}.summaries.txt")
        rows = {"summae": model_scores, **score_baselines(eval_set)}
        order = {"summae": word_order_score(hyps, eval_set.documents)}
        if getattr(trainer, "extractor", None) is not None:
            teacher = teacher_summaries(trainer.extractor, trainer.tokenizer, trainer.vocab, cfg.model,
                                        eval_set.documents, cfg.summary.default_words)
            rows["teacher"] = rouge_scores(teacher, eval_set.references, duc=eval_set.duc)
            order["teacher"] = word_order_score(teacher, eval_set.documents)
        picked = sorted(random.Random(0).sample(range(len(hyps)), min(20, len(hyps))))
        report["sets"][eval_set.name] = {
            "model": model_scores, "baselines": rows, "summarize_sentences_per_s": round(rate, 1),
            "word_order": {k: round(v, 4) for k, v in order.items()},
            "samples": list(zip(eval_set.documents[:5], hyps[:5])),
            # 20 documents drawn with a fixed seed, for docs/quality.md
            "random_samples": [{"document": eval_set.documents[i], "references": eval_set.references[i],
                                "summary": hyps[i]} for i in picked]}
        if lm is not None:
            report["sets"][eval_set.name]["readability"] = readability_rows(eval_set, hyps, lm)
        mode = "recall, 75-byte cut" if eval_set.duc else "F1"
        echo(f"\n{eval_set.name} ({len(hyps)} documents, ROUGE {mode}, rouge-score with stemming):")
        echo(format_table(rows))
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def bundled_test_set(words: int) -> EvalSet:
    """The 500 held-out Debian descriptions and their synopses; Lead baselines at the model's length and 8,
    the first sentence (a description opens with what the package is) and the first 75 bytes."""
    rows = [json.loads(line) for line in (BUNDLED_DIR / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    leads = sorted({words, 8})
    return EvalSet("test", [r["document"] for r in rows], [[r["summary"]] for r in rows],
                   baselines={f"lead{n}": {"lead": n} for n in leads} | {"lead1sent": {"lead_sentences": 1},
                                                                         "prefix75": {"prefix": 75}})
