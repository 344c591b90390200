"""Cache backends behind one interface: memory, Redis, and Redis-with-memory-fallback."""

from rcommerce.cache.base import Cache
from rcommerce.cache.memory import MemoryCache

__all__ = ["Cache", "MemoryCache"]
