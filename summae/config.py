"""Typed, nested configuration: YAML in, `--set section.key=value` overrides, YAML out.

The defaults are the recommended recipe (summae/configs/gigaword.yaml names the news files it was measured
on): a config names its data and holds only what differs from the defaults. Every field carries a comment
with its unit and range. Unknown keys and wrong types fail loudly with a one-line SummaeError, so a typo in
a config never trains the wrong model silently.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from summae.errors import SummaeError
from summae.yamlconfig import Dumper, Loader, apply_override, build

# keys that configs once had and that are now dropped on load, with why: saved runs and checkpoints still
# carry them (their value 0 was the only one ever written), so they load without a word; any other value
# gets a warning, because it never did anything
RETIRED = {"train.num_workers": "data is read in the training process; the key was never used"}
# upper bounds of the length settings: attention's cost grows with the square of the length, and the position
# embeddings are built this long (4 x the 1,024-token articles measured in benchmarks/length_scaling.py)
MAX_SOURCE_TOKENS = 4096
MAX_SUMMARY_TOKENS = 256


@dataclass
class DataConfig:
    train_files: list[str] = field(default_factory=list)  # documents: paths or globs (txt/jsonl/json/csv/parquet)
    text_field: str = "document"  # column of jsonl/csv/parquet documents (ignored for .txt)
    real_files: list[str] = field(default_factory=list)  # unpaired real short texts for the discriminator; [] = none
    real_field: str = "summary"  # column of jsonl/csv/parquet real texts
    dev_documents: str | None = None  # documents used to pick best/ (optional)
    dev_references: str | None = None  # their references, line-aligned; None = reference-free selection
    dev_field: str = "summary"  # reference column when dev_references is jsonl
    dev_size: int = 500  # documents of the dev set used during training, >= 1
    data_dir: str = "."  # base directory for relative paths above ("bundled:" paths ignore it)
    streaming: bool = False  # stream the training files instead of loading them (for files larger than memory)
    labeled_files: list[str] = field(default_factory=list)  # semi-supervised only: jsonl (document, summary) pairs
    labeled_pairs: int = 0  # pairs used from labeled_files (a fixed seeded subset: 1k inside 10k); 0 = unsupervised
    labeled_summary_field: str = "summary"  # summary column of labeled_files (documents: text_field)


@dataclass
class TokenizerConfig:
    path: str | None = None  # a saved tokenizer directory or hub name; None = train SentencePiece on train_files
    vocab_size: int = 8000  # SentencePiece vocabulary (plus pad/eos/unk and length tokens), >= 100
    train_sentences: int = 100000  # documents sampled to train SentencePiece (+ a quarter as many real texts), >= 100
    character_coverage: float = 1.0  # SentencePiece character coverage, (0.9, 1]


@dataclass
class ModelConfig:
    pretrained: str | None = None  # local seq2seq checkpoint or hub name to start both seq2seq models from
    # hidden size of compressor and reconstructor; 0 = a size from the corpus, the time budget and the device
    # (summae.train.auto.model_size: layers, feed-forward and discriminator widths with it)
    d_model: int = 256
    encoder_layers: int = 3  # transformer layers per encoder
    decoder_layers: int = 3  # transformer layers per decoder
    heads: int = 4  # attention heads, divides d_model
    ffn_dim: int = 1024  # feed-forward width
    dropout: float = 0.1  # dropout inside both seq2seq models, [0, 1)
    # document tokens kept (longer documents are truncated, and counted), >= 8; 0 = from the training documents'
    # token lengths (summae.train.auto: their 99.9th percentile, rounded up to 32, at most 1,024)
    max_source_tokens: int = 64
    max_summary_tokens: int = 20  # summary tokens including EOS, >= 3 (16 cut 10-word pseudo-summaries short)
    # what the reconstructor rebuilds: 0 = the whole document; N = N document tokens, [1, max_source_tokens]: a
    # window starting at a random word in training, the first N tokens in evaluation (SummaeModel.rec_target)
    rec_target_tokens: int = 0
    copy: bool = True  # pointer head over the document on the compressor (summary words are mostly document words)
    rec_copy: bool = False  # pointer head over the summary on the reconstructor (it copies the summary's words back)
    disc_d_model: int = 128  # discriminator embedding width
    disc_filters: int = 128  # discriminator convolution filters per width (widths 2, 3, 4)


@dataclass
class SummaryConfig:
    # 0 in min_words, max_words or default_words = from the real short texts' lengths (summae.train.auto)
    min_words: int = 5  # shortest training target in words, >= 1 (0: the real texts' 5th percentile)
    max_words: int = 13  # longest training target and longest --words accepted, >= min_words (0: 99th percentile)
    ratio_min: float = 0.25  # training targets: words = ratio * document words, ratio drawn in [ratio_min, ratio_max]
    ratio_max: float = 0.45  # upper end of that range, <= 1
    # share of training targets at default_words (clipped to the document's words) instead of the ratio rule, in
    # [0, 1]: summarizing asks every document for default_words, and a short one never gets that many words from a
    # ratio (docstrings: a third of the documents under ratio_max 0.3 and 13 words). 0 = the ratio rule alone
    default_share: float = 0.0
    default_words: int = 10  # target when summarizing without --words/--ratio, in [1, max_words] (0: mean + 1 sd)
    no_repeat_words: bool = True  # never write the same word-start piece twice in one summary
    whole_words: bool = True  # a word begun by copying a document piece is finished as the document spells it
    in_order: bool = False  # copied words keep the document's order (a word the document holds only earlier is banned)
    # after decoding, the summary's words are put in the order the document has them, each at its own occurrence
    # (summae.decode.rules.document_order; no word changes).
    # On Gigaword dev-4000 over five CPU runs: R-2 +0.95 to +1.72, R-L +0.80 to +1.07, R-1 and DUC-2003 unchanged
    # (benchmarks/experiments/document_order_dev.py -> document-order-dev-20261205-cpu2.json; dev references)
    # Each word at its own occurrence rather than its first: Debian dev (3 demo models) R-2 / R-L
    # 13.50 / 30.31 -> 13.61 / 30.39, Gigaword dev 10.85 / 30.33 -> 10.87 / 30.32 (document_order_variants.py)
    document_order: bool = True
    # greedy decoding: nats added to the word that follows, in the document, the word just written (copying the
    # document's own phrases, as the teacher's bigram-scored extractions do); >= 0, 0 = off. It trades R-1 for R-2,
    # and the trade depends on the corpus (benchmarks/experiments/span_bonus_dev.py, dev references): on Debian
    # dev (3 demo models) 1.0 is the best mean of and R-L (R-2 +0.58, R-1 -0.16); on Gigaword dev-4000
    # (1 CPU model) 1.0 costs 0.77 R-1 for +0.54 R-2, and 0 is best. Off here; demo.yaml and ready.yaml set 1.0;
    # train.span_bonus_search (auto.yaml) chooses it without references
    span_bonus: float = 0.0


@dataclass
class TrainConfig:
    seed: int = 0  # seeds torch, python and data order
    batch_size: int = 1024  # documents per step (per process), sized for one GPU; a CPU run wants 32-64; 0 = by size
    bucket_batches: int = 32  # batches per length-sorted window (similar lengths share a batch: less padding); 0 = off
    steps: int = 20000  # total optimizer steps, including pretrain_steps (an upper bound: minutes stops first)
    minutes: float | None = 3.0  # stop after this much training time (the recipe's GPU budget); None = run all steps
    pretrain_steps: int = 300  # first steps: compressor learns the pseudo-summaries, reconstructor learns to rebuild
    # with train.minutes: the budget's share for pseudo-summary pretraining, (0, 1); the trainer then plans
    # pretrain_steps, steps and eval_every from measured step times (summae.train.plan) and training ends at the
    # planned step. None = the configured step counts, train.minutes only a clock stop
    pretrain_share: float | None = None
    lr: float = 1e-3  # compressor + reconstructor AdamW learning rate
    d_lr: float = 5e-4  # discriminator AdamW learning rate
    warmup_steps: int = 200  # linear warm-up of both learning rates, steps
    # learning-rate multiplier reached by a linear decay at the end of pretraining and kept after it, (0, 1];
    # 1.0 = constant after the warm-up
    lr_end: float = 1.0
    # learning-rate multiplier of the auto-encoding phase, (0, 1], held from its first step (a step change, not a
    # decay); None = lr_end. 0.3 with lr_end 1.0: pretraining at the full rate, the phase at 0.3 x (docs/autoencoder.md)
    phase_lr: float | None = None
    # the step from which phase_lr holds; None = the end of pretraining. A distill-only arm (pretrain_steps = steps)
    # with this at the recipe's pretrain_steps runs the recipe's learning rates: the control that tells the
    # auto-encoding phase's gain from the lower rate's (docs/autoencoder.md)
    phase_lr_step: int | None = None
    weight_decay: float = 0.01  # AdamW weight decay
    # an exponential moving average of the generator's weights (torch.optim.swa_utils.AveragedModel), updated after
    # each optimizer step at this decay, warmed up as min(decay, (1 + n) / (10 + n)) after n updates; the dev
    # evaluations, samples and the saved best/ and last/ are the average's (the live weights are kept for
    # --resume). [0, 1); 0 = off
    ema_decay: float = 0.0
    grad_clip: float = 1.0  # max gradient norm, > 0
    mixed_precision: str = "auto"  # "no" | "bf16" | "fp16" (accelerate) | "auto": bf16 on a GPU with bf16, else fp32
    tau: float = 1.0  # softmax temperature of the straight-through gradient, > 0
    sample_temperature: float = 0.5  # temperature of the summary sampled in training; 0 = greedy
    # on a CUDA device, write the training summaries from CUDA graphs (summae.fast.cuda_graphs). Off: the gain has
    # not been measured; a GPU measurement (benchmarks/throughput.py, on and off) must show it before it goes on
    cuda_graphs: bool = False
    rec_weight: float = 1.0  # weight of the reconstruction loss
    # weight of the adversarial loss on the generator (0 disables it). 0.1, not 0.5: on Debian dev references over
    # checkpoint-choice runs (3 seeds at 0.1, 2 at 0.5), the auto-encoding phase took dev R-1 from 34.57 to 35.30
    # at 0.1 and from 34.28 down to 33.23 at 0.5; on Gigaword dev (seed 0) last/ 34.36 / 10.10 at 0.1 against
    # 33.92 / 8.22 at 0.5 (docs/autoencoder.md)
    adv_weight: float = 0.1
    lead_weight: float = 0.5  # weight of the pseudo-summary loss after pretraining (keeps word order; 0.1 lost it)
    # weight of the fluency prior after pretraining: the summary's nats per token under a fixed token bigram LM of the
    # real texts (summae.train.fluency), through the straight-through one-hots; 0 = off. An alternative to D
    lm_weight: float = 0.0
    # weight of the self-critical policy gradient after pretraining (0 = off): each training summary is rewarded by
    # minus its description length (criterion.description_per_document: the summary's nats under the real texts'
    # LM, then the document's under this model's reconstructor, per document token), against the greedy summary's
    # (the baseline); the sequence-level signal beside the straight-through gradient. Needs pseudo=extract and
    # real texts (the LM is the search's)
    rl_weight: float = 0.0
    # rl_weight: the reward also gains rl_teacher_weight x the summary's token F1 against the document's
    # pseudo-summary (the teacher's extraction), so that the policy gradient cannot leave the teacher's region
    # for what only the reconstructor prefers; 0 = the description length alone
    rl_teacher_weight: float = 0.0
    # pseudo-summaries: "extract" (best in-order k-word extraction under a bigram LM of the real texts, idf and
    # position; summae.train.pseudo: well above the lead on Gigaword, docs/quality.md) | "lead" (first k words)
    pseudo: str = "extract"
    extract_alpha: float = 1.5  # extract: weight of word idf (content) against the real texts' bigram LM, >= 0
    extract_beta: float = 0.2  # extract: penalty per word of position in the document (lead prior), >= 0
    # extract: choose extract_alpha and extract_beta before training, with no references, by the shortest
    # description of held-out training documents through the bottleneck (summae.train.criterion, a small grid)
    teacher_search: bool = False
    # extract: "none" | "discriminator": each pseudo-summary is, per document, the extraction among the search's at
    # 9 weights around the teacher's (criterion.FAMILY) that a discriminator of the real texts against extractions
    # finds most real (summae.train.judge; trained before training, no references). Gigaword dev: the choice alone
    # +0.37 R-1 over the teacher, the CPU recipe's seed 0 with it last/ +0.68 R-1 over the recipe's; Debian dev: the
    # choice -1.0 R-1 (benchmarks/experiments/d_judge.py, docs/autoencoder.md). Off until it holds over seeds
    pseudo_judge: str = "none"
    # after training: choose summary.span_bonus among dev_eval.SPAN_BONUS_GRID by teacher agreement (ROUGE-1 F1 of
    # best/'s summaries against the extraction search's, on the held-out training documents; no references), and
    # write it into the run's configs. The rule follows dev references in both corpora measured: 1.0 on Debian (3
    # demo models), 0 on Gigaword dev-4000 (1 CPU model); benchmarks/experiments/span_bonus_dev.py --teacher
    span_bonus_search: bool = False
    # after pretraining, the compressor's target per document: "pseudo" (the pseudo-summary) | "reconstruction"
    # (the pseudo-summary or the compressor's own sample, whichever the reconstructor rebuilds the document from
    # with the lower NLL, less select_lm_weight x the real texts' LM log-probability per word: the auto-encoder
    # decides what a good summary is, and the compressor learns from its own better samples) | "family" (the
    # extraction, among the search's at 9 weights around the teacher's (criterion.FAMILY), that describes the
    # document in the fewest nats through the bottleneck: the real texts' LM for the summary, this model's
    # reconstructor for the document)
    select: str = "pseudo"
    select_lm_weight: float = 0.0  # select=reconstruction: weight of fluency (LM nats per word) against NLL, >= 0
    select_d_weight: float = 0.0  # select=reconstruction: weight of the discriminator's log D(summary), >= 0
    # the reconstruction and adversarial losses reach the compressor through the straight-through one-hots;
    # false: they train the reconstructor only, and the compressor learns from its targets (select) alone
    straight_through: bool = True
    rec_word_dropout: float = 0.3  # share of reconstructor teacher-forcing inputs replaced by <unk>, [0, 1)
    lead_input_drop: float = 0.1  # share of document words dropped from the compressor input in pretraining, [0, 1)
    d_steps: int = 1  # discriminator updates per generator update, >= 1
    sup_weight: float = 1.0  # weight of the supervised loss on labeled pairs (only with data.labeled_pairs > 0)
    labeled_batch_size: int = 128  # labeled pairs added to each step's batch (only with data.labeled_pairs > 0), >= 1
    log_every: int = 100  # steps between metric lines
    sample_every: int = 500  # steps between printed DOCUMENT -> SUMMARY -> RECONSTRUCTION tables; 0 = never
    eval_every: int = 200  # steps between dev evaluations (and best/ selection); 0 = only at the end
    # reference-free best/ by teacher agreement: an evaluation within this many points of the best agreement
    # so far replaces best/, so the latest such checkpoint is kept (the auto-encoding phase may move the student a
    # little off its teacher, and that can be a gain); 0 = the highest agreement. Unused with dev references
    # 2.0: chosen on Debian dev references over the same five runs (mean gap to the dev-best step 0.27 R-1,
    # against 0.58 for the highest agreement; benchmarks/experiments/criteria_table.py)
    agreement_slack: float = 2.0
    save_every: int = 2000  # steps between last/ checkpoints; 0 = only at the end
    on_nonfinite: str = "skip"  # NaN/inf loss or grad norm: skip (the step) | rollback (to last/) | lower_lr | stop
    max_bad_steps: int = 10  # non-finite steps in a row after which training stops anyway, >= 1
    collapse_steps: int = 200  # steps in a row of a pinned D or identical summaries = a collapse; 0 = never check
    collapse_acc: float = 0.99  # "pinned": D accuracy on real and on generated texts both >= this, (0.5, 1]
    on_collapse: str = "warn"  # a detected collapse: warn | rollback (to last/) | lower_lr (halve lr, d_lr) | stop


@dataclass
class Config:
    name: str = "summae"  # run name: the default output directory is runs/<name>
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: dict, *, where: str = "config") -> "Config":
        return build(cls, raw or {}, where, retired=RETIRED)

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | None = None) -> "Config":
        path = Path(path)
        if not path.is_file():
            raise SummaeError(f"config file not found: {path}")
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise SummaeError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from None
        if raw is not None and not isinstance(raw, dict):
            raise SummaeError(f"{path} must hold a mapping of sections, got {type(raw).__name__}")
        raw = raw or {}
        raw.setdefault("name", path.stem)
        for item in overrides or []:
            apply_override(raw, item)
        return cls.from_dict(raw, where=str(path)).validated()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self, path: str | Path | None = None) -> str:
        text = yaml.dump(self.to_dict(), Dumper=Dumper, sort_keys=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    # ---- checks that involve more than one field ----------------------------------------------
    def validated(self) -> "Config":
        m, s, t = self.model, self.summary, self.train
        checks = [
            (m.d_model % m.heads == 0, f"model.d_model ({m.d_model}) must be divisible by model.heads ({m.heads})"),
            (m.max_source_tokens == 0 or m.max_source_tokens >= 8,
             f"model.max_source_tokens must be >= 8 (or 0: from the data), got {m.max_source_tokens}"),
            (m.max_summary_tokens >= 3, f"model.max_summary_tokens must be >= 3, got {m.max_summary_tokens}"),
            (0 <= m.dropout < 1, f"model.dropout must be in [0, 1), got {m.dropout}"),
            (m.max_source_tokens <= MAX_SOURCE_TOKENS,
             f"model.max_source_tokens must be <= {MAX_SOURCE_TOKENS}, got {m.max_source_tokens}"),
            (m.max_summary_tokens <= MAX_SUMMARY_TOKENS,
             f"model.max_summary_tokens must be <= {MAX_SUMMARY_TOKENS}, got {m.max_summary_tokens}"),
            (0 <= m.rec_target_tokens and (m.max_source_tokens == 0 or m.rec_target_tokens <= m.max_source_tokens),
             f"model.rec_target_tokens must be 0 (the whole document) or in [1, model.max_source_tokens = "
             f"{m.max_source_tokens}], got {m.rec_target_tokens}"),
            (s.min_words >= 0, f"summary.min_words must be >= 1 (or 0: from the data), got {s.min_words}"),
            (s.max_words >= 0, f"summary.max_words must be >= 1 (or 0: from the data), got {s.max_words}"),
            (0 in (s.min_words, s.max_words) or s.max_words >= s.min_words,
             f"summary.max_words ({s.max_words}) must be >= min_words ({s.min_words})"),
            (0 < s.ratio_min <= s.ratio_max <= 1,
             f"summary ratios must satisfy 0 < ratio_min <= ratio_max <= 1, got {s.ratio_min}, {s.ratio_max}"),
            (0 <= s.default_share <= 1, f"summary.default_share must be in [0, 1], got {s.default_share}"),
            (s.default_words >= 0 and (0 in (s.default_words, s.max_words) or s.default_words <= s.max_words),
             f"summary.default_words must be in [1, {s.max_words}] (or 0: from the data), got {s.default_words}"),
            (0 <= s.span_bonus <= 20, f"summary.span_bonus must be in [0, 20] nats, got {s.span_bonus}"),
            # a word is one token or more, and the summary ends with EOS
            (s.max_words < m.max_summary_tokens,  # max_words 0 is checked again once chosen
             f"summary.max_words ({s.max_words}) needs model.max_summary_tokens >= {s.max_words + 1} (a token per "
             f"word at least, and EOS), got {m.max_summary_tokens}"),
            (m.d_model >= 0, f"model.d_model must be >= 1 (or 0: from the data), got {m.d_model}"),
            (t.batch_size >= 0, f"train.batch_size must be >= 1 (or 0: from the data), got {t.batch_size}"),
            (t.bucket_batches >= 0, f"train.bucket_batches must be >= 0, got {t.bucket_batches}"),
            (t.steps >= 1, f"train.steps must be >= 1, got {t.steps}"),
            (t.agreement_slack >= 0, f"train.agreement_slack must be >= 0, got {t.agreement_slack}"),
            (0 <= t.pretrain_steps, f"train.pretrain_steps must be >= 0, got {t.pretrain_steps}"),
            (t.minutes is None or t.minutes > 0, f"train.minutes must be > 0, got {t.minutes}"),
            (t.pretrain_share is None or 0 < t.pretrain_share < 1,
             f"train.pretrain_share must be in (0, 1), got {t.pretrain_share}"),
            (t.pretrain_share is None or t.minutes is not None,
             "train.pretrain_share plans a train.minutes budget: set train.minutes, or train.pretrain_share=null"),
            (t.pretrain_share is None or t.steps >= 2,
             f"train.pretrain_share plans two phases of a step at least: train.steps must be >= 2, got {t.steps}"),
            (t.lr > 0 and t.d_lr > 0, f"learning rates must be > 0, got lr={t.lr}, d_lr={t.d_lr}"),
            (t.grad_clip > 0, f"train.grad_clip must be > 0, got {t.grad_clip}"),
            (0 <= t.ema_decay < 1, f"train.ema_decay must be in [0, 1), got {t.ema_decay}"),
            (0 < t.lr_end <= 1, f"train.lr_end must be in (0, 1], got {t.lr_end}"),
            (t.phase_lr is None or 0 < t.phase_lr <= 1,
             f"train.phase_lr must be in (0, 1] or null, got {t.phase_lr}"),
            (t.phase_lr_step is None or t.phase_lr_step >= 0,
             f"train.phase_lr_step must be >= 0 or null, got {t.phase_lr_step}"),
            (t.tau > 0, f"train.tau must be > 0, got {t.tau}"),
            (t.sample_temperature >= 0, f"train.sample_temperature must be >= 0, got {t.sample_temperature}"),
            (t.d_steps >= 1, f"train.d_steps must be >= 1, got {t.d_steps}"),
            (0 <= t.rec_word_dropout < 1, f"train.rec_word_dropout must be in [0, 1), got {t.rec_word_dropout}"),
            (0 <= t.lead_input_drop < 1, f"train.lead_input_drop must be in [0, 1), got {t.lead_input_drop}"),
            (t.mixed_precision in ("no", "bf16", "fp16", "auto"),
             f"train.mixed_precision must be no, bf16, fp16 or auto, got {t.mixed_precision!r}"),
            (t.log_every >= 1, f"train.log_every must be >= 1, got {t.log_every}"),
            (min(t.sample_every, t.eval_every, t.save_every) >= 0,
             "train.sample_every, eval_every and save_every must be >= 0"),
            (t.on_nonfinite in ("skip", "rollback", "lower_lr", "stop"),
             f"train.on_nonfinite must be skip, rollback, lower_lr or stop, got {t.on_nonfinite!r}"),
            (t.on_collapse in ("warn", "rollback", "lower_lr", "stop"),
             f"train.on_collapse must be warn, rollback, lower_lr or stop, got {t.on_collapse!r}"),
            (t.max_bad_steps >= 1, f"train.max_bad_steps must be >= 1, got {t.max_bad_steps}"),
            (t.collapse_steps >= 0, f"train.collapse_steps must be >= 0, got {t.collapse_steps}"),
            (0.5 < t.collapse_acc <= 1, f"train.collapse_acc must be in (0.5, 1], got {t.collapse_acc}"),
            (self.tokenizer.vocab_size >= 100, f"tokenizer.vocab_size must be >= 100, got {self.tokenizer.vocab_size}"),
            (self.data.dev_size >= 1, f"data.dev_size must be >= 1, got {self.data.dev_size}"),
            (self.data.labeled_pairs >= 0, f"data.labeled_pairs must be >= 0, got {self.data.labeled_pairs}"),
            (self.data.labeled_pairs == 0 or self.data.labeled_files,
             "data.labeled_pairs > 0 needs data.labeled_files (jsonl with document and summary fields)"),
            (t.labeled_batch_size >= 1, f"train.labeled_batch_size must be >= 1, got {t.labeled_batch_size}"),
            (t.sup_weight >= 0, f"train.sup_weight must be >= 0, got {t.sup_weight}"),
            (t.lm_weight >= 0, f"train.lm_weight must be >= 0, got {t.lm_weight}"),
            (t.rl_weight >= 0, f"train.rl_weight must be >= 0, got {t.rl_weight}"),
            (t.rl_teacher_weight >= 0, f"train.rl_teacher_weight must be >= 0, got {t.rl_teacher_weight}"),
            (t.rl_teacher_weight == 0 or t.rl_weight > 0,
             f"train.rl_teacher_weight ({t.rl_teacher_weight}) weights a part of train.rl_weight's reward, "
             "which is off"),
            (t.pseudo in ("lead", "extract"), f"train.pseudo must be lead or extract, got {t.pseudo!r}"),
            # the defaults alone (no data named) are the recipe; a run that names documents names real texts too
            (t.pseudo == "lead" or self.data.real_files or not self.data.train_files,
             "train.pseudo=extract needs data.real_files (its language model is fitted on the real short texts); "
             "name them, or set train.pseudo=lead"),
            (t.pseudo_judge in ("none", "discriminator"),
             f"train.pseudo_judge must be none or discriminator, got {t.pseudo_judge!r}"),
            (t.select in ("pseudo", "reconstruction", "family"),
             f"train.select must be pseudo, reconstruction or family, got {t.select!r}"),
            (min(t.select_lm_weight, t.select_d_weight) >= 0,
             f"train.select_lm_weight and select_d_weight must be >= 0, got {t.select_lm_weight}, {t.select_d_weight}"),
            (min(t.extract_alpha, t.extract_beta) >= 0,
             f"train.extract_alpha and extract_beta must be >= 0, got {t.extract_alpha}, {t.extract_beta}"),
        ]
        for ok, message in checks:
            if not ok:
                raise SummaeError(message)
        return self

    def resolve_path(self, path: str) -> str:
        """A data path relative to data.data_dir; bundled: paths and absolute paths are left alone."""
        if path.startswith("bundled:") or Path(path).is_absolute():
            return path
        return str(Path(self.data.data_dir) / path)


CONFIG_DIR = Path(__file__).parent / "configs"  # the shipped configs (package data): tiny, demo, gigaword, ...


def shipped_configs() -> list[str]:
    """Names of the configs that ship with summae (`--config demo` reads summae/configs/demo.yaml)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config(path: str | Path) -> Path:
    """A YAML file, or the name of a shipped config ("demo", "demo.yaml") when no such file exists."""
    path = Path(path)
    if path.exists():
        return path
    shipped = CONFIG_DIR / (path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml")
    if path.parent == Path(".") and shipped.is_file():
        return shipped
    return path  # Config.from_yaml reports the missing file


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Read a config file (or a shipped config by name; None: the defaults alone) and apply `--set` overrides."""
    if path is None:
        raw: dict = {"name": "summae"}
        for item in overrides or []:
            apply_override(raw, item)
        return Config.from_dict(raw, where="--set").validated()
    return Config.from_yaml(resolve_config(path), overrides)
