"""Settings of the app's process, made by whichever session runs first."""

from __future__ import annotations

import gc
import sys
import threading

_modules_when_frozen = 0
_lock = threading.Lock()


def freeze_long_lived_objects() -> bool:
    """After a run that imported modules, collect garbage and move every object alive into the collector's
    permanent generation (`gc.freeze`); otherwise nothing. True if it froze now.

    Streamlit runs a full collection after every script run, and it walked every object the imports and the
    reference caches made (about 240k: 150 ms, a third of a need-map rerun) to find none of them garbage. Frozen
    objects are still freed when their last reference goes; only a reference cycle among objects alive at a freeze
    is never collected, which costs at most what one run left behind. Called at the end of each run: the first
    run and the first visit to a page that imports more (charts, reports) freeze; later runs only compare a count.
    """
    global _modules_when_frozen
    with _lock:
        if len(sys.modules) <= _modules_when_frozen:
            return False
        gc.collect()
        gc.freeze()
        _modules_when_frozen = len(sys.modules)
        return True
