/* keyconv.c — placeholder until key conversions land. */
#include "mech.h"
