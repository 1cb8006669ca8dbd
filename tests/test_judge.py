"""summae.train.judge: a discriminator of the real texts chooses each document's pseudo-summary among the family."""

import json
import time

import pytest
import torch

from conftest import tiny_model, train_tiny


def test_the_discriminator_learns_to_tell_real_rows_from_fake_ones():
    from summae.train.judge import logits, train_discriminator

    g = torch.Generator().manual_seed(0)
    real = torch.randint(3, 40, (400, 6), generator=g)
    fake = torch.randint(3, 40, (400, 6), generator=g)
    real[:, 2], fake[:, 2] = 41, 42  # one token tells them apart
    disc, accuracy = train_discriminator(real, fake, vocab_size=50, pad_id=0, steps=60, batch=64, lr=1e-2, seed=0,
                                         d_model=16, filters=8)
    assert accuracy["real"] > 0.9 and accuracy["fake"] > 0.9  # on the held-out tenth
    assert not disc.training
    assert logits(disc, real[:5], 0).shape == (5,)


class CountToken(torch.nn.Module):
    """A stand-in discriminator: the logit is how often `token` occurs in the row."""

    def __init__(self, token: int):
        super().__init__()
        self.token = token

    def forward(self, *, ids, mask):
        return ((ids == self.token) & mask).sum(1).float()


def test_the_judge_takes_each_documents_most_real_family_extraction_and_restores_the_weights():
    from summae.train.criterion import FAMILY_TEACHER, family_extractions
    from summae.train.judge import DiscriminatorJudge
    from summae.train.pseudo import Extractor

    cfg, _, model, doc, target, _, _ = tiny_model([], n_docs=24)
    vocab = model.vocab
    ex = Extractor(doc, doc, word_start=vocab.word_start, pad_id=vocab.pad_id, eos_id=vocab.eos_id, alpha=1.0,
                   beta=0.1)
    width = cfg.model.max_summary_tokens
    options = family_extractions(ex, doc, target, width)
    # the token the family's candidates disagree on most: the judge must follow it
    counts = torch.stack([torch.bincount(o.flatten(), minlength=len(vocab.word_start)) for o in options])
    spread = counts.max(0).values - counts.min(0).values
    spread[[vocab.pad_id, vocab.eos_id]] = 0
    token = int(spread.argmax())
    chosen, teacher = DiscriminatorJudge([CountToken(token)], vocab.pad_id).choose(ex, doc, target, width)
    assert (ex.alpha, ex.beta) == (1.0, 0.1)
    scores = torch.stack([(o == token).sum(1) for o in options])  # (C, B)
    best = scores.argmax(0)
    for i in range(len(doc)):
        assert torch.equal(chosen[i], options[int(best[i])][i])
    assert torch.equal(teacher, best == FAMILY_TEACHER)
    assert int((chosen == token).sum()) == int(scores.max(0).values.sum()) > int(scores[FAMILY_TEACHER].sum())


def test_training_with_the_judge_fits_it_first_and_says_so(tmp_path, monkeypatch):
    from summae.train import judge

    monkeypatch.setattr(judge, "JUDGE_STEPS", 5)
    monkeypatch.setattr(judge, "JUDGE_DOCS", 40)
    monkeypatch.setattr(judge, "JUDGE_ENSEMBLE", 2)
    seen = {}
    original = judge.DiscriminatorJudge.choose

    def spy(self, extractor, docs, target, max_tokens):
        seen["calls"] = seen.get("calls", 0) + 1
        return original(self, extractor, docs, target, max_tokens)

    monkeypatch.setattr(judge.DiscriminatorJudge, "choose", spy)
    fit = judge.DiscriminatorJudge.fit.__func__

    def slow_fit(cls, *args, **kwargs):
        time.sleep(2.0)  # a fit that takes two seconds (the 3 tiny steps take a fraction of one)
        return fit(cls, *args, **kwargs)

    monkeypatch.setattr(judge.DiscriminatorJudge, "fit", classmethod(slow_fit))
    code, out, err = train_tiny(tmp_path / "run", "train.steps=3", "train.pretrain_steps=2", "train.eval_every=0",
                                "train.pseudo=extract", "train.pseudo_judge=discriminator")
    assert code == 0, err
    assert seen["calls"] == 3  # every step's pseudo-summaries, pretraining and after
    assert "pseudo-summary judge: 2 discriminators trained 5 steps each" in out + err
    # fitting the judge is training: its seconds are in train_seconds (and so spent out of train.minutes)
    state = json.loads((tmp_path / "run" / "last" / "trainer_state.json").read_text(encoding="utf-8"))
    assert state["train_seconds"] >= 2.0


@pytest.mark.parametrize("sets, message", [
    (["train.pseudo_judge=reconstructor"], "train.pseudo_judge must be none or discriminator"),
    (["train.pseudo=lead", "train.pseudo_judge=discriminator"], "needs train.pseudo=extract"),
])
def test_bad_judge_settings_are_one_line_errors(tmp_path, sets, message):
    code, out, err = train_tiny(tmp_path / "run", *sets)
    assert code != 0
    assert message in err and "Traceback" not in err
