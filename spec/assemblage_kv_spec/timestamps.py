"""Time as the log tells it: commit timestamps never go backwards.

The clock is an argument (`now`, int milliseconds since the Unix epoch); the spec never
reads one. Several commits may share a timestamp, so nothing else depends on them.
"""

from .records import MAX_TIMESTAMP, Commit, Log


def latest_timestamp(log: Log) -> int | None:
    """The timestamp of the log's last commit, None for an empty log."""
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
    """A clock reading outside 0..MAX_TIMESTAMP at commit is LimitExceeded."""
    return 0 <= now <= MAX_TIMESTAMP
