"""The trainer's teachers: the extraction search whose pseudo-summaries the compressor learns (summae.train.pseudo),
its reference-free weights (train.teacher_search, summae.train.criterion), the discriminator that judges among its
extractions (train.pseudo_judge, summae.train.judge), and the headline LM prior (train.lm_weight).

A mixin, as summae.train.keeper's: these methods read and set the Trainer's cfg, vocab, tokenizer and data.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from summae.errors import SummaeError
from summae.runtime import release_free_memory
from summae.train import criterion
from summae.train.batches import TensorBatches
from summae.train.fluency import BigramPrior
from summae.train.judge import DiscriminatorJudge
from summae.train.pseudo import build_extractor, lead_targets
from summae.tokenization import encode_texts, pad_ids


class TeacherSetup:
    """Mixin of summae.train.trainer.Trainer: the pseudo-summaries' search and judge, the LM prior."""

    def _build_teachers(self, real_ids: list[list[int]] | None) -> None:
        """The extraction search (train.pseudo=extract) and the LM prior (train.lm_weight) from the real short
        texts' ids (None without data.real_files); a one-line error for an option that needs what is missing."""
        t = self.cfg.train
        self.extractor, self.judge, self.prior = None, None, None
        self.teacher_seconds = 0.0  # the teacher search and the judge's fit: training time, in train_seconds
        if real_ids is not None and t.pseudo == "extract":
            self._build_extractor(real_ids)
        if t.lm_weight > 0:
            if real_ids is None:
                raise SummaeError("train.lm_weight needs real short texts (data.real_files): its LM is counted on them")
            try:
                self.prior = BigramPrior(real_ids, vocab_size=self.vocab.word_start.shape[0], eos_id=self.vocab.eos_id)
            except ValueError as err:
                raise SummaeError(str(err)) from None
            self.prior.to(self.accelerator.device)
        if self.extractor is None:
            needs = {"train.select_lm_weight": t.select == "reconstruction" and t.select_lm_weight > 0,
                     "train.rl_weight": t.rl_weight > 0,
                     f"train.pseudo_judge={t.pseudo_judge}": t.pseudo_judge != "none",
                     "train.select=family": t.select == "family"}
            for option, on in needs.items():
                if on:
                    raise SummaeError(f"{option} needs train.pseudo=extract and data.real_files: it reads the "
                                      "extraction search (its LM, or its extractions)")

    def _pseudo_summaries(self, doc_labels: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The step's pseudo-summaries (B, max_summary_tokens) of documents (B, L) at target (B,) words: the family
        extraction the judge finds most real (train.pseudo_judge), the best extraction, or the lead."""
        cfg, vocab = self.cfg, self.vocab
        width = cfg.model.max_summary_tokens
        if self.judge is not None:
            return self.judge.choose(self.extractor, doc_labels, target, width)[0]
        if self.extractor is not None:
            return self.extractor.targets(doc_labels, target, max_tokens=width)
        return lead_targets(doc_labels, target, word_start=self._unwrapped().word_start, max_tokens=width,
                            eos_id=vocab.eos_id, pad_id=vocab.pad_id)

    def _build_extractor(self, real_ids: list[list[int]]) -> None:
        """Pseudo-summaries by search (summae.train.pseudo): a bigram LM of the real texts, idf of the documents."""

        m, t, v = self.cfg.model, self.cfg.train, self.vocab
        if isinstance(self.batches, TensorBatches):
            docs = self.batches.ids
        else:  # streaming: idf from the first documents of the stream
            texts = [row["text"] for _, row in zip(range(100_000), self.docs)]
            docs = pad_ids(encode_texts(self.tokenizer, texts, m.max_source_tokens - 1)[0], eos_id=v.eos_id,
                           pad_id=v.pad_id, width=m.max_source_tokens)
        begin = time.perf_counter()
        self.extractor = build_extractor(real_ids, docs, v, max_tokens=m.max_source_tokens, alpha=t.extract_alpha,
                                         beta=t.extract_beta)
        if self.main:
            self.echo(f"pseudo-summaries by extraction: {self.extractor.v} words, "
                      f"{self.extractor.lm.pair_keys.numel()} headline bigrams ({time.perf_counter() - begin:.0f} s)")
        if t.teacher_search and self.resume_dir is None:  # a resumed run keeps the weights its config saved
            self._search_teacher(docs)
        if t.pseudo_judge == "discriminator":  # refitted on resuming: the same seed gives the same judge
            s = self.cfg.summary
            words = [min(s.max_words, max(s.min_words, len(text.split()))) for text in self.real]
            begin = time.perf_counter()
            self.judge = DiscriminatorJudge.fit(
                self.extractor, docs, self.real_batches.ids, words, vocab_size=v.word_start.shape[0],
                pad_id=v.pad_id, max_tokens=m.max_summary_tokens, seed=t.seed, d_model=m.disc_d_model,
                filters=m.disc_filters, echo=self.echo if self.main else (lambda _: None))
            # training too (its discriminators): counted in train_seconds and spent out of train.minutes, as the
            # teacher search is
            self.teacher_seconds += time.perf_counter() - begin
            release_free_memory()

    def _search_teacher(self, docs: torch.Tensor) -> None:
        """train.teacher_search: the extraction weights with the shortest description of held-out training
        documents (summae.train.criterion), set on the extractor and in the saved config."""
        say = self.echo if self.main else (lambda _: None)
        choice = criterion.search_teacher(self.cfg, self.tokenizer, self.extractor, docs, seed=self.cfg.train.seed,
                                          echo=say)
        self.teacher_seconds += choice.seconds
        release_free_memory()  # the judge's batches of every width (summae/runtime.py)
        self.extractor.alpha, self.extractor.beta = choice.alpha, choice.beta
        self.cfg = dataclasses.replace(self.cfg, train=dataclasses.replace(
            self.cfg.train, extract_alpha=choice.alpha, extract_beta=choice.beta))
        say(f"train.extract_alpha {choice.alpha}, train.extract_beta {choice.beta}: the shortest description of "
            f"held-out training documents among {len(criterion.SEARCH_GRID)} settings, no references read "
            f"({choice.seconds:.0f} s)")
