"""Score a finished `summae train` run on held-out pairs of its own corpus, beside Lead baselines and its teacher.

    python benchmarks/own_corpus.py --run RUN_DIR --test test.jsonl [--text-field body]
        [--summary-field summary] --name NAME [--out JSON] [--device cpu|cuda|auto] [--limit N]

For a corpus trained without a YAML (`summae train --train-files docs.jsonl --text-field body --real-files
titles.txt`), e.g. the one scripts/prepare_docstrings.py writes. The references are read only here, to score.
Rows: summae (best/ at its default decoding), Lead-k (k = the run's summary.default_words), Lead-8, the first
sentence, the first 75 bytes, and the teacher: the extraction search (summae.train.pseudo) at the run's
train.extract_alpha / extract_beta, its tables rebuilt from the run's tokenizer and data files as the trainer
builds them. Writes benchmarks/results/own_corpus-<YYYYMMDD>-<hardware>-<NAME>.json (or --out): ROUGE F1 in
percent, the run's settings, the command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "words")
IDF_STREAM_DOCS = 100_000  # a streaming run's idf comes from the first documents of the stream (as the trainer's)


def read_state(directory: Path) -> dict:
    path = directory / "trainer_state.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def run_settings(run: Path, cfg, model) -> dict:
    """What the run chose: model size, lengths, the search's weights, steps and training time."""
    last, best = read_state(run / "last"), read_state(run / "best")
    m, s, t = cfg.model, cfg.summary, cfg.train
    return {
        "model": {"d_model": m.d_model, "encoder_layers": m.encoder_layers, "decoder_layers": m.decoder_layers,
                  "heads": m.heads, "ffn_dim": m.ffn_dim, "pretrained": m.pretrained,
                  "compressor_parameters": sum(p.numel() for p in model.parameters()),
                  "max_source_tokens": m.max_source_tokens, "max_summary_tokens": m.max_summary_tokens},
        "summary": {"min_words": s.min_words, "max_words": s.max_words, "default_words": s.default_words,
                    "span_bonus": s.span_bonus},
        "train": {"pseudo": t.pseudo, "extract_alpha": t.extract_alpha, "extract_beta": t.extract_beta,
                  "steps_limit": t.steps, "minutes": t.minutes, "batch_size": t.batch_size, "seed": t.seed},
        "steps": last.get("step", best.get("step")), "best_step": best.get("best_step", best.get("step")),
        "train_seconds": last.get("train_seconds", best.get("train_seconds")),
        "data": {"train_files": cfg.data.train_files, "text_field": cfg.data.text_field,
                 "real_files": cfg.data.real_files},
    }


def build_extractor(cfg, tokenizer, vocab):
    """The run's search (summae.train.pseudo.Extractor), rebuilt as Trainer._build_extractor builds it: a bigram
    LM of the real texts and idf over the training documents less the held-out dev ones (load_training_texts
    splits them off the same way), both encoded with the run's tokenizer at its lengths. None without real
    texts."""
    from summae.tokenization import encode_texts, pad_ids
    from summae.train.data import load_training_texts
    from summae.train.pseudo import build_extractor

    texts = load_training_texts(cfg)
    if texts.real is None:
        return None
    m, t = cfg.model, cfg.train
    real_ids, _ = encode_texts(tokenizer, texts.real, m.max_source_tokens - 1)
    if cfg.data.streaming:
        docs = [row["text"] for _, row in zip(range(IDF_STREAM_DOCS), texts.docs)]
    else:
        docs = list(texts.docs["text"])
    doc_ids = pad_ids(encode_texts(tokenizer, docs, m.max_source_tokens - 1)[0], eos_id=vocab.eos_id,
                      pad_id=vocab.pad_id, width=m.max_source_tokens)
    return build_extractor(real_ids, doc_ids, vocab, max_tokens=m.max_source_tokens, alpha=t.extract_alpha,
                           beta=t.extract_beta)


def score_run(run: Path, documents: list[str], references: list[str], *, name: str, device: str,
              teacher: bool = True, span_bonus: float | None = None) -> tuple[dict, dict, float]:
    """(rows of ROUGE scores by system, the run's settings, summae's sentences per second)."""
    from summae.model.build import load_for_inference
    from summae.pipeline import EvalSet, score_baselines, score_model, teacher_summaries
    from summae.eval.rouge import rouge_scores

    cfg, tokenizer, model = load_for_inference(run)
    if span_bonus is not None:
        cfg.summary.span_bonus = span_bonus  # recorded in the settings as what the summaries were decoded with
    k = cfg.summary.default_words
    leads = {f"lead{n}": {"lead": n} for n in sorted({k, 8})}
    eval_set = EvalSet(name, documents, [[r] for r in references],
                       baselines=leads | {"lead1sent": {"lead_sentences": 1}, "prefix75": {"prefix": 75}})
    model_scores, _, rate = score_model(run, eval_set, device=device, span_bonus=span_bonus)
    rows = {"summae": model_scores, **score_baselines(eval_set)}
    extractor = build_extractor(cfg, tokenizer, model.vocab) if teacher else None
    if extractor is not None:
        picked = teacher_summaries(extractor, tokenizer, model.vocab, cfg.model, documents, k)
        rows["teacher"] = rouge_scores(picked, eval_set.references)
    return rows, run_settings(run, cfg, model), rate


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="a finished `summae train` run directory (best/ inside)")
    parser.add_argument("--test", required=True, help="held-out pairs, jsonl")
    parser.add_argument("--text-field", default="body", help="the documents' field in --test")
    parser.add_argument("--summary-field", default="summary", help="the references' field in --test")
    parser.add_argument("--name", required=True, help="the corpus's name, in the result file name")
    parser.add_argument("--out", help="result JSON (default benchmarks/results/own_corpus-DATE-HARDWARE-NAME.json)")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    parser.add_argument("--limit", type=int, help="only the first N test pairs (smoke tests)")
    parser.add_argument("--span-bonus", type=float,
                        help="decode with this summary.span_bonus instead of the run's "
                             "(a run trained before it existed)")
    parser.add_argument("--no-teacher", action="store_true", help="skip rebuilding and scoring the search")
    args = parser.parse_args(argv)

    from gigaword import hardware
    from summae.cli import quiet_libraries
    from summae.errors import SummaeError
    from summae.eval.rouge import format_table
    from summae.io import read_texts
    from throughput import commit

    quiet_libraries()
    try:
        documents = read_texts(args.test, field=args.text_field)[: args.limit]
        references = read_texts(args.test, field=args.summary_field)[: args.limit]
        rows, settings, rate = score_run(Path(args.run), documents, references, name=args.name,
                                         device=args.device, teacher=not args.no_teacher,
                                         span_bonus=args.span_bonus)
    except SummaeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    hw, detail = hardware("cpu" if args.device == "cpu" else None)
    result = {"benchmark": "own_corpus", "name": args.name,
              "command": ["benchmarks/own_corpus.py", *(sys.argv[1:] if argv is None else argv)],
              "commit": commit(), "date": dt.date.today().isoformat(), "hardware": hw, "hardware_detail": detail,
              "run": str(args.run), "test": str(args.test), "documents": len(documents),
              "settings": settings, "summarize_sentences_per_s": round(rate, 1),
              "table": {system: {key: scores[key] for key in ROUGE_KEYS} for system, scores in rows.items()}}
    out = Path(args.out) if args.out else (ROOT / "benchmarks" / "results" /
                                           f"own_corpus-{dt.date.today():%Y%m%d}-{hw}-{args.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{args.name} ({len(documents)} documents, ROUGE F1, rouge-score with stemming):")
    print(format_table(rows))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
