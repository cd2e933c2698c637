"""Merge: the log rewritten to hold only the latest version of each key.

Each committed transaction, in log order, keeps its writes that are the latest version of
their key (removals included: a removed key keeps one removed version), in their order,
under a commit with the same timestamp (the codec recomputes the CRC). A transaction
left with no writes is dropped, except the last one, kept so that the latest commit
timestamp survives.

A merge that ran while transactions committed (`merge_during`) merged the log as it
was when it began, and the transactions committed meanwhile follow, whole, as they
were (as Bitcask's merge does).
"""

from collections.abc import Mapping

from .records import Commit, Log, Transaction, Write, transactions  # noqa: F401 (contracts)
from .view import Key, index


def _kept(transaction: Transaction, latest: Mapping[Key, int]) -> tuple[Write, ...]:
    """The transaction's writes at the position `latest` gives their key, in order.

    At most one write of each key, and only writes of the transaction:

    pre: all((w.slot, w.key) in latest for w in transaction.writes)
    post: len({(w.slot, w.key) for w in __return__}) == len(__return__)
    post: set(__return__) <= set(transaction.writes)
    """
    return tuple(
        w
        for i, w in enumerate(transaction.writes)
        if latest[(w.slot, w.key)] == transaction.start + i
    )


def merge(log: Log) -> Log:
    """The merged log: fewer records, the same reads (but one version per key).

    The same keys, each with one version: its latest (so the same reads). The last commit
    ends the merged log, so the latest commit timestamp survives. Merging again changes
    nothing:

    post: index(__return__).keys() == index(log).keys()
    post: all(len(versions) == 1 for versions in index(__return__).values())
    post: all(log[versions[-1].position] in __return__ for versions in index(log).values())
    post: tuple(t.commit for t in transactions(log))[-1:] == __return__[-1:]
    post: merge(__return__) == __return__
    """
    latest = {key: versions[-1].position for key, versions in index(log).items()}
    survivors = tuple((_kept(t, latest), t.commit) for t in transactions(log))
    last = len(survivors) - 1
    return tuple(
        record
        for n, (writes, commit) in enumerate(survivors)
        if writes or n == last
        for record in (*writes, commit)
    )


def merge_during(log: Log, at: int) -> Log:
    """The log after a merge that began when it held its first `at` records: their
    merge, then the transactions committed during the merge, as they were.

    With nothing committed during it, it is `merge`; merging its result again gives what
    merging the whole log gives:

    pre: 0 <= at <= len(log)
    pre: at == 0 or isinstance(log[at - 1], Commit)
    post: __return__[len(__return__) - (len(log) - at) :] == log[at:]
    post: at < len(log) or __return__ == merge(log)
    post: merge(__return__) == merge(log)
    """
    return merge(log[:at]) + log[at:]
