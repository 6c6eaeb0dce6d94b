/* issuer-ki.h — placeholder until the ki issuer side lands. */
#ifndef SOFTSE_ISSUER_KI_H
#define SOFTSE_ISSUER_KI_H
#endif
