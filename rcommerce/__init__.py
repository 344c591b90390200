"""rcommerce: a headless commerce platform with a gRPC core, a REST bridge generated from
its protos, and a pluggy plugin host.

Plugin authors import :data:`hookimpl` from here::

    from rcommerce import hookimpl
"""

import pluggy

__version__ = "0.1.0"

#: Marks a plugin function or method as an implementation of an rcommerce hook.
hookimpl = pluggy.HookimplMarker("rcommerce")

__all__ = ["__version__", "hookimpl"]
