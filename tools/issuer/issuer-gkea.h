/* issuer-gkea.h — placeholder until the gkea issuer side lands. */
#ifndef SOFTSE_ISSUER_GKEA_H
#define SOFTSE_ISSUER_GKEA_H
#endif
