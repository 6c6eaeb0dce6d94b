/* entry.c — placeholder until the entry points land. */
#include "p11.h"
