/*
 * strlit.h: the length of a string literal, counted by the compiler, so
 * that a comparison with a fixed string never carries a hand-counted
 * number beside it.
 */
#ifndef HS_COMMON_STRLIT_H
#define HS_COMMON_STRLIT_H

/* Only a literal compiles here: "" s "" joins it with two empty ones. */
#define STRLEN_LIT(s) (sizeof("" s "") - 1)

#endif
