/* mech_cipher.c — placeholder until the cipher rows land. */
#include "mech.h"

const mech_table mech_table_cipher = {NULL, 0};
