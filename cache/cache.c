#include "avo_cache.h"
/* Implemented by the cache issue. */
