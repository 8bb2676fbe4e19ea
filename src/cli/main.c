#include <stdio.h>
int main(void) { puts("ddbmig"); return 0; }
