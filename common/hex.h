/*
 * hex.h — hexadecimal text and bytes (common/hex.c), for the tools'
 * command lines and the tests' vectors.
 */
#ifndef SOFTSE_HEX_H
#define SOFTSE_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* The value of one hex digit (either case), or -1. */
int se_hex_digit(char c);

/* Strict decoding of text_len characters: an even number of hex digits
 * and nothing else (no spaces, no 0x), at most max bytes into out.
 * False, and *len untouched, when the text is not that. */
bool se_hex_decode(const char *text, size_t text_len, unsigned char *out, size_t max, size_t *len);

/* len bytes as 2 * len lower-case digits and a NUL: out holds 2 * len + 1. */
void se_hex_encode(const unsigned char *in, size_t len, char *out);

#endif
