"""Pseudo-summaries by search: the best k-word extraction of each document, found exactly, with no labels.

    score(w_1 .. w_k) = sum_t log P(w_t | w_{t-1})   over <s> w_1 .. w_k </s>: a Kneser-Ney bigram model of
                                                      the real short texts (headlines), so the words read
                                                      like a headline
                      + alpha * sum_t idf(w_t)        document frequency over the training documents, so
                                                      the words carry content
                      - beta * sum_t position(w_t)    the word's index in the document: the lead prior

The words keep their document order, so the best extraction is a dynamic program over (words chosen, last
word): O(k W^2) per document, batched in torch on the training device. Its output replaces the lead spans
as the compressor's pseudo-summaries (`train.pseudo: extract`), the way search-based unsupervised
summarizers are distilled into fast models.

Words are the model's own: runs of SentencePiece pieces that start at a word-start piece, identified by a
hash of their piece ids, so no second tokenizer can disagree with the first.
"""

from __future__ import annotations

import torch

from summae.decode.rules import word_counts
from summae.tokenization import pad_ids

DISCOUNT = 0.75  # Kneser-Ney absolute discount
BOS_KEY, EOS_KEY = -1, -2  # hash keys of the sentence boundaries (real word hashes are >= 0)
_P = (1_000_003, 998_244_353)  # two polynomial hashes of a word's pieces, combined into one int64 key
_M = (2_147_483_647, 2_147_483_629)
_POWERS = [torch.tensor([pow(p, i, m) for i in range(64)]) for p, m in zip(_P, _M)]  # p^i mod m, i < 64


# entries of the search's (rows, W, W) bigram table held at once: 16 MB of fp32 on the CPU, 512 MB on a GPU
# (larger chunks there: fewer, longer kernels)
SEARCH_ELEMENTS = {"cpu": 1 << 22, "cuda": 1 << 27}
CORPUS_ROWS = 1024  # training documents hashed into words at once, when the tables are built


def search_elements(device: torch.device) -> int:
    return SEARCH_ELEMENTS.get(torch.device(device).type, SEARCH_ELEMENTS["cpu"])


