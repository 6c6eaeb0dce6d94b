/* mech_wrap.c — placeholder until the wrap rows land. */
#include "mech.h"

const mech_table mech_table_wrap = {NULL, 0};
