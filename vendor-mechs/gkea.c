/* gkea.c — placeholder until the mechanism lands. */
#include "vendor.h"

const mech_table mech_table_gkea = {NULL, 0};