def word_index(ids: torch.Tensor, word_start: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Index of the word each piece belongs to, -1 on invalid pieces (and pieces before the first word). (B, L)."""
    starts = word_start[ids] & valid
    return torch.where(valid, starts.long().cumsum(1) - 1, torch.full_like(ids, -1))


def word_keys(ids: torch.Tensor, word_start: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An int64 key per word (a hash of its piece ids) and the mask of real words: (B, L) -> (B, L), (B, L).

    Column j holds the j-th word of the row; a row has at most L words."""
    b, length = ids.shape
    widx = word_index(ids, word_start, valid)  # (B, L)
    pos = torch.arange(length, device=ids.device).expand(b, length)
    starts = torch.where(word_start[ids] & valid, pos, torch.zeros_like(pos))
    offset = (pos - starts.cummax(1).values).clamp(0, 63)  # piece position inside its word
    keys = torch.zeros(b, length + 1, dtype=torch.long, device=ids.device)  # column L collects invalid pieces
    slot = torch.where(widx >= 0, widx, torch.full_like(widx, length))
    for powers, m in zip(_POWERS, _M):
        power = powers.to(ids.device)[offset]  # (B, L)
        part = torch.zeros_like(keys).scatter_add_(1, slot, ((ids.long() + 1) * power) % m)
        keys = keys * m + part % m
    count = torch.zeros(b, length + 1, dtype=torch.long, device=ids.device)
    count.scatter_add_(1, slot, torch.ones_like(slot))
    real = count[:, :length] > 0
    return torch.where(real, keys[:, :length], torch.full_like(keys[:, :length], EOS_KEY)), real


class BigramLM:
    """Interpolated Kneser-Ney bigram model over <s> words </s> of word-id rows (absolute discount DISCOUNT)."""

    def __init__(self, wid: torch.Tensor, ok: torch.Tensor, v: int, bos: int, eos: int):
        """wid (N, W) word ids of N texts, ok (N, W) their real words (a prefix of each row); v words in all."""
        n = wid.shape[0]
        lengths = ok.sum(1)  # words are a prefix of each row
        seq = torch.full((n, wid.shape[1] + 2), -1, dtype=torch.long)
        seq[:, 0] = bos
        seq[:, 1:-1] = torch.where(ok, wid, torch.full_like(wid, -1))
        seq.scatter_(1, (lengths + 1)[:, None], eos)
        prev, nxt = seq[:, :-1].reshape(-1), seq[:, 1:].reshape(-1)
        keep = (prev >= 0) & (nxt >= 0)
        pairs, counts = torch.unique(prev[keep] * v + nxt[keep], return_counts=True)  # sorted bigram keys
        self.v, self.bos, self.eos, self.pair_keys, self.pair_counts = v, bos, eos, pairs, counts.float()
        left, right = pairs // v, pairs % v
        self.ctx = torch.zeros(v).index_add_(0, left, self.pair_counts)  # c(v .)
        follow = torch.zeros(v).index_add_(0, left, torch.ones_like(self.pair_counts))  # N1+(v .)
        cont = torch.zeros(v).index_add_(0, right, torch.ones_like(self.pair_counts))  # N1+(. w)
        total, types = cont.sum(), (cont > 0).sum()
        self.p1 = (cont - DISCOUNT).clamp(min=0) / total + DISCOUNT * types / total / v  # (V,) sums to 1
        self.gamma = torch.where(self.ctx > 0, DISCOUNT * follow / self.ctx.clamp(min=1), torch.ones(v))

    def log_prob(self, prev: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        """log P(nxt | prev), elementwise over word-id tensors of one shape."""
        dev = prev.device
        keys = prev * self.v + nxt
        table = self.pair_keys.to(dev)
        at = torch.searchsorted(table, keys.contiguous()).clamp(max=table.numel() - 1)
        count = torch.where(table[at] == keys, self.pair_counts.to(dev)[at], torch.zeros_like(keys, dtype=torch.float))
        ctx = self.ctx.to(dev)[prev]
        p1 = self.p1.to(dev)[nxt]
        inner = (count - DISCOUNT).clamp(min=0) / ctx.clamp(min=1) + self.gamma.to(dev)[prev] * p1
        return torch.log(torch.where(ctx > 0, inner, p1))

    def text_log_prob(self, wid: torch.Tensor, ok: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log P(<s> words </s>) of each row and the number of predicted tokens (words + </s>): (N,), (N,)."""
        prev = torch.cat([torch.full_like(wid[:, :1], self.bos), wid[:, :-1]], 1)  # (N, W)
        logp = torch.where(ok, self.log_prob(prev, wid), torch.zeros(wid.shape, device=wid.device))
        n = ok.sum(1)
        last = torch.where(n > 0, wid.gather(1, (n - 1).clamp(min=0)[:, None])[:, 0], torch.full_like(n, self.bos))
        return logp.sum(1) + self.log_prob(last, torch.full_like(last, self.eos)), n + 1

    def to(self, device) -> "BigramLM":
        for name in ("pair_keys", "pair_counts", "ctx", "gamma", "p1"):
            setattr(self, name, getattr(self, name).to(device))
        return self


class Extractor:
    """The search above, with its tables built once from the real short texts and the training documents."""

    def __init__(self, real_ids: torch.Tensor, doc_ids: torch.Tensor, *, word_start: torch.Tensor, pad_id: int,
                 eos_id: int, alpha: float, beta: float):
        """real_ids (R, S) and doc_ids (N, L): token-id matrices (EOS, then pad)."""
        self.alpha, self.beta = alpha, beta
        self.pad_id, self.eos_id = pad_id, eos_id
        self.word_start = word_start.cpu()
        real_keys, real_ok = self._keys(real_ids)
        doc_keys, doc_counts = self._document_words(doc_ids)
        # the word table: every word of either corpus, plus the two boundaries
        self.table = torch.unique(torch.cat([real_keys[real_ok], doc_keys,
                                             torch.tensor([EOS_KEY, BOS_KEY])]))  # sorted (V,)
        v = self.table.numel()
        self.bos, self.eos = (int(x) for x in self.lookup(torch.tensor([BOS_KEY, EOS_KEY])))
        self.v = v
        self.lm = BigramLM(self.lookup(real_keys), real_ok, v, self.bos, self.eos)  # so the words read like a headline
        # idf over the training documents: log(N / (1 + documents holding the word))
        present = torch.zeros(v, dtype=torch.long).index_add_(0, self.lookup(doc_keys), doc_counts)
        self.idf = torch.log(doc_ids.shape[0] / (1.0 + present.float()))  # (V,)

    def _keys(self, ids: torch.Tensor):
        ids = ids.cpu()
        used = (ids != self.pad_id).any(0).nonzero()  # columns that hold a token in some row
        ids = ids[:, : int(used.max()) + 1 if used.numel() else 1]  # real texts may come padded to a document's width
        valid = (ids != self.pad_id) & (ids != self.eos_id)
        return word_keys(ids, self.word_start, valid)

    def _document_words(self, doc_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every distinct word key of the documents (N, L) and the number of documents holding it: (K,), (K,).

        Read in chunks of CORPUS_ROWS rows, each cut to its longest row: word_keys holds several (rows, L) int64
        tensors, gigabytes for a corpus of 1,024-token documents at once."""
        keys, counts = [], []
        for first in range(0, doc_ids.shape[0], CORPUS_ROWS):
            chunk_keys, ok = self._keys(doc_ids[first: first + CORPUS_ROWS])
            ordered = torch.where(ok, chunk_keys, torch.full_like(chunk_keys, EOS_KEY)).sort(1).values
            once = ordered >= 0  # real words (boundary keys are negative), each row's first of equal keys
            once[:, 1:] &= ordered[:, 1:] != ordered[:, :-1]
            chunk_keys, chunk_counts = torch.unique(ordered[once], return_counts=True)
            keys.append(chunk_keys)
            counts.append(chunk_counts)
        keys, where = torch.unique(torch.cat(keys), return_inverse=True)
        return keys, torch.zeros_like(keys).index_add_(0, where, torch.cat(counts))

    def lookup(self, keys: torch.Tensor) -> torch.Tensor:
        """Word ids of hash keys (every key the tables were built from is in the table)."""
        table = self.table.to(keys.device)
        return torch.searchsorted(table, keys.contiguous()).clamp(max=table.numel() - 1)

    def log_prob(self, prev: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        """log P(nxt | prev) under the bigram model of the real texts."""
        return self.lm.log_prob(prev, nxt)

    def lm_per_word(self, ids: torch.Tensor) -> torch.Tensor:
        """The real texts' LM log-probability per predicted token (words + </s>) of token-id rows (B, S): (B,)."""
        wid, ok = self.word_ids(ids)
        logp, tokens = self.lm.text_log_prob(wid, ok)
        return logp / tokens

    def word_ids(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Word ids of token-id rows (B, L) and the mask of real words: (B, W), (B, W), words a prefix of each
        row; W is the most words any row holds."""
        valid = (ids != self.pad_id) & (ids != self.eos_id)
        keys, ok = word_keys(ids, self.word_start.to(ids.device), valid)
        n = max(1, int(ok.sum(1).max()))
        keys, ok = keys[:, :n], ok[:, :n]
        return torch.where(ok, self.lookup(keys), torch.full_like(keys, self.eos)), ok

    @torch.no_grad()
    def select(self, wid: torch.Tensor, ok: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The best extraction of min(target, words) words per row: (B, W) word ids, mask, (B,) -> (B, W) bool."""
        return self.select_at(wid, ok, target, [(self.alpha, self.beta)])[0]

    @torch.no_grad()
    def select_at(self, wid: torch.Tensor, ok: torch.Tensor, target: torch.Tensor,
                  settings: list[tuple[float, float]]) -> list[torch.Tensor]:
        """select() at every (alpha, beta) of settings: one (B, W) bool per setting, in order. The bigram table is
        built once for them all (the settings change only the per-word bonus).

        The search holds a (rows, W, W) table of bigram scores, so it runs on row chunks of at most
        search_elements() table entries: a batch of 1,024-token documents (W ~ 700 words) would otherwise hold
        gigabytes. Rows are independent, so the chunks give the same extractions as one pass."""
        b, w = wid.shape
        chosen = [torch.zeros(b, w, dtype=torch.bool, device=wid.device) for _ in settings]
        step = max(1, search_elements(wid.device) // max(w * w, 1))
        for first in range(0, b, step):
            rows = slice(first, first + step)
            n = max(1, int(ok[rows].sum(1).max()))  # a chunk of shorter rows searches fewer columns
            for out, part in zip(chosen, self._select_rows(wid[rows, :n], ok[rows, :n], target[rows], settings)):
                out[rows, :n] = part
        return [c & ok for c in chosen]

    def pair_table(self, wid: torch.Tensor) -> torch.Tensor:
        """log P(word j | word i) of every two words of each row, as [row, j, i] (the search's max over the previous
        word i then runs along the last, contiguous dimension): (B, W) -> (B, W, W).

        Computed once per pair of distinct words of a row and gathered: a long document repeats its words (700
        words, 400 distinct), and the table lookups are the search's largest cost."""
        b, w = wid.shape
        ordered, where = wid.sort(1)  # (B, W)
        new = torch.ones_like(ordered, dtype=torch.bool)
        new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        rank = new.long().cumsum(1) - 1  # (B, W): index of each sorted word among the row's distinct words
        u = int(rank[:, -1].max()) + 1
        types = torch.zeros(b, u, dtype=wid.dtype, device=wid.device).scatter_(1, rank, ordered)  # (B, U)
        inv = torch.empty_like(rank).scatter_(1, where, rank)  # (B, W): each word's distinct-word index
        table = self.log_prob(types[:, None, :].expand(b, u, u), types[:, :, None].expand(b, u, u))  # (B, U_j, U_i)
        index = inv[:, :, None] * u + inv[:, None, :]  # (B, W_j, W_i) into the flattened (U_j, U_i)
        return table.view(b, u * u).gather(1, index.view(b, w * w)).view(b, w, w)

    def _select_rows(self, wid: torch.Tensor, ok: torch.Tensor, target: torch.Tensor,
                     settings: list[tuple[float, float]]) -> list[torch.Tensor]:
        """select_at() on one chunk of rows: the dynamic program over (words chosen, last word), per setting."""
        b, w = wid.shape
        dev = wid.device
        neg = torch.tensor(float("-inf"), device=dev)
        pos = torch.arange(w, device=dev)
        pair = self.pair_table(wid)  # (B, W_j, W_i)
        order = pos[None, :] < pos[:, None]  # i before j
        pair = torch.where(order & ok[:, :, None] & ok[:, None, :], pair, neg)
        start = self.log_prob(torch.full_like(wid, self.bos), wid)
        end = self.log_prob(wid, torch.full_like(wid, self.eos))
        k = torch.minimum(target.to(dev), ok.sum(1)).clamp(min=1)  # (B,)
        kmax = int(k.max())
        idf = self.idf.to(dev)[wid]
        rows = torch.arange(b, device=dev)
        scratch = torch.empty_like(pair)  # one buffer for every step: a fresh (B, W, W) sum per step costs more
        out = []
        for alpha, beta in settings:
            bonus = torch.where(ok, alpha * idf - beta * pos, neg)  # (B, W)
            best = start + bonus  # (B, W): best score of c words ending at word j (c = 1)
            finals, backs = [best + end], []
            for _ in range(1, kmax):
                val, arg = torch.add(pair, best[:, None, :], out=scratch).max(-1)  # over the previous word i
                best = val + bonus
                backs.append(arg)
                finals.append(best + end)
            j = torch.stack(finals)[k - 1, rows].argmax(1)  # (B,) last word of each row's best extraction
            chosen = torch.zeros(b, w, dtype=torch.bool, device=dev)
            chosen[rows, j] = True
            for c in range(kmax, 1, -1):  # walk back from c words to c - 1, in rows that chose >= c words
                step = c <= k
                j = torch.where(step, backs[c - 2][rows, j], j)
                chosen[rows[step], j[step]] = True
            out.append(chosen & ok)
        return out

    def to(self, device) -> "Extractor":
        """Move the tables to the training device once (not at every step)."""
        for name in ("table", "idf", "word_start"):
            setattr(self, name, getattr(self, name).to(device))
        self.lm.to(device)
        return self

    @torch.no_grad()
    def targets(self, doc_ids: torch.Tensor, target: torch.Tensor, *, max_tokens: int) -> torch.Tensor:
        """Pseudo-summaries (B, max_tokens): the pieces of each document's best extraction, EOS, then pad."""
        return self.targets_at(doc_ids, target, [(self.alpha, self.beta)], max_tokens=max_tokens)[0]

    @torch.no_grad()
    def targets_at(self, doc_ids: torch.Tensor, target: torch.Tensor, settings: list[tuple[float, float]], *,
                   max_tokens: int) -> list[torch.Tensor]:
        """targets() at every (alpha, beta) of settings, one (B, max_tokens) per setting, in order: the words,
        their bigram table and the pieces' places are computed once for them all."""
        dev = doc_ids.device
        if self.table.device != dev:
            self.to(dev)
        word_start = self.word_start
        valid = (doc_ids != self.pad_id) & (doc_ids != self.eos_id)
        keys, ok = word_keys(doc_ids, word_start, valid)
        n = max(1, int(ok.sum(1).max()))  # the search is O(W^2): only as many columns as the longest row has words
        keys, ok = keys[:, :n], ok[:, :n]
        wid = torch.where(ok, self.lookup(keys), torch.full_like(keys, self.eos))
        widx = word_index(doc_ids, word_start, valid)  # (B, L)
        return [self._pieces(doc_ids, valid & (widx >= 0) & chosen.gather(1, widx.clamp(min=0)), max_tokens)
                for chosen in self.select_at(wid, ok, target, settings)]

    def _pieces(self, doc_ids: torch.Tensor, keep: torch.Tensor, max_tokens: int) -> torch.Tensor:
        """The kept pieces (B, L) bool of each document in order, cut at whole words to max_tokens - 1, then EOS and
        pad: (B, max_tokens)."""
        dev = doc_ids.device
        order = torch.sort((~keep).long(), dim=1, stable=True).indices  # kept pieces first, in document order
        picked = torch.gather(torch.where(keep, doc_ids, torch.full_like(doc_ids, self.pad_id)), 1, order)
        lengths = whole_word_length(picked, keep.sum(1), max_tokens - 1, self.word_start)  # room for EOS
        out = torch.full((doc_ids.shape[0], max_tokens), self.pad_id, dtype=doc_ids.dtype, device=dev)
        width = min(max_tokens - 1, picked.shape[1])
        cols = torch.arange(width, device=dev)
        out[:, :width] = torch.where(cols < lengths[:, None], picked[:, :width], torch.full_like(picked[:, :width],
                                                                                                 self.pad_id))
        out.scatter_(1, lengths[:, None], self.eos_id)
        return out


def whole_word_length(ids: torch.Tensor, n: torch.Tensor, limit: int, word_start: torch.Tensor) -> torch.Tensor:
    """How many of the first n[b] tokens of each row of ids (B, L) to keep under a cap of `limit` tokens: all n
    where they fit, else the longest prefix that ends with a whole word (the next token starts a word), so a
    pseudo-summary never ends in half a word ("Acr" of "Acronyms": 26% of the Debian extractions of 9 words
    passed 22 tokens). A first word longer than the cap alone is cut at the cap. (B,) -> (B,)."""
    width = ids.shape[1]
    cols = torch.arange(1, width + 1, device=ids.device)  # a prefix of p tokens, p = 1..L
    nxt = torch.cat([word_start.to(ids.device)[ids[:, 1:]], torch.ones_like(ids[:, :1], dtype=torch.bool)], 1)
    ends = (nxt | (cols[None] == n[:, None])) & (cols[None] <= torch.minimum(n, torch.full_like(n, limit))[:, None])
    best = torch.where(ends, cols[None], 0).amax(1) if width else torch.zeros_like(n)
    return torch.where(n <= limit, n, torch.where(best > 0, best, torch.full_like(n, limit)))


def build_extractor(real_ids: list[list[int]], docs: torch.Tensor, vocab, *, max_tokens: int, alpha: float,
                    beta: float) -> "Extractor":
    """A run's search: the real texts' bigram LM (`real_ids`: token ids, no EOS) and idf over `docs` (padded id
    rows), at the run's `vocab` (summae.model.build.VocabInfo) and weights. The real texts are padded only as wide
    as the longest of them (at most max_tokens): 114k headlines padded to 1,024 tokens would take ~1 GB before
    the extractor trims them. Trainer and benchmarks/own_corpus.py build it here, so they search alike."""
    width = min(max_tokens, max((len(r) for r in real_ids), default=0) + 1)
    real = pad_ids(real_ids, eos_id=vocab.eos_id, pad_id=vocab.pad_id, width=width)
    return Extractor(real, docs, word_start=vocab.word_start, pad_id=vocab.pad_id, eos_id=vocab.eos_id,
                     alpha=alpha, beta=beta)


def target_words(doc_words: torch.Tensor, *, ratio_min: float, ratio_max: float, min_words: int, max_words: int,
                 default_words: int = 0, default_share: float = 0.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Training length targets: ratio * document words, ratio ~ U[ratio_min, ratio_max], clamped to [min_words,
    max_words]; a `default_share` of them (drawn per document) default_words instead, the length summarizing asks
    of every document. Never more words than the document has. (B,) -> (B,)."""
    ratio = torch.rand(doc_words.shape, generator=generator) * (ratio_max - ratio_min) + ratio_min
    words = torch.round(doc_words.float() * ratio).long()
    if default_share > 0 and default_words > 0:  # no draw otherwise: the ratio rule's targets stay as they were
        at_default = torch.rand(doc_words.shape, generator=generator) < default_share
        words = torch.where(at_default, torch.full_like(words, default_words), words)
    words = words.clamp(min_words, max_words)
    return torch.minimum(words, doc_words.clamp(min=1))


def lead_targets(doc_ids: torch.Tensor, target: torch.Tensor, *, word_start: torch.Tensor, max_tokens: int,
                 eos_id: int, pad_id: int) -> torch.Tensor:
    """Pseudo-summaries: the first `target` words of each document, then EOS, padded. (B, L) -> (B, max_tokens)."""
    counts = word_counts(doc_ids, word_start) + word_start[doc_ids].long()  # (B, L): words up to and incl. here
    keep = (counts <= target[:, None]) & (doc_ids != pad_id) & (doc_ids != eos_id)
    # tokens kept (keep is a prefix because counts only grow), whole words only, with room for EOS
    lengths = whole_word_length(doc_ids, keep.sum(1), max_tokens - 1, word_start)
    keep &= torch.arange(doc_ids.shape[1], device=doc_ids.device)[None] < lengths[:, None]
    out = torch.full((doc_ids.shape[0], max_tokens), pad_id, dtype=doc_ids.dtype, device=doc_ids.device)
    width = min(max_tokens, doc_ids.shape[1])
    out[:, :width] = torch.where(keep[:, :width], doc_ids[:, :width], torch.full_like(doc_ids[:, :width], pad_id))
    out.scatter_(1, lengths[:, None], eos_id)
    return out


def reverse_lm_score(extractor: Extractor, extraction_ids: torch.Tensor, real_ids: torch.Tensor) -> float:
    """A criterion for the search's weights that needs no references: the mean log-probability per token of
    held-out real short texts under a bigram LM fitted on the search's extractions of training documents.

    Extractions that choose and order words the way real short texts do (content words, headline grammar)
    give an LM that predicts real ones well; extractions of filler words, or of the lead alone, predict them
    badly. extraction_ids (N, S) and real_ids (R, L): token-id rows (EOS, then pad). Higher is better.
    """
    wid, ok = extractor.word_ids(extraction_ids.cpu())
    lm = BigramLM(wid, ok, extractor.v, extractor.bos, extractor.eos)
    real_wid, real_ok = extractor.word_ids(real_ids.cpu())
    logp, tokens = lm.text_log_prob(real_wid, real_ok)
    return float(logp.sum() / tokens.sum())
