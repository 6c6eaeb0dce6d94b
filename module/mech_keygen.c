/* mech_keygen.c — placeholder until the keygen rows land. */
#include "mech.h"

const mech_table mech_table_keygen = {NULL, 0};
