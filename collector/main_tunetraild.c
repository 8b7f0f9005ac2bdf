/* Temporary: replaced by the collector daemon. */
#include <stdio.h>
int main(void) { fputs("tunetraild: not built yet\n", stderr); return 1; }
