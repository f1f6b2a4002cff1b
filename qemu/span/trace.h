#include "trace/trace-span.h"
