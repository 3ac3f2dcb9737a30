/* main.c — placeholder entry point while the engine is assembled */
#include <stdio.h>
#include "tb.h"
int main(void) { printf("trainbench %s\n", TB_VERSION); return 0; }
