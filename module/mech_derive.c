/* mech_derive.c — placeholder until the derive rows land. */
#include "mech.h"

const mech_table mech_table_derive = {NULL, 0};
