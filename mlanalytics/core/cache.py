"""Caching of predictions and aggregates, invalidated when the data under them changes.

Each kind of data has a version number in the cache (tickets, stock, purchasing, models, ...).
Writes bump the version of what they changed; a cached result's key includes the versions of the
data it was computed from, so a changed input simply makes the old entry unreachable. This works
the same on local memory and on Redis shared by several web processes.
"""
import hashlib
import json
import logging

from django.core.cache import cache

from . import metrics

log = logging.getLogger(__name__)

VERSION_TTL = 7 * 24 * 3600  # longer than any cached result, so an expired version never revives old entries
DOMAINS = ("tickets", "stock", "purchasing", "models", "customers", "rules", "messages", "qa", "catalogue", "alerts",
           "triage", "rule_runs")
_stats = {"hits": 0, "misses": 0}


def _version_key(domain):
    return f"data-version:{domain}"


def version(domain):
    value = cache.get(_version_key(domain))
    if value is None:
        cache.add(_version_key(domain), 1, timeout=VERSION_TTL)
        value = cache.get(_version_key(domain)) or 1
    return value


def bump(*domains):
    """Mark data of these domains as changed (call after the write commits, or from on_commit)."""
    for domain in domains:
        try:
            cache.incr(_version_key(domain))
            cache.touch(_version_key(domain), VERSION_TTL)
        except ValueError:
            cache.set(_version_key(domain), 2, timeout=VERSION_TTL)


def bump_on_commit(*domains):
    from django.db import transaction

    transaction.on_commit(lambda: bump(*domains))


def make_key(name, params, domains):
    versions = {d: version(d) for d in sorted(domains)}
    raw = json.dumps({"p": params, "v": versions}, sort_keys=True, default=str)
    return f"result:{name}:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"


def cached(name, params, domains, compute, timeout=6 * 3600):
    """Return compute() from the cache when the inputs are unchanged; compute and store otherwise."""
    return cached_with_status(name, params, domains, compute, timeout)[0]


def cached_with_status(name, params, domains, compute, timeout=6 * 3600):
    """Like cached(), and also says whether the value came from the cache: (value, hit)."""
    key = make_key(name, params, domains)
    value = cache.get(key)
    if value is not None:
        _stats["hits"] += 1
        metrics.record_cache(hit=True)
        return value, True
    _stats["misses"] += 1
    metrics.record_cache(hit=False)
    value = compute()
    cache.set(key, value, timeout)
    return value, False


def stats():
    """Hit/miss counts of this process (the benchmark reports the hit rate from these)."""
    total = _stats["hits"] + _stats["misses"]
    return {**_stats, "hit_rate": (_stats["hits"] / total) if total else None}


def reset_stats():
    _stats["hits"] = _stats["misses"] = 0
