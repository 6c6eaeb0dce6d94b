/* mech_digest.c — placeholder until the digest rows land. */
#include "mech.h"

const mech_table mech_table_digest = {NULL, 0};
