"""Merge: the log rewritten to hold only the versions it must keep.

By default, the latest version of each key; `keep_since=S` also keeps every version
committed at or after S and every version a snapshot as of S or later could read (so
`at(T)` for any T >= S reads as before); `keep_last=N` also keeps the last N versions of
each key; both keep the union. Removals are versions like any other.

Each committed transaction, in log order, keeps its kept writes, in their order, under a
commit with the same timestamp (the codec recomputes the CRC). A transaction left with no
writes is dropped, except the last one, kept so that the latest commit timestamp survives.
A merge that drops a version (or a transaction without writes, which only the original
wrote) starts the log with a history mark (history.py): a commit without writes whose
timestamp is the earliest moment from which snapshots read as before (at least the old
mark's, which a merge keeps).

A merge that ran while transactions committed (`merge_during`) merged the log as it
was when it began, and the transactions committed meanwhile follow, whole, as they
were (as Bitcask's merge does).
"""

from .history import horizon, moments
from .records import Commit, Log, Transaction, Write, transactions  # noqa: F401 (contracts)
from .view import index


def _kept(
    log: Log, keep_since: int | None, keep_last: int | None
) -> tuple[frozenset[int], int | None]:
    """The positions of the writes kept, and the history mark of the merged log.

    post: __return__[1] is None or horizon(log) is None or __return__[1] >= horizon(log)
    """
    found, at = transactions(log), moments(log)
    moment_of = {
        t.start + i: moment
        for t, moment in zip(found, at, strict=True)
        for i in range(len(t.writes))
    }
    kept: set[int] = set()
    mark = horizon(log)
    for n in range(0 if mark is None else 1, len(found) - 1):
        if not found[n].writes:  # dropped: until the next one, snapshots would see it last
            mark = at[n + 1] if mark is None else max(mark, at[n + 1])
    for versions in index(log).values():
        for n, version in enumerate(versions):
            later = versions[n + 1 :]
            recent = (
                keep_since is not None
                and bool(later)
                and (version.timestamp >= keep_since or moment_of[later[0].position] > keep_since)
            )
            if not later or (keep_last is not None and len(later) < keep_last) or recent:
                kept.add(version.position)
            else:  # a snapshot before the next version became visible would need it
                needed_until = moment_of[later[0].position]
                mark = needed_until if mark is None else max(mark, needed_until)
    return frozenset(kept), mark


def _one_version_each(log: Log) -> bool:
    return all(len(versions) == 1 for versions in index(log).values())


def merge(log: Log, keep_since: int | None = None, keep_last: int | None = None) -> Log:
    """The merged log: fewer records, the same reads (but fewer versions).

    By default one version per key: its latest (so the same reads). The last commit
    ends the merged log, so the latest commit timestamp survives. Merging again changes
    nothing:

    pre: keep_last is None or keep_last >= 1
    post: index(__return__).keys() == index(log).keys()
    post: (keep_since, keep_last) != (None, None) or _one_version_each(__return__)
    post: all(log[versions[-1].position] in __return__ for versions in index(log).values())
    post: tuple(t.commit for t in transactions(log))[-1:] == __return__[-1:]
    post: merge(__return__, keep_since, keep_last) == __return__
    """
    kept, mark = _kept(log, keep_since, keep_last)
    found = transactions(log)
    if horizon(log) is not None:
        found = found[1:]  # the old mark: the new one replaces it
    survivors = tuple(
        (tuple(w for i, w in enumerate(t.writes) if t.start + i in kept), t.commit) for t in found
    )
    last = len(survivors) - 1
    body = tuple(
        record
        for n, (writes, commit) in enumerate(survivors)
        if writes or n == last
        for record in (*writes, commit)
    )
    return body if mark is None else (Commit(mark), *body)


def merge_during(
    log: Log, at: int, keep_since: int | None = None, keep_last: int | None = None
) -> Log:
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
    return merge(log[:at], keep_since, keep_last) + log[at:]
