"""Relevance on real data: ours beats a character-LIKE baseline and a single-character FTS baseline.

Subset (to keep the suite fast): 300 CMRC 2018 passages with one question each, and 600 CSL papers with the first
keyword of 150 of them as queries: 450 queries over 900 documents (about 15 s).
"""

from __future__ import annotations

from tests.core.search import relevance


def test_ours_beats_both_baselines_on_recall_and_mrr(backend_session):
    rel = relevance.load(cmrc_passages=300, csl_papers=600, csl_queries=150)
    relevance.index_all(backend_session, rel.docs)
    char = relevance.CharFts(backend_session, rel.docs)
    scores = {
        "ours": relevance.measure(rel, lambda q: relevance.ours(backend_session, q)),
        "like": relevance.measure(rel, lambda q: relevance.like_baseline(backend_session, q)),
        "char": relevance.measure(rel, char.top10),
    }
    char.drop()
    print(scores)
    assert scores["ours"].recall_at_10 > scores["like"].recall_at_10
    assert scores["ours"].recall_at_10 > scores["char"].recall_at_10
    assert scores["ours"].mrr > scores["like"].mrr
    assert scores["ours"].mrr > scores["char"].mrr
