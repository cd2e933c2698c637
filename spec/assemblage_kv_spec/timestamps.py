"""Time as the log tells it: commit timestamps never go backwards.

The clock is an argument (`now`, int milliseconds since the Unix epoch); the spec never
reads one. Several commits may share a timestamp, so nothing else depends on them.
"""

from .records import MAX_TIMESTAMP, Commit, Log


def latest_timestamp(log: Log) -> int | None:
    """The timestamp of the log's last commit, None for an empty log.

    None exactly when the log has no commit; otherwise the timestamp of one of its commits
    (the last, even if an earlier one is later), which writes appended after it leave as is:

    post: (__return__ is None) == (not any(isinstance(r, Commit) for r in log))
    post: __return__ is None or Commit(__return__) in log
    post: latest_timestamp((*log, *(r for r in log if not isinstance(r, Commit)))) == __return__
    """
    return next((r.timestamp for r in reversed(log) if isinstance(r, Commit)), None)


def next_timestamp(log: Log, now: int) -> int:
    """max(now, latest commit timestamp): a store whose last commit is in the future keeps
    that timestamp until the clock passes it.

    post: __return__ in (now, latest_timestamp(log))
    post: __return__ >= now
    post: latest_timestamp(log) is None or __return__ >= latest_timestamp(log)
    """
    latest = latest_timestamp(log)
    return now if latest is None else max(now, latest)


def clock_in_range(now: int) -> bool:
    """A clock reading outside 0..MAX_TIMESTAMP at commit is LimitExceeded.

    Exactly the readings that fit the commit's 6 timestamp bytes, 0..2**48-1:

    post: __return__ == (now >= 0 and now.bit_length() <= 48)
    """
    return 0 <= now <= MAX_TIMESTAMP
