"""Training: the only place with optimizers. accelerate places the models, mixes precision and syncs ranks.

One step: 0) a batch and its length targets; 1) the compressor writes summaries (no gradient; at the
start of the generator's forward pass, sharing its encoder pass); 2) the discriminator learns real short
texts vs those summaries; 3) the generator (compressor + reconstructor) learns to rebuild the document
from its summary, fool the discriminator and stay near lead pseudo-summaries; 4) log, print samples,
evaluate, save. The first `pretrain_steps` steps replace 1) and 3) by supervised learning of lead
pseudo-summaries, which gives the bottleneck words to start from.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from summae import checkpoint
from summae.config import Config
from summae.errors import SummaeError
from summae.fast.cuda_graphs import GraphedWriter
from summae.model.build import build_models, prepare_tokenizer
from summae.model.losses import accuracy, discriminator_loss, generator_adv_loss
from summae.runtime import release_if_grown
from summae.tokenization import encode_texts, pad_ids
from summae.train import auto, guards, plan, targets
from summae.train.batches import StreamBatches, TensorBatches
from summae.train.data import load_training_texts
from summae.train.dev_eval import DevSet, sample_table
from summae.train.labeled import LabeledBatches
from summae.train.metrics import MetricLogger, Progress
from summae.train.optim import adamw, lr_factor, training_precision
from summae.train.plots import after_training
from summae.train.pseudo import target_words
from summae.train.targets import StepBatch, drop_words
from summae.train.keeper import RunKeeper
from summae.train.teachers import TeacherSetup
from summae.train.timeplan import PhasePlanner


class Trainer(PhasePlanner, RunKeeper, TeacherSetup):
    def __init__(self, cfg: Config, output_dir: str | Path, *, resume: bool = False, device: str = "auto",
                 echo=print, progress: bool = True):
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        self.cfg, self.out, self.echo, self.progress = cfg, Path(output_dir), echo, progress
        self.precision = training_precision(cfg.train.mixed_precision, device)
        self.accelerator = Accelerator(cpu=device == "cpu", mixed_precision=self.precision)
        self.main = self.accelerator.is_main_process
        if cfg.train.mixed_precision == "auto" and self.main:
            echo(f"train.mixed_precision auto: {'bf16' if self.precision == 'bf16' else 'fp32'}")
        set_seed(cfg.train.seed)
        random.seed(cfg.train.seed)
        resume_dir = self.out / "last"
        for name in ("last", "best"):
            checkpoint.recover(self.out / name)  # a kill between the two renames of a save
        if resume and not (resume_dir / "trainer_state.json").exists():
            raise SummaeError(f"--resume: no checkpoint in {resume_dir}")
        if not resume and (resume_dir / "trainer_state.json").exists():
            raise SummaeError(f"{self.out} already holds a run: pass --resume to continue it, or another --output-dir")
        self.resume_dir = resume_dir if resume else None
        self.out.mkdir(parents=True, exist_ok=True)
        self._load_data()
        self._build()

    # ---- set-up ----------------------------------------------------------------------------------
    def _load_data(self) -> None:
        texts = load_training_texts(self.cfg, echo=self.echo if self.main else lambda _: None)
        self.docs, self.real, self.labeled_texts = texts.docs, texts.real, texts.labeled
        self.dev_texts, self.dev_refs = texts.dev_texts, texts.dev_refs

    def _build(self) -> None:
        self._resolve_auto_settings()  # lengths set to 0 in the config: from the data (summae.train.auto)
        cfg, acc = self.cfg, self.accelerator
        self.model, self.disc, self.vocab = build_models(cfg, self.tokenizer, self.resume_dir)
        m, t = cfg.model, cfg.train
        tok = self.tokenizer
        if not cfg.data.streaming:
            ids, cut = encode_texts(tok, list(self.docs["text"]), m.max_source_tokens - 1)
            if self.main and cut:
                self.echo(f"{cut} of {len(ids)} training documents are longer than model.max_source_tokens "
                          f"({m.max_source_tokens}) and were truncated")
            matrix = pad_ids(ids, eos_id=self.vocab.eos_id, pad_id=self.vocab.pad_id, width=m.max_source_tokens)
            self.batches = TensorBatches(matrix, t.batch_size, seed=t.seed, rank=acc.process_index,
                                         world=acc.num_processes, pad_id=self.vocab.pad_id, bucket=t.bucket_batches)
        else:
            self.batches = StreamBatches(self.docs, tok, t.batch_size, max_tokens=m.max_source_tokens,
                                         eos_id=self.vocab.eos_id, pad_id=self.vocab.pad_id, seed=t.seed,
                                         rank=acc.process_index, world=acc.num_processes, bucket=t.bucket_batches)
        self.real_batches, real_ids = None, None
        if self.real is not None:
            real_ids, _ = encode_texts(tok, self.real, m.max_source_tokens - 1)
            matrix = pad_ids(real_ids, eos_id=self.vocab.eos_id, pad_id=self.vocab.pad_id, width=m.max_summary_tokens)
            self.real_batches = TensorBatches(matrix, t.batch_size, seed=t.seed + 1, rank=acc.process_index,
                                              world=acc.num_processes)
        self._build_teachers(real_ids)  # the extraction search, its judge, the LM prior (summae.train.teachers)
        self.labeled = None
        if self.labeled_texts is not None:
            self.labeled = LabeledBatches(*self.labeled_texts, tok, self.vocab, batch_size=t.labeled_batch_size,
                                          max_source_tokens=m.max_source_tokens,
                                          max_summary_tokens=m.max_summary_tokens, max_words=cfg.summary.max_words,
                                          word_start=self.vocab.word_start, seed=t.seed, rank=acc.process_index,
                                          world=acc.num_processes)
        self.dev = DevSet.build(self.dev_texts, self.dev_refs, tok, self.vocab, cfg, extractor=self.extractor)

        g_params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt_g = adamw(g_params, lr=t.lr, weight_decay=t.weight_decay, betas=(0.9, 0.98))
        self.opt_d = adamw(list(self.disc.parameters()), lr=t.d_lr, weight_decay=t.weight_decay, betas=(0.5, 0.999))
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, self._lr_factor)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, self._lr_factor)
        (self.model, self.disc, self.opt_g, self.opt_d) = acc.prepare(self.model, self.disc, self.opt_g, self.opt_d)
        self.average = self._make_average()  # train.ema_decay: evaluated and saved in place of the live weights
        self.guard = guards.FaultGuard(t)
        self.writer = None  # CUDA graphs of the training summaries' decoding (BART compressors, CUDA only)
        model = self._unwrapped()
        if t.cuda_graphs and acc.device.type == "cuda" and model.fast_decoding:
            self.writer = GraphedWriter(model, pad_to=m.max_source_tokens + 1)  # + the length token
        criterion_text = self.dev.criterion
        if self._agreement_slack() > 0:
            criterion_text += (f"; the latest evaluation within {self._agreement_slack():g} of the best agreement so "
                               "far (train.agreement_slack)")
        self.state = {"step": 0, "best_score": None, "best_step": None, "criterion": criterion_text,
                      # a fresh run's teacher search (train.teacher_search) and judge fit (train.pseudo_judge) are
                      # spent out of train.minutes
                      "train_seconds": round(self.teacher_seconds, 2), "docs_seen": 0,
                      "faults": {"nonfinite": 0, "collapse": 0}}
        if self.resume_dir is not None:
            self._load_training_state(self.resume_dir)

    def _resolve_auto_settings(self) -> None:
        """Prepare the tokenizer, with the summary and source lengths that the config leaves to the data (0) set
        from the real texts and the documents first; self.cfg is then the resolved config that is saved."""
        say = self.echo if self.main else (lambda _: None)
        n_docs = len(self.docs) if not self.cfg.data.streaming else auto.BASE_MIN_DOCS  # a stream: a large corpus
        self.cfg = auto.resolve_model_size(self.cfg, n_docs, self.accelerator.device.type == "cuda", echo=say)
        summary_auto = 0 in (self.cfg.summary.min_words, self.cfg.summary.max_words, self.cfg.summary.default_words)
        self.cfg = auto.resolve_summary_lengths(self.cfg, self.real, echo=say)  # the tokenizer's <len_k> need them
        self.tokenizer = prepare_tokenizer(self.cfg, self.resume_dir, self.docs, self.real, echo=self.echo)
        if self.cfg.model.max_source_tokens == 0 or summary_auto:
            sample = self.docs if not self.cfg.data.streaming else None
            texts = (list(sample.select(range(min(len(sample), auto.SOURCE_SAMPLE)))["text"]) if sample is not None
                     else [row["text"] for _, row in zip(range(auto.SOURCE_SAMPLE), self.docs)])
            self.cfg = auto.resolve_token_lengths(self.cfg, self.tokenizer, texts, self.real,
                                                  summary_auto=summary_auto, echo=say)

    def _lr_factor(self, step: int) -> float:
        return lr_factor(self.cfg.train, step)  # read each step: a time plan may move the end of pretraining

    # ---- the loop ----------------------------------------------------------------------------------
    def train(self) -> dict:
        self._plan_phases()  # train.pretrain_share: the steps of a train.minutes budget (summae.train.plan)
        cfg, t, acc = self.cfg, self.cfg.train, self.accelerator
        logger = MetricLogger(self.out / "metrics.jsonl", echo=self._print, enabled=self.main,
                              tensorboard_dir=self.out / "tensorboard")
        start = self.state["step"]
        if self.main:
            cfg.to_yaml(self.out / "config.yaml")
            # rows a killed run logged after its last checkpoint are logged again by this run
            checkpoint.trim_metrics(self.out / "metrics.jsonl", start)
        docs = self.batches.iterate(start)
        reals = self.real_batches.iterate(start * t.d_steps) if self.real_batches is not None else None
        # with a plan its steps end training; train.minutes is then a safety stop at plan.SAFETY x the budget
        minutes = None if t.minutes is None else t.minutes * (plan.SAFETY if self.time_plan else 1)
        bar = Progress(steps=t.steps, start=start, seconds=None if minutes is None else minutes * 60,
                       seconds_before=self.state["train_seconds"], enabled=self.progress and self.main)
        begin, t_log, docs_log = time.perf_counter(), time.perf_counter(), 0
        self._seconds_before = self.state["train_seconds"]  # from earlier runs of this directory (resume)
        budget = None if minutes is None else minutes * 60 - self._seconds_before
        step = start
        while step < t.steps:
            if budget is not None and time.perf_counter() - begin >= budget:
                self._print(f"train.minutes ({t.minutes}) reached at step {step}" if self.time_plan is None else
                            f"{minutes:g} minutes ({plan.SAFETY:g} x train.minutes) reached at step {step}, before "
                            f"the planned step {t.steps}: steps ran slower than measured")
                break
            # seeded by step, not once per run: a resumed run draws the same length targets as an unbroken one
            gen = torch.Generator().manual_seed(t.seed * 7919 + step)
            began = time.perf_counter()
            values = self.train_step(step, next(docs).to(acc.device), reals, gen)  # 0) - 3)
            # batches cut to their longest document change shape each step: without this the kept free memory
            # fragments and grows without bound (summae/runtime.py)
            release_if_grown()
            step += 1
            if self.time_plan is not None:
                t = self._revise_plan(step, time.perf_counter() - began, time.perf_counter() - begin, bar)
            self.state["step"] = step
            self.state["docs_seen"] += t.batch_size * acc.num_processes
            docs_log += t.batch_size * acc.num_processes
            logger.add(values)
            self._check_faults(step, values, logger)  # NaN/inf and collapse: report, then act as configured
            bar.advance(step, time.perf_counter() - begin)
            # 4) log / samples / eval / save
            if step % t.log_every == 0 or step == t.steps:
                now = time.perf_counter()
                rate = docs_log / max(now - t_log, 1e-9)
                bar.set_postfix(docs_s=f"{rate:.0f}")
                logger.flush(step, {"perf/docs_per_s": round(rate, 1),
                                    "perf/lr": self.sched_g.get_last_lr()[0]})
                t_log, docs_log = now, 0
            if t.sample_every and step % t.sample_every == 0 and self.main:
                self._print(sample_table(self._kept(), self.dev, self.tokenizer, n=3))
            if self._evaluation_due(step, t) and step < t.steps:
                self._evaluate(step, logger, time.perf_counter() - begin)
            if t.save_every and step % t.save_every == 0 and step < t.steps:
                self._save("last", time.perf_counter() - begin)
        bar.close()
        elapsed = time.perf_counter() - begin
        final = self._evaluate(step, logger, elapsed)
        self._save("last", elapsed)
        if t.span_bonus_search and self.main:
            self._search_span_bonus()
        if isinstance(self.batches, StreamBatches) and self.batches.truncated and self.main:
            self._print(f"{self.batches.truncated} streamed documents were longer than model.max_source_tokens "
                        f"({cfg.model.max_source_tokens}) and were truncated")
        logger.close()
        if self.main:
            after_training(self.out, self._kept(), self.dev, echo=self._print)  # RUN_DIR/plots/*.png
        acc.wait_for_everyone()
        return {"step": step, "train_seconds": self.state["train_seconds"], "dev": final,
                "best_step": self.state["best_step"], "best_score": self.state["best_score"],
                "docs_per_s": self.state["docs_seen"] / max(self.state["train_seconds"], 1e-9),
                # a resumed run: where this invocation started, and its own seconds of training
                "start_step": start, "seconds_this_run": round(self.state["train_seconds"] - self._seconds_before, 2)}

    def _batch(self, step: int, doc_labels: torch.Tensor, gen: torch.Generator,
               pretrain: bool | None = None) -> StepBatch:
        """0) The step's inputs: length targets, pseudo-summaries, labeled rows, the compressor input. `pretrain`:
        the phase, when not the step's own (the phase planning's measurement)."""
        cfg, acc, vocab = self.cfg, self.accelerator, self.vocab
        model = self._unwrapped()
        doc_mask = doc_labels != vocab.pad_id  # (B, L), EOS included
        doc_words = model.word_start[doc_labels].sum(1).cpu()  # (B,)
        target = target_words(doc_words, ratio_min=cfg.summary.ratio_min, ratio_max=cfg.summary.ratio_max,
                              min_words=cfg.summary.min_words, max_words=cfg.summary.max_words,
                              default_words=cfg.summary.default_words, default_share=cfg.summary.default_share,
                              generator=gen).to(acc.device)  # (B,)
        pseudo = self._pseudo_summaries(doc_labels, target)  # (B, S)
        sup_rows = 0
        if self.labeled is not None:
            # semi-supervised: labeled pairs join the batch, their reference in place of the pseudo-summary
            docs, refs, words = (x.to(acc.device) for x in self.labeled.batch(step))
            width = max(doc_labels.shape[1], docs.shape[1])  # the document batch is cut to its longest row
            doc_labels = torch.cat([F.pad(d, (0, width - d.shape[1]), value=vocab.pad_id) for d in (doc_labels, docs)])
            pseudo = torch.cat([pseudo, refs])
            target, sup_rows = torch.cat([target, words]), docs.shape[0]
            doc_mask = doc_labels != vocab.pad_id
        pretrain = step < cfg.train.pretrain_steps if pretrain is None else pretrain
        # pretraining reads a noised document (some tokens dropped), so that writing the pseudo-summary is not a copy
        ids, mask = (drop_words(doc_labels, doc_mask, p=cfg.train.lead_input_drop, eos_id=vocab.eos_id,
                                pad_id=vocab.pad_id) if pretrain else (doc_labels, doc_mask))
        comp_ids, comp_mask = model.compressor_inputs(ids, mask, target)  # (B, L+1): <len_k> document
        return StepBatch(doc_labels, comp_ids, comp_mask, target, pseudo, sup_rows, pretrain)

    def train_step(self, step: int, doc_labels: torch.Tensor, reals, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """One training step; returns its metrics.

        Pretraining (step < train.pretrain_steps): the compressor learns the pseudo-summaries and the
        reconstructor rebuilds the document from them. Afterwards, the auto-encoder step:
        1) the compressor writes summaries (sampled, no gradient); 2) the discriminator learns real short texts
        vs those summaries; 3) the generator (compressor + reconstructor) rebuilds the document from the
        summary's straight-through one-hots and fools the discriminator just updated, beside the
        pseudo-summary loss; 4) one optimizer step.
        """
        t, acc = self.cfg.train, self.accelerator
        self.model.train()  # dropout on, whatever ran on the model before (evaluation, a Summarizer)
        b = self._batch(step, doc_labels, gen)  # 0)
        use_d = reals is not None and t.adv_weight > 0
        values: dict[str, torch.Tensor | float] = {}
        loss, out, fake = self._generator_loss(b, values)  # 1) + 3)'s forward
        # 2) discriminator step(s): real short texts vs the summaries (ids: no graph to the generator)
        if use_d:
            for _ in range(t.d_steps):
                real = next(reals).to(acc.device)
                values.update(self._d_step(real, fake))
            if self.guard.step_is_bad:
                return values  # a non-finite D step skips the whole step
        if use_d and not b.pretrain and t.straight_through:
            adv = self._adv_loss(out)
            loss = loss + t.adv_weight * adv
            values["loss/adv"] = adv.detach()
        # 4) the generator's update
        self.opt_g.zero_grad(set_to_none=True)
        if not self._finite(loss, "training loss"):
            return values  # no update: summae.train.guards decides what follows
        acc.backward(loss)
        grad_norm = acc.clip_grad_norm_(self.model.parameters(), t.grad_clip)
        if t.mixed_precision != "fp16" and not self._finite(grad_norm, "generator gradient norm"):
            self.opt_g.zero_grad(set_to_none=True)  # clipping by a NaN norm made every gradient NaN
            return values
        self.opt_g.step()
        self._update_average()
        self.sched_g.step()
        if use_d:
            self.sched_d.step()  # only after opt_d stepped (torch warns otherwise)
        # metrics stay 0-d tensors: MetricLogger reads them once per log interval, not once per step
        values.update({f"loss/{k}": v.detach() for k, v in out.losses.items()})
        values["loss/total"] = loss.detach()
        values["grad/norm"] = torch.as_tensor(grad_norm).detach()
        values["summary/words"] = b.target.float().mean()
        values["train/adv_weight"] = t.adv_weight if (use_d and not b.pretrain) else 0.0
        return values

    def _generator_loss(self, b: StepBatch, values: dict):
        """1) + 3)'s forward: the generator's loss before the adversarial term. Returns (loss, out, fake (B, S):
        the summaries the discriminator learns from); metrics go to `values`."""
        t = self.cfg.train
        inputs = dict(comp_ids=b.comp_ids, comp_mask=b.comp_mask, doc_labels=b.doc_labels, sup_rows=b.sup_rows)
        with self.accelerator.autocast():
            if b.pretrain:
                out = self.model("pretrain", pseudo_ids=b.pseudo, **inputs)
                loss = out.losses["lead"] + t.rec_weight * out.losses["rec"]
                # the discriminator warms up on pseudo-summaries (what the compressor writes at first), never on
                # references
                fake = b.pseudo[: b.pseudo.shape[0] - b.sup_rows]
            else:
                written, pseudo = None, b.pseudo
                if t.select == "reconstruction":
                    # 1) write, and let the reconstructor choose each document's target: the pseudo-summary or
                    # the compressor's own sample
                    written, pseudo, own = targets.own_or_pseudo(
                        self._unwrapped(), b, temperature=t.sample_temperature, pad_id=self.vocab.pad_id,
                        extractor=self.extractor, lm_weight=t.select_lm_weight, d_weight=t.select_d_weight,
                        disc=self.accelerator.unwrap_model(self.disc) if self.real_batches is not None else None)
                    values["select/own"] = own.float().mean()
                elif t.select == "family":
                    # the auto-encoder chooses each document's target among the search's extractions
                    pseudo, teacher = targets.family_targets(self._unwrapped(), self.extractor, b,
                                                             pad_id=self.vocab.pad_id)
                    values["select/teacher"] = teacher.float().mean()
                # 1) write (unless written above) + 3) reconstruct, from one encoder pass: the summaries are
                # written at the start of the generator's forward, then scored, turned into straight-through
                # one-hots and reconstructed from
                out = self.model("autoencode", target=b.target, temperature=t.sample_temperature, writer=self.writer,
                                 summary_ids=written, pseudo_ids=pseudo if (t.lead_weight > 0 or b.sup_rows) else None,
                                 policy=t.rl_weight > 0, **inputs)
                fake = out.summary_ids if written is None else written  # (B, S)
                loss = t.rec_weight * out.losses["rec"]
                if t.lead_weight > 0:
                    loss = loss + t.lead_weight * out.losses["lead"]
                if self.prior is not None:  # the fluency prior (summae.train.fluency), beside or instead of D
                    lm = self.prior(out.summary_one_hot, out.one_hot_ids, out.summary_mask)
                    loss = loss + t.lm_weight * lm
                    values["loss/lm"] = lm.detach()
                if t.rl_weight > 0:  # the sequence-level reward, beside the straight-through gradient
                    rl = targets.policy_loss(self._unwrapped(), self.extractor, b, out.summary_logp, fake,
                                             pad_id=self.vocab.pad_id, eos_id=self.vocab.eos_id,
                                             teacher_weight=t.rl_teacher_weight, values=values)
                    loss = loss + t.rl_weight * rl
                    values["loss/rl"] = rl.detach()
                if fake.shape[0] > 1:
                    values["summary/distinct"] = float(torch.unique(fake, dim=0).shape[0])  # 1: a collapsed batch
            if b.sup_rows:
                loss = loss + t.sup_weight * out.losses["sup"]
        return loss, out, fake

    def _adv_loss(self, out) -> torch.Tensor:
        """3) the adversarial loss reads the discriminator just updated on these summaries; gradients reach the
        compressor through the straight-through one-hots."""
        with self.accelerator.autocast():
            return generator_adv_loss(self.disc(one_hot=out.summary_one_hot, mask=out.summary_mask,
                                                one_hot_ids=out.one_hot_ids))

    def _d_loss(self, real: torch.Tensor, fake: torch.Tensor):
        """The discriminator's loss on real (B, S) vs fake (B', S') ids: (loss, real logits, fake logits)."""
        pad = self.vocab.pad_id
        width = max(real.shape[1], fake.shape[1])
        both = torch.cat([torch.nn.functional.pad(real, (0, width - real.shape[1]), value=pad),
                          torch.nn.functional.pad(fake, (0, width - fake.shape[1]), value=pad)])  # (2B, S)
        with self.accelerator.autocast():
            # one forward over real and fake rows; fake ids carry no graph, so the compressor never moves here
            logits = self.disc(ids=both, mask=both != pad)
        real_logits, fake_logits = logits[: real.shape[0]], logits[real.shape[0]:]
        return discriminator_loss(real_logits, fake_logits, smooth=0.1), real_logits, fake_logits

    def _d_step(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        loss, real_logits, fake_logits = self._d_loss(real, fake)
        self.opt_d.zero_grad(set_to_none=True)
        if self.guard.step_is_bad or not self._finite(loss, "discriminator loss"):
            return {}
        self.accelerator.backward(loss)
        norm = self.accelerator.clip_grad_norm_(self.disc.parameters(), self.cfg.train.grad_clip)
        if self.cfg.train.mixed_precision != "fp16" and not self._finite(norm, "discriminator gradient norm"):
            self.opt_d.zero_grad(set_to_none=True)
            return {}
        self.opt_d.step()
        self.opt_d.zero_grad(set_to_none=True)  # the generator step must not leave gradients for the next D step
        return {"loss/d": loss.detach(), "d/acc_real": accuracy(real_logits, real=True),
                "d/acc_fake": accuracy(fake_logits, real=False)}
