/*
 * vendor.c — the rows of SPEC.md's vendor mechanisms (GKEA, KI, SK3).
 * Each protocol registers from its own file as it lands.
 */
#include "mech.h"

const mech_table mech_table_vendor = {NULL, 0};
