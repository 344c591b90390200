"""Cache backends behind one interface: memory, Redis, and Redis-with-memory-fallback."""

from rcommerce.cache.base import Cache
from rcommerce.cache.factory import create_cache
from rcommerce.cache.fallback import FallbackCache
from rcommerce.cache.memory import MemoryCache
from rcommerce.cache.redis import RedisCache

__all__ = ["Cache", "FallbackCache", "MemoryCache", "RedisCache", "create_cache"]
