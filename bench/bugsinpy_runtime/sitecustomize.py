"""Compatibility shim for old BugsInPy code on Python 3.11 / pytest 7 (loaded at start-up).

It only ADDS attributes that 3.11 removed; nothing present is replaced. Copied onto the
PYTHONPATH of each test run by bench/build_rca_bugsinpy.py (child processes get it too)."""

import asyncio
import base64
import collections
import collections.abc
import inspect
import sys
import threading
import time
import types

for _name in ("Mapping", "MutableMapping", "Sequence", "MutableSequence", "Set", "MutableSet",
              "Iterable", "Iterator", "Callable", "Hashable", "Sized", "Container",
              "Generator", "Awaitable", "Coroutine", "AsyncIterable", "AsyncIterator",
              "KeysView", "ItemsView", "ValuesView", "MappingView", "ByteString"):
    if not hasattr(collections, _name) and hasattr(collections.abc, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

if not hasattr(sys, "setcheckinterval"):
    sys.setcheckinterval = lambda interval: None
if not hasattr(sys, "getcheckinterval"):
    sys.getcheckinterval = lambda: 100
if not hasattr(time, "clock"):
    time.clock = time.perf_counter
if not hasattr(threading.Thread, "isAlive"):
    threading.Thread.isAlive = threading.Thread.is_alive
if not hasattr(base64, "encodestring"):
    base64.encodestring = base64.encodebytes
    base64.decodestring = base64.decodebytes

if not hasattr(inspect, "getargspec"):
    _ArgSpec = collections.namedtuple("ArgSpec", "args varargs keywords defaults")

    def getargspec(func):
        spec = inspect.getfullargspec(func)
        return _ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)

    inspect.getargspec = getargspec
    inspect.ArgSpec = _ArgSpec

if not hasattr(asyncio, "coroutine"):
    def coroutine(func):
        if inspect.iscoroutinefunction(func):
            return func
        if inspect.isgeneratorfunction(func):
            return types.coroutine(func)

        @types.coroutine
        def wrapper(*args, **kwargs):
            res = func(*args, **kwargs)
            if inspect.isawaitable(res) or inspect.isgenerator(res):
                res = yield from res
            return res
        return wrapper

    asyncio.coroutine = coroutine

if not hasattr(asyncio.coroutines, "_DEBUG"):  # aiohttp 3.6 reads it at import
    asyncio.coroutines._DEBUG = False
