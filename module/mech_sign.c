/* mech_sign.c — placeholder until the sign rows land. */
#include "mech.h"

const mech_table mech_table_sign = {NULL, 0};
