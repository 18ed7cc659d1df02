"""strax's processor names, for code that chooses one (``processor='threaded_mailbox'``,
``Context(processors=[...])``, ``strax.PROCESSORS[name](components)``).

superstrax has one way of running a plan: the executor's single stream of chunks in the
calling thread (parallelism is over runs, in worker processes; see parallel/). Every strax
processor name therefore means that one processor. strax's message-passing internals (its
post office, mailboxes and their threads) have no counterpart and are not imitated.
"""
from __future__ import annotations

import logging

from .errors import InvalidArgument
from .executor import Processor

__all__ = ["BaseProcessor", "SingleThreadProcessor", "PROCESSORS", "resolve_processors"]


class BaseProcessor:
    """What a processor is given: the `Components` of st.get_components (a plan, and the
    session it was made in); `iter()` yields the chunks of the components' targets."""

    def __init__(self, components, **kwargs):
        self.log = logging.getLogger(type(self).__name__)
        self.components = components

    def iter(self):
        raise NotImplementedError


class SingleThreadProcessor(BaseProcessor):
    """Runs the plan in the calling thread; savers are closed when the stream ends.

    strax's keyword arguments (allow_rechunk, is_superrun, max_workers, ...) are accepted:
    the plan already says what is rechunked and saved."""

    def __init__(self, components, allow_rechunk=True, is_superrun=False, **kwargs):
        super().__init__(components, **kwargs)
        if getattr(components, "session", None) is None:
            raise InvalidArgument("a processor runs the components of st.get_components(...), "
                                  "which know the context they were planned in")

    def iter(self):
        yield from Processor(self.components.session, self.components.plan)


# strax's names; each means the one processor superstrax has.
PROCESSORS = {
    "default": SingleThreadProcessor,
    "threaded_mailbox": SingleThreadProcessor,
    "single_thread": SingleThreadProcessor,
}


def resolve_processors(processors=None) -> dict:
    """Context(processors=...) as strax reads it: None (all of PROCESSORS), a name, a list of
    names or processor classes, or a mapping of name -> class."""
    if processors is None:
        return dict(PROCESSORS)
    if isinstance(processors, dict):
        return dict(processors)
    if isinstance(processors, str) or (isinstance(processors, type)):
        processors = [processors]
    result = {}
    for p in processors:
        if isinstance(p, str) and p in PROCESSORS:
            result[p] = PROCESSORS[p]
        elif isinstance(p, type) and issubclass(p, BaseProcessor):
            result[p.__name__] = p
        else:
            raise InvalidArgument(f"Unknown processor {p!r}: give one of {sorted(PROCESSORS)} "
                                  f"or a BaseProcessor subclass")
    return result
