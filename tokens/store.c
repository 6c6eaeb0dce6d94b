/* store.c — placeholder until the store lands. */
#include "tok.h"
